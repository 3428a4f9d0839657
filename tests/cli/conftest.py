"""The ``persona`` command line, run as a user runs it: ``python -m persona ...`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests import faketime

ROOT = Path(__file__).resolve().parents[2]

Cli = Callable[..., subprocess.CompletedProcess]


def run_persona(*args: str, input: str | None = None, cwd: Path | str = ROOT, pythonpath: Path | str | None = None,
                env: dict[str, str] | None = None, timeout: float = 120,
                at: float | None = None) -> subprocess.CompletedProcess:
    """``persona ARGS`` in a subprocess; ``at``: the epoch its wall clock starts at (a test's fake
    clock's time, through libfaketime), so what the test stored and the command agree on "now"."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    environment.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    if pythonpath is not None:
        environment["PYTHONPATH"] = str(pythonpath)
    environment.update(env or {})
    if at is not None:
        environment.update(faketime.at(at))
    return subprocess.run([sys.executable, "-m", "persona", *args], cwd=str(cwd), input=input,
                          capture_output=True, text=True, encoding="utf-8", env=environment, timeout=timeout)


@pytest.fixture
def cli() -> Cli:
    """``cli("lint", "bots.xiaowanzi")`` → the finished process (stdout, stderr, returncode)."""
    return run_persona
