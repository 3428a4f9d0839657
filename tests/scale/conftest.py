"""Fixtures for scale-out tests: a throwaway Redis Cluster (three masters on loopback ports)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests import faketime


def free_cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 55000:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _cli(port: int, *args: str, timeout: float = 30) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                          timeout=timeout, env=faketime.wall_clock()).stdout


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[str]:
    """``redis+cluster://127.0.0.1:P1``: three masters, no replicas, nothing kept on disk."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server / redis-cli are not installed: no Redis Cluster to test against")
    folder = Path(tempfile.mkdtemp(prefix="persona-cluster-"))
    ports: list[int] = []
    try:
        for _ in range(3):
            port = free_cluster_port()
            ports.append(port)
            subprocess.run(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(folder / f"nodes-{port}.conf"), "--cluster-node-timeout", "5000",
                 "--save", "", "--appendonly", "no", "--dir", str(folder), "--daemonize", "yes",
                 "--pidfile", str(folder / f"{port}.pid"), "--logfile", str(folder / f"{port}.log")],
                check=True, timeout=30, env=faketime.wall_clock())
        for port in ports:
            deadline = time.monotonic() + 10
            while "PONG" not in _cli(port, "ping", timeout=5):
                assert time.monotonic() < deadline, f"cluster node {port} did not start"
                time.sleep(0.05)
        created = subprocess.run(["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                                  "--cluster-replicas", "0", "--cluster-yes"], env=faketime.wall_clock(),
                                 capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stdout + created.stderr
        deadline = time.monotonic() + 30
        while not all("cluster_state:ok" in _cli(p, "cluster", "info") for p in ports):
            assert time.monotonic() < deadline, "the cluster never reached cluster_state:ok"
            time.sleep(0.1)
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for port in ports:
            pidfile = folder / f"{port}.pid"
            _cli(port, "shutdown", "nosave", timeout=10)
            deadline = time.monotonic() + 10
            while pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(folder, ignore_errors=True)
