"""The runtime's half of a handover: what only the store can say.

A handler (or the handoff words) begins a handover inside the turn (:func:`persona.model.handoff.begin`);
before the turn commits, the runtime finishes it here with two reads: the duty list's rotation
for today (how many handovers each agent has taken, moved by the same commits: see
:func:`persona.engine.quality.moves`), so a customer with no staff member of their own goes to
whoever's turn it is, and the customer's last lines from the journal, for the staff member's
notification. Both are reads beside the atomic turn: two handovers at the same instant may
pick the same agent, and the next one evens it out.
"""

from __future__ import annotations

import json

from ..model.handoff import tell
from ..model.staffing import RECENT_LINES
from ..model.turn import Turn
from ..store.base import Store
from . import census
from .quality import ROTATION
from .desk import customer_lines

#: journal lines read back for the customer's last words (bot lines and notes sit between them)
LOOKBACK = 40


def rotation_prefix(now: float, tz: str) -> str:
    """The tallies of the day's rotation: ``<prefix><agent>`` -> handovers taken."""
    return f"{ROTATION}{census.day_of(now, tz)}:"


async def complete(turn: Turn, store: Store) -> None:
    """Assign and tell the handover this turn began, if any (raises ``StoreUnavailable``: the
    turn is retried like any other that cannot read its store)."""
    pending, spec, held = turn.handover, turn.persona.staffing, turn.customer.handoff
    if pending is None or spec is None or held is None:
        return
    taken: dict[str, int] = {}
    if held.agent is None and spec.agents:
        prefix = rotation_prefix(turn.now, turn.persona.timezone)
        taken = {name[len(prefix):]: n for name, n in (await store.tallies(prefix)).items()}
    recent: list[str] = []
    if spec.notify and not pending.quiet:
        lines = [*map(_parse, await store.journal(turn.customer.id, LOOKBACK)), *turn.notes]
        recent = customer_lines(lines)[-RECENT_LINES:]
    tell(turn, taken, recent)


def _parse(raw: str) -> dict[str, object]:
    note = json.loads(raw)
    return note if isinstance(note, dict) else {}
