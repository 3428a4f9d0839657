"""Moving one customer onto the persona's current shape, inside a turn.

The runtime calls :func:`upgrade` on every turn before the handler runs (a no-op for a
customer already at the persona's generation), and ``persona migrate --apply`` calls it
through :meth:`~persona.engine.runtime.Runtime.amend`: either way the change is part of one
version-checked commit, so a customer migrated by the tool while a callback is being handled
ends in one consistent state, whichever commits first. A customer whose state or timer no
migration covers is left untouched (and reported), never half-moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..model.customer import Customer, Timer
from ..model.inputs import Input
from ..model.migrations import Late, follow

if TYPE_CHECKING:
    from ..model.turn import Turn


@dataclass(frozen=True, slots=True)
class Amendment(Input):
    """The input of a turn that only migrates the customer (``persona migrate --apply``)."""

    kind = "migrate"

    @property
    def inbound(self) -> bool:
        return False


@dataclass
class Change:
    """What migrating one customer did (or, in a dry run, would do)."""

    user: str
    state: tuple[str, str]
    renamed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    armed: list[str] = field(default_factory=list)
    late_skipped: list[str] = field(default_factory=list)  # backfills whose moment had passed: not armed
    late_fired: list[str] = field(default_factory=list)  # ... armed to fire at once (Late.FIRE)
    attrs: list[tuple[str, str]] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)  # "state X" / "timer Y": nothing was changed

    def note(self, generation: tuple[int, int]) -> dict[str, object]:
        """The journal line's fields."""
        return {"from": generation[0], "to": generation[1],
                "state": list(self.state) if self.state[0] != self.state[1] else None,
                "renamed": [list(r) for r in self.renamed] or None, "cancelled": self.cancelled or None,
                "armed": self.armed or None, "late_skipped": self.late_skipped or None,
                "late_fired": self.late_fired or None, "attrs": [list(a) for a in self.attrs] or None}


def strays(turn: "Turn") -> Change | None:
    """For a customer already at the persona's generation: a state or timers the persona does
    not have (a version deployed without the migration it needed), as an uncovered change."""
    cls = type(turn.persona)
    customer = turn.customer
    found = [f"state {customer.state}"] if customer.state not in cls.states else []
    found += [f"timer {name}" for name in customer.timers if name not in cls.routes.timer]
    return Change(customer.id, (customer.state, customer.state), uncovered=found) if found else None


def upgrade(turn: "Turn", late: Late | None = None) -> Change | None:
    """Apply the persona's migrations the customer has not been through; None when current.

    ``late`` overrides each migration's own :attr:`~persona.migrate.Migration.late` (``persona
    migrate --past-due``)."""
    cls = type(turn.persona)
    customer = turn.customer
    target = len(cls.migrations)
    if customer.generation >= target:
        return None
    steps = list(cls.migrations)[customer.generation:]
    new_state = follow(steps, "states", customer.state)
    change = Change(customer.id, (customer.state, new_state or customer.state))
    if new_state not in cls.states:
        change.uncovered.append(f"state {customer.state}")
    moves: dict[str, str | None] = {}
    for name in customer.timers:
        moved = follow(steps, "timers", name)
        if moved is not None and moved not in cls.routes.timer:
            change.uncovered.append(f"timer {name}")
        moves[name] = moved
    if change.uncovered:
        turn.note("migrate_uncovered", generation=customer.generation, uncovered=change.uncovered)
        return change
    before = customer.generation
    customer.state = change.state[1]
    _move_timers(turn, steps, moves, change)
    for old in list(customer.attrs):
        new = follow(steps, "attrs", old)
        if new is not None and new != old:
            value = customer.attrs.pop(old)
            customer.attrs.setdefault(new, value)
            change.attrs.append((old, new))
    backfills = {name: Late(late or step.late) for step in steps for name in step.backfill}
    _backfill(turn, backfills, change)
    customer.generation = target
    turn.note("migrated", **change.note((before, target)))
    return change


def _move_timers(turn: "Turn", steps: list[Any], moves: dict[str, str | None], change: Change) -> None:
    customer = turn.customer
    for name, moved in moves.items():
        timer = customer.timers[name]
        bound = follow(steps, "states", timer.state) if timer.state is not None else None
        if moved is None or (moved != name and moved in customer.timers):
            turn.cancel(name)
            change.cancelled.append(name)
            continue
        if moved != name:
            turn.cancel(name)
            change.renamed.append((name, moved))
        elif bound == timer.state:
            continue
        customer.timers[moved] = Timer(timer.due, bound, timer.data)
        turn.timers_set[moved] = timer.due
        turn.timers_del.discard(moved)


def _backfill(turn: "Turn", names: dict[str, Late], change: Change) -> None:
    """Arm newly declared one-shot timers for a customer already past their arming point."""
    cls = type(turn.persona)
    customer: Customer = turn.customer
    for name, late in names.items():
        spec = cls.timer_specs[name]
        if name in customer.timers or (spec.state is not None and spec.state != customer.state):
            continue
        if customer.opted_out and not spec.service:
            continue
        joined = customer.first_seen or turn.now
        due = spec.moment(customer, turn.tz, joined, turn.now)
        if due is None:
            continue
        if due <= turn.now:
            if late is Late.SKIP:
                change.late_skipped.append(name)
                continue
            change.late_fired.append(name)
            due = turn.now
        else:
            change.armed.append(name)
        customer.timers[name] = Timer(due, spec.state)
        turn.timers_set[name] = due
