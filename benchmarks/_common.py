"""What the benchmarks share: processes pinned to cores, a private Redis, signed callbacks, load.

The machine the targets were set on has two cores: the process being measured gets core 0,
the load generator and Redis share core 1 (``taskset``; skipped where it is missing or there
is one core). Every figure that matters is a ratio of two measurements taken in the same run.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Tencent's published sample keys (WXBizMsgCrypt): never real credentials
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"
ACCOUNT = "gh_10f6c3c3ac5a"

SERVER_CPU = 0
LOAD_CPU = 1


# -- processes ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int | None) -> list[str]:
    """The ``taskset`` prefix that keeps a process on ``cpu`` (nothing if that is impossible)."""
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(cpu % (os.cpu_count() or 1))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """:func:`cpu_seconds` of ``pid`` and every process below it (``persona serve --workers``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return sum(cpu_seconds(p) for p in tree)


def env(**extra: str) -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    out.update(extra)
    return out


def spawn(argv: Sequence[str], *, cpu: int | None = None, environ: dict[str, str] | None = None,
          log: Path | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "wb") if log is not None else subprocess.DEVNULL
    return subprocess.Popen([*pinned(cpu), *argv], cwd=ROOT, env=environ or env(), stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    """Wait until ``url`` answers at all (any status)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _real_clock() -> dict[str, str]:
    """The environment without libfaketime (a suite run at a faked date): Redis keeps real time."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("FAKETIME") and not (k == "LD_PRELOAD" and "faketime" in v)}


class RedisServer:
    """A private ``redis-server`` on a free loopback port, keeping nothing on disk."""

    def __init__(self, *, cpu: int | None = LOAD_CPU, args: Sequence[str] = ()) -> None:
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not installed (apt-get install redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="persona-bench-redis-")
        self.proc = subprocess.Popen(
            [*pinned(cpu), "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
             "--loglevel", "warning", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=_real_clock())
        deadline = time.monotonic() + 10
        while not self.ping():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def cli(self, *args: str) -> str:
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, env=_real_clock(),
                              text=True, timeout=120).stdout

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def used_memory(self) -> int:
        for line in self.cli("INFO", "memory").splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])
        raise RuntimeError("INFO memory has no used_memory")

    def close(self) -> None:
        stop(self.proc, timeout=10)  # type: ignore[arg-type]
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- callbacks as WeChat builds them -------------------------------------------------------------

def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def text_xml(sender: str, content: str, msg_id: int, created: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created or int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


class Callbacks:
    """Signed callbacks for one account: ``safe`` (AES, msg_signature) or ``plain``."""

    def __init__(self, token: str = TOKEN, aes_key: str = AES_KEY, appid: str = APPID) -> None:
        from wechatpy.crypto import PrpCrypto

        self.token, self.appid = token, appid
        self._prp = PrpCrypto(base64.b64decode(aes_key + "="))

    def safe(self, xml: str, nonce: str, ts: int | None = None) -> tuple[str, bytes]:
        """``(query string, body)`` of a safe-mode callback, sealed the way WeChat seals it."""
        ts = ts or int(time.time())
        encrypt = self._prp.encrypt(xml, self.appid).decode()
        query = (f"signature={sign(self.token, str(ts), nonce)}&timestamp={ts}&nonce={nonce}"
                 f"&openid=o&encrypt_type=aes&msg_signature={sign(self.token, str(ts), nonce, encrypt)}")
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return query, body.encode()

    def plain(self, xml: str, nonce: str, ts: int | None = None) -> tuple[str, bytes]:
        ts = ts or int(time.time())
        return f"signature={sign(self.token, str(ts), nonce)}&timestamp={ts}&nonce={nonce}&openid=o", xml.encode()

    def open_reply(self, body: str) -> str:
        """Check a safe-mode reply's signature and decrypt it (what WeChat does with it)."""
        import re

        fields = dict(re.findall(r"<(Encrypt|MsgSignature|TimeStamp|Nonce)>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</\1>", body))
        assert sign(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]) == fields["MsgSignature"]
        return str(self._prp.decrypt(fields["Encrypt"], self.appid))


def customer_id(i: int, tag: str = "") -> str:
    """An openid-shaped customer id (28 characters, like WeChat's)."""
    return f"o{tag}{i:0{27 - len(tag)}d}"


