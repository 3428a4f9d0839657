"""Changing a live bot safely: migrations of stored customers onto a persona's current shape.

``spec`` declares them (on the persona), ``upgrade`` moves one customer inside a turn's
commit, ``shape`` keeps the store's record of the shape its customers are in (``persona
serve`` refuses to start when nothing covers a difference), ``plan`` runs a dry run or an
apply over every customer.
"""

from __future__ import annotations

from ..model.migrations import Late, Migration, follow

__all__ = ["Late", "Migration", "follow"]
