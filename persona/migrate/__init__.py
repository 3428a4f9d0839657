"""Changing a live bot safely: migrations of stored customers onto a persona's current shape.

A persona declares them with :class:`Migration` (:mod:`persona.model.migrations`, imported
here so ``from persona.migrate import Migration`` keeps working); the engine moves one customer
inside a turn's commit (:mod:`persona.engine.upgrade`). Here are the tools around them: ``shape``
keeps the store's record of the shape its customers are in (``persona serve`` refuses to start
when nothing covers a difference), ``plan`` runs a dry run or an apply over every customer,
``replay`` re-runs a customer's journaled inputs against the bot as it is now, ``funnel`` reads
the entries per state the commits keep.

A tool: may import the engine and every room below.
"""

from __future__ import annotations

from ..model.migrations import Late, Migration, follow

__all__ = ["Late", "Migration", "follow"]