# -- load ----------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Pre-built POSTs, one per line of the file given after "--": path<TAB>body.
-- Thread k of n takes lines k, k+n, ...; a thread that runs out starts over (counted as wraps).
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local n = tonumber(args[2])
  reqs = {}
  local line_no = 0
  for line in io.lines(args[1]) do
    if line_no % n == tid then
      local tab = string.find(line, "\t", 1, true)
      local path, body = string.sub(line, 1, tab - 1), string.sub(line, tab + 1)
      table.insert(reqs, wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body))
    end
    line_no = line_no + 1
  end
  i = 0
  wraps = 0
end
function request()
  i = i + 1
  if i > #reqs then i = 1; wraps = wraps + 1 end
  return reqs[i]
end
function done(summary, latency, requests)
  local wrapped = 0
  for _, t in ipairs(threads) do wrapped = wrapped + (t:get("wraps") or 0) end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,' ..
    '"timeouts":%d,"p50_us":%d,"p99_us":%d,"wraps":%d}\n', summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write, e.timeout, latency:percentile(50), latency:percentile(99), wrapped))
end
"""


def write_requests(path: Path, requests: Sequence[tuple[str, bytes]]) -> None:
    """One request per line: ``path?query<TAB>body`` (bodies are single-line XML)."""
    with open(path, "wb") as f:
        for target, body in requests:
            assert b"\n" not in body and b"\t" not in body
            f.write(target.encode() + b"\t" + body + b"\n")


def load(base_url: str, request_file: Path, *, seconds: float, connections: int = 32,
         threads: int = 1, cpu: int | None = LOAD_CPU) -> dict[str, Any]:
    """Drive ``base_url`` with the requests in ``request_file`` for ``seconds``.

    wrk when installed (unless ``PERSONA_BENCH_LOADGEN=aiohttp``), else an aiohttp client in
    another process; both report requests/s, errors and latency percentiles the same way.
    """
    if shutil.which("wrk") and os.environ.get("PERSONA_BENCH_LOADGEN") != "aiohttp":
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(WRK_SCRIPT)
            script = f.name
        try:
            argv = [*pinned(cpu), "wrk", "-t", str(threads), "-c", str(max(connections, threads)),
                    "-d", f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", script, base_url,
                    "--", str(request_file), str(threads)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        finally:
            os.unlink(script)
        tool = "wrk"
    else:
        argv = [*pinned(cpu), PYTHON, "-m", "benchmarks._loadgen", base_url, str(request_file),
                str(seconds), str(connections)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, cwd=ROOT, env=env())
        tool = "aiohttp client"
    line = next((l for l in done.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"{tool} failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line[len("WRKJSON "):])
    result["tool"] = tool
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    errors = result["status_errors"] + result["socket_errors"] + result["timeouts"]
    if errors > max(3, result["requests"] * 0.01):
        raise RuntimeError(f"{base_url}: {errors} of {result['requests']} requests failed ({tool}); "
                           "the figures would mean nothing")
    return result


def measured(label: str, result: dict[str, Any], cpu: float | None = None) -> str:
    """One line of figures for a load run (``cpu``: the server's CPU seconds during it)."""
    extra = ""
    if cpu is not None and result["requests"]:
        extra = f"  server CPU {cpu / result['requests'] * 1e6:6.0f} µs/req"
    errors = result["status_errors"] + result["socket_errors"] + result["timeouts"]
    return (f"{label:<40} {result['rps']:9.0f} req/s  p50 {result['p50_us'] / 1000:6.1f} ms"
            f"  p99 {result['p99_us'] / 1000:6.1f} ms  errors {errors}{extra}")


# -- output --------------------------------------------------------------------------------------

def verdict(name: str, value: float, target: float, *, at_most: bool = False, unit: str = "×") -> str:
    met = value <= target if at_most else value >= target
    sign_ = "≤" if at_most else "≥"
    return f"{name}: {value:.2f}{unit} (target {sign_} {target:g}{unit}) {'MET' if met else 'MISSED'}"


def header(title: str) -> None:
    print(f"== {title} ==", flush=True)


@contextmanager
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="persona-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def unique() -> str:
    return uuid.uuid4().hex[:8]
