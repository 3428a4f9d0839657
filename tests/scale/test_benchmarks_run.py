"""Each benchmark runs, at its tiniest, and ends with its ratio lines.

The figures of a ``--quick`` run mean nothing (and nothing here checks them against the
targets): this only proves that ``python -m benchmarks.<name>`` still works end to end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name,last", [
    ("callback", "persona / bare aiohttp"),
    ("timers", "claim cost"),
    ("memory", "persona / bare HASH"),
    ("growth", "requests/s"),
    ("broadcast", "rate at"),
    ("stages", "persona / wechatpy"),  # no target: a breakdown
    ("servepath", "parse stage in the server"),  # no target: a breakdown
    ("compiled", "source / compiled"),  # no target: each module's gain
])
def test_benchmark_runs_at_a_tiny_size(name, last):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: the benchmarks start a private one")
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{name}", "--quick"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=110)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert any(line.startswith(last) for line in lines[-6:]), done.stdout
    if name not in ("stages", "servepath", "compiled"):
        assert lines[-1].endswith(("MET", "MISSED")), done.stdout
