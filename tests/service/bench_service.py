"""Server CPU per callback: a bare aiohttp handler beside ``persona serve`` on each store.

Run: ``.venv/bin/python tests/service/bench_service.py [N]``. Throughput on a two-core box is
bounded by the Python client, so the figure to compare is the server process's CPU time per
request (user + system, read from /proc), measured in one run. Figures drift between runs;
compare the ratios.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.service.conftest import AES_KEY, APPID, TOKEN, plain, safe, text_xml  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("PERSONA_TEST_REDIS", "redis://127.0.0.1:6379/15")
BARE = """
import sys
from aiohttp import web
XML = "<xml><ToUserName><![CDATA[u]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>"
async def handle(request):
    await request.read()
    return web.Response(text=XML, content_type="application/xml")
app = web.Application()
app.router.add_post("/wechat/{bot}", handle)
app.router.add_get("/healthz", lambda r: web.Response(text="ok"))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(port: int, bot: str, requests: list[tuple[dict[str, str], bytes]], concurrency: int = 32) -> None:
    queue = iter(requests)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            for query, body in queue:
                async with session.post(f"http://127.0.0.1:{port}/wechat/{bot}", params=query, data=body) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def wait_up(port: int) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("server did not start")


async def measure(label: str, argv: list[str], env: dict[str, str], port: int, build, bot: str = "desk") -> None:
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_up(port)
        await load(port, bot, [build(i) for i in range(200)])  # warm up
        requests = [build(i) for i in range(N)]
        before, started = cpu_seconds(proc.pid), time.perf_counter()
        await load(port, bot, requests)
        cpu, wall = cpu_seconds(proc.pid) - before, time.perf_counter() - started
        print(f"{label:<34} {N / wall:8.0f} req/s   server CPU {cpu / N * 1e6:6.0f} µs/request", flush=True)
    finally:
        proc.terminate()
        proc.wait()


def message(i: int, tag: str) -> str:
    return text_xml("hi" if i % 2 else "随便聊聊", msg_id=f"{tag}{i}", sender=f"oBench{tag}{i % 500:05d}")


async def main() -> None:
    base = {**os.environ, "PYTHONPATH": str(ROOT), "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID,
            "WECHAT_APPSECRET": "x", "PERSONA_EVENT_SECRET": "x", "WECHAT_API_BASE": "http://127.0.0.1:9"}
    port = free_port()
    await measure("bare aiohttp handler", [sys.executable, "-c", BARE, str(port)], base, port,
                  lambda i: plain(message(i, "bare")))
    with tempfile.TemporaryDirectory() as tmp:
        for store in ("memory://", f"sqlite:///{tmp}/bench.db", REDIS):
            for mode in ("plain", "safe"):
                name = f"desk{uuid.uuid4().hex[:6]}"
                env = {**base, "PERSONA_TEST_DESK_NAME": name}
                if mode == "safe":
                    env["WECHAT_AES_KEY"] = AES_KEY
                port = free_port()
                argv = [sys.executable, "-m", "persona", "serve", "tests.service.desk", "--host", "127.0.0.1",
                        "--port", str(port), "--store", store, "--no-delivery", "--no-scheduler"]
                wrap = plain if mode == "plain" else safe
                tag = uuid.uuid4().hex[:6]
                await measure(f"persona serve {store.split(':')[0]:<6} {mode}", argv, env, port,
                              lambda i, wrap=wrap, tag=tag: wrap(message(i, tag)), name)
                if store.startswith("redis"):
                    from tests.conftest import drop_namespace
                    await drop_namespace(REDIS, name)


N = int(sys.argv[1]) if len(sys.argv) > 1 else 4000

if __name__ == "__main__":
    asyncio.run(main())
