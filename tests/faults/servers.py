"""Servers a fault test owns, so it can kill, freeze, fill or demote them."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from tests import faketime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DurableRedis:
    """A redis-server on a fixed port and folder that can be killed and started again."""

    def __init__(self, folder: Path, *options: str) -> None:
        """``options``: more of redis-server's own (``--maxmemory``, ``2mb``, ...)."""
        self.folder, self.port, self.options = folder, free_port(), options
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=faketime.wall_clock())
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"
