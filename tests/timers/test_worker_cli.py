"""``persona worker`` as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def persona(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "persona", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_worker_help_and_a_bot_that_does_not_load():
    assert persona("worker", "--help").returncode == 0
    bad = persona("worker", "bots.no_such_bot", "--store", "memory://")
    assert bad.returncode == 2 and "no_such_bot" in bad.stderr


def test_worker_stops_cleanly_on_sigterm(tmp_path):
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "persona", "worker", "bots.xiaowanzi", "--store",
                             f"sqlite:///{tmp_path}/p.db"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # signal handlers are installed before this line is logged
        if "worker for xiaowanzi" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
