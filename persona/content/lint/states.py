"""Sets of state names, as both readers narrow them: the states a line of a script or of a
handler can run in. ``None`` stands for "any state" so that a reader that cannot tell never
narrows, and a check that cannot tell never reports.
"""

from __future__ import annotations

from typing import Iterable

#: a set of state names; None means any state
States = frozenset[str] | None


def meet(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    """The states in all of ``sets`` (none when there are no sets)."""
    result: frozenset[str] | None = None
    for s in sets:
        result = s if result is None else result & s
    return result or frozenset()


def join(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    """The states in any of ``sets``."""
    result: frozenset[str] = frozenset()
    for s in sets:
        result |= s
    return result


def narrow(states: States, other: frozenset[str]) -> States:
    """``states`` where ``other`` also holds."""
    return other if states is None else states & other
