"""Where customers come from: attribution at first touch, the per-channel tallies, and which
staff member's code a visitor of a channel's landing sees.

**Attribution.** A customer who arrives — adds a WeCom staff member (the contact way's
``State``) or follows the Official Account from a QR code (``qrscene_<scene>``) — is credited
to that channel in ``attrs.channel`` (and ``attrs.channel_at``), and keeps it: a later code
scanned does not take the credit. Codes made elsewhere count too; their state is the channel.

**Tallies.** The arrival's commit moves, per local day, ``added`` per channel and staff member,
``welcomed`` per channel (the arrival turn said something the gate let through) and, for every
state an attributed customer enters later, ``entered`` per channel: the funnel by channel is
one read, right for any number of processes.

**Assignment.** The landing hands a channel's visitors the code of the staff member whose turn
it is — round-robin over a counter in the store, or the one with the fewest adds today — skipping
any member whose adds today (over every channel) reached the code's cap. When all have, it
answers that today's places are taken (:data:`FULL`) rather than overload anyone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..model.customer import Customer
from ..model.inputs import ADD_EVENTS, Input, PlatformEvent
from ..model.persona import Persona
from ..store.base import Store
from . import census
from .codes import ChannelCode, Platform, Rule

ACQ = "acq:"
ADDED = f"{ACQ}added:"        # <day>:<staff>:<channel>
WELCOMED = f"{ACQ}welcomed:"  # <day>:<channel>
ENTERED = f"{ACQ}entered:"    # <day>:<state>:<channel>
TURN = "acquisition:turn:"     # a channel's round-robin counter (key-value), per day
ARRIVALS = ADD_EVENTS | {"subscribe"}
FULL = None  # what :func:`pick` answers when every staff member is at the cap


def attribute(customer: Customer, inp: Input, now: float) -> str | None:
    """Credit the customer to the channel they arrived through, once; the channel newly credited."""
    if not isinstance(inp, PlatformEvent) or inp.name not in ARRIVALS or not inp.key:
        return None
    if customer.attrs.get("channel"):
        return None  # the first touch keeps the credit
    channel = inp.key.removeprefix("qrscene_")
    if not channel:
        return None
    customer.attrs["channel"] = channel
    customer.attrs["channel_at"] = now
    return channel


def moves(notes: Iterable[Mapping[str, Any]], entered: list[str], customer: Customer, greeted: bool,
          now: float, tz: str) -> dict[str, int]:
    """The acquisition tallies one committed turn moves."""
    out: Counter[str] = Counter()
    day = census.day_of(now, tz)
    channel = customer.attrs.get("channel")
    for note in notes:
        if note.get("k") == "channel":
            out[f"{ADDED}{day}:{note.get('staff') or ''}:{note['channel']}"] += 1
            if greeted:
                out[f"{WELCOMED}{day}:{note['channel']}"] += 1
    if isinstance(channel, str) and channel:
        for state in entered:
            out[f"{ENTERED}{day}:{state}:{channel}"] += 1
    return dict(out)


async def added_today(store: Store, now: float, tz: str) -> Counter[str]:
    """Adds per staff member today, over every channel."""
    prefix = f"{ADDED}{census.day_of(now, tz)}:"
    taken: Counter[str] = Counter()
    for name, n in (await store.tallies(prefix)).items():
        staff, _, _ = name[len(prefix):].partition(":")
        taken[staff] += n
    return taken


async def pick(store: Store, code: ChannelCode, now: float, tz: str) -> str | None:
    """The staff member whose code this visitor sees, or :data:`FULL`."""
    if code.platform is not Platform.WECOM or not code.staff:
        return None
    taken = await added_today(store, now, tz)
    names = [s.staff for s in code.staff]
    open_ = [n for n in names if taken[n] < code.cap]
    if not open_:
        return FULL
    if code.rule is Rule.FEWEST:
        return min(open_, key=lambda n: (taken[n], names.index(n)))
    day = census.day_of(now, tz)
    turn = await store.incr(f"{TURN}{code.channel}:{day}", ttl=2 * 86400)
    start = (turn - 1) % len(names)
    return next(n for n in names[start:] + names[:start] if n in open_)


@dataclass(frozen=True)
class ChannelFigures:
    """One channel over a window: customers added (by staff member), welcomed, converted."""

    channel: str
    added: int = 0
    welcomed: int = 0
    converted: int = 0
    staff: dict[str, int] = field(default_factory=dict)
    entered: dict[str, int] = field(default_factory=dict)  # state -> entries by its customers

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "added": self.added, "welcomed": self.welcomed,
                "converted": self.converted, "staff": self.staff, "entered": self.entered}


def goal(persona: type[Persona]) -> str | None:
    """The state whose entry counts as converted: ``Persona.converted``, else the last state."""
    return persona.converted or (persona.states[-1] if persona.states else None)


async def by_channel(store: Store, converted: str | None, since: str | None = None) -> list[ChannelFigures]:
    """The funnel by channel from the tallies (one read), for days from ``since`` (YYYYMMDD) on;
    ``converted`` is the state whose entry counts as a conversion. Most added first."""
    added: dict[str, Counter[str]] = {}
    welcomed: Counter[str] = Counter()
    entered: dict[str, Counter[str]] = {}
    for name, n in (await store.tallies(ACQ)).items():
        kind, _, rest = name[len(ACQ):].partition(":")
        day, _, rest = rest.partition(":")
        if since is not None and day < since:
            continue
        if kind == "added":
            staff, _, channel = rest.partition(":")
            added.setdefault(channel, Counter())[staff] += n
        elif kind == "welcomed":
            welcomed[rest] += n
        elif kind == "entered":
            state, _, channel = rest.partition(":")
            entered.setdefault(channel, Counter())[state] += n
    channels = set(added) | set(welcomed) | set(entered)
    rows = [ChannelFigures(c, sum(added.get(c, Counter()).values()), welcomed[c],
                           entered.get(c, Counter())[converted] if converted else 0,
                           {s: k for s, k in sorted(added.get(c, Counter()).items()) if s},
                           dict(entered.get(c, Counter()))) for c in channels]
    return sorted(rows, key=lambda r: (-r.added, r.channel))
