"""The tallies role: named counters a turn moves in its own commit.

``persona_customers{state}`` and the funnel must be right without scanning millions of
customers, and right however many processes commit at once: so the counters move in the same
atomic write as the customer record they describe (``Commit.tallies``), never beside it. A
crash can therefore not leave a customer counted in a state it is not in.
"""

from __future__ import annotations

import abc


class Tallies(abc.ABC):
    """Counters moved by commits (``Commit.tallies``: name -> delta), read by prefix."""

    @abc.abstractmethod
    async def tallies(self, prefix: str = "") -> dict[str, int]:
        """Every counter whose name starts with ``prefix``, as ``name -> value``."""

    @abc.abstractmethod
    async def reset_tallies(self, prefix: str, values: dict[str, int]) -> None:
        """Replace every counter under ``prefix`` by ``values`` (a recount from a full scan).

        Not atomic with concurrent commits on every backend: run it when the counters are
        known to be missing (a store written before they existed), not as routine repair.
        """
