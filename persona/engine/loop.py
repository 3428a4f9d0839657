"""The event loop of the long-running commands: ``serve``, its workers, ``worker`` and
``broadcast``.

uvloop where the platform has it (a dependency everywhere but Windows), the standard loop
elsewhere: every request, timer and broadcast turn is a few dozen loop callbacks, and uvloop
runs them in C.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Coroutine, TypeVar

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on uvloop, or on asyncio's loop without it."""
    # The loop runs outside the except block: otherwise every traceback logged while running
    # would start with the ImportError ("During handling of the above exception...")
    run: Callable[[Coroutine[Any, Any, T]], T] = asyncio.run
    try:
        import uvloop
        run = uvloop.run
    except ImportError:
        pass
    return run(main)
