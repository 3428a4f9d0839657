"""A subprocess whose wall clock agrees with a test's fake clock, through libfaketime.

A test that builds customers on ``FakeClock("2026-11-01 09:00")`` and then runs ``persona
migrate`` (or any command) in a subprocess must run that subprocess at the fake time too, or
the two clocks meet: a timer "due in 20 days" is already past on the day the suite runs.
:func:`at` gives the environment that starts the subprocess's clock at the fake clock's time
(it then ticks as usual); the whole suite can itself run under ``faketime`` a year ahead or
back, and the subprocess still gets the test's time.
"""

from __future__ import annotations

import glob
import os

import pytest

_CANDIDATES = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")) + sorted(
    glob.glob("/usr/local/lib/faketime/libfaketime.so.1"))
LIBRARY = _CANDIDATES[0] if _CANDIDATES else None

#: For a test that needs :func:`at`: skipped where libfaketime is not installed (Debian
#: ``faketime``; ``.ci/run`` installs it).
needs_faketime = pytest.mark.skipif(LIBRARY is None, reason="libfaketime is not installed (apt-get install faketime)")


def at(when: float) -> dict[str, str]:
    """Environment variables that start a subprocess's wall clock at epoch ``when``.

    The monotonic clock is moved by the same offset (libfaketime's sleeps need that), so
    timeouts and asyncio keep their real length.
    """
    if LIBRARY is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    return {"LD_PRELOAD": LIBRARY, "FAKETIME": f"@{int(when)}", "FAKETIME_FMT": "%s",
            # a suite run under ``faketime`` shares its clock with children: this one has its own
            "FAKETIME_DISABLE_SHM": "1", "TZ": os.environ.get("TZ", "UTC")}


def wall_clock() -> dict[str, str]:
    """This process's environment without libfaketime, for the servers a test starts (Redis):
    they keep the real clock whatever the suite runs at (and Redis' allocator does not load
    beside libfaketime)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("FAKETIME") and not (k == "LD_PRELOAD" and "faketime" in v)}
