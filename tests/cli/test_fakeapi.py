"""``persona fakeapi``: the fake WeChat / WeCom API as a server, run as a user runs it."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from tests.cli.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``persona fakeapi ...`` in a subprocess; its stdout read line by line in a thread."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "WECOM_"))}
        environment.update({"PYTHONIOENCODING": "utf-8", **(env or {})})
        self.proc = subprocess.Popen([sys.executable, "-m", "persona", "fakeapi", *args], cwd=ROOT,
                                     env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8")
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def read_until(self, needle: str, timeout: float = 30) -> list[str]:
        """Lines printed until one contains ``needle`` (fails after ``timeout`` seconds)."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            seen.append(line)
            if needle in line:
                return seen
        raise AssertionError(f"{needle!r} not printed within {timeout}s; got {seen!r}")

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        return self.finish()

    def finish(self) -> tuple[int, str]:
        """Wait for the exit; the exit code and what went to stderr."""
        returncode = self.proc.wait(timeout=60)
        assert self.proc.stderr is not None
        return returncode, self.proc.stderr.read()


def call(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as answer:
        return json.loads(answer.read())


def test_it_serves_the_send_apis_prints_what_it_accepts_and_stops_on_sigint():
    port = free_port()
    server = Server("--port", str(port), env={"WECHAT_APPID": "wx_clinic", "WECHAT_APPSECRET": "s3cret"})
    try:
        banner = server.read_until("WECOM_AGENTID=")
        base = f"http://127.0.0.1:{port}"
        assert f"  export WECHAT_API_BASE={base} WECOM_API_BASE={base}" in banner
        assert "  export WECHAT_APPID=wx_clinic WECHAT_APPSECRET=s3cret" in banner  # the bot's own credentials

        refused = call(f"{base}/cgi-bin/token?grant_type=client_credential&appid=wx_clinic&secret=wrong")
        assert refused["errcode"] == 40125
        token = call(f"{base}/cgi-bin/token?grant_type=client_credential&appid=wx_clinic&secret=s3cret")
        assert token["expires_in"] == 7200
        sent = call(f"{base}/cgi-bin/message/custom/send?access_token={token['access_token']}",
                    {"touser": "o_amy", "msgtype": "text", "text": {"content": "明天上午十点的复诊别忘了"}})
        assert sent["errcode"] == 0
        assert server.read_until("o_amy")[-1].endswith("custom to o_amy (text): 明天上午十点的复诊别忘了")
        listed = call(f"{base}/fake/messages")["messages"]
        assert [(m["api"], m["to"], m["text"]) for m in listed] == [("custom", "o_amy", "明天上午十点的复诊别忘了")]
    finally:
        returncode, err = server.stop()
    assert returncode == 0, err
    assert "1 message(s) accepted" in err


def test_a_port_already_taken_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        returncode, err = Server("--port", str(port)).finish()
    assert returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err
