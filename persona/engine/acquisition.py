"""Where customers come from: attribution at first touch, the per-channel tallies, and which
staff member's code a visitor of a channel's landing sees.

**Attribution.** A customer who arrives — adds a WeCom staff member (the contact way's
``State``) or follows the Official Account from a QR code (``qrscene_<scene>``) — is credited
to that channel in ``attrs.channel`` (when: the journal's ``channel`` line), and keeps it: a later code
scanned does not take the credit. Codes made elsewhere count too; their state is the channel.

**Tallies.** The arrival's commit moves, per local day, ``added`` per channel and staff member,
``welcomed`` per channel (the arrival turn said something the gate let through) and, for every
state an attributed customer enters later, ``entered`` per channel: the funnel by channel is
one read, right for any number of processes. Every add of a staff member, credited or not
(a customer who came through another channel first), moves ``staff``: what the cap counts.

**Assignment.** The landing hands a channel's visitors the code of the staff member whose turn
it is — round-robin over a counter in the store, or the one with the fewest adds today — skipping
any member whose adds today (through any contact way) reached the code's cap. When all have,
:func:`pick` answers None and the landing says today's places are taken rather than overload
anyone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..model.customer import Customer
from ..model.inputs import ADD_EVENTS, Door, Input, PlatformEvent
from ..model.persona import Persona
from ..model.turn import Turn
from ..store.base import Store
from . import census
from .codes import ChannelCode, Platform, Rule

ACQ = "acq:"
ADDED = f"{ACQ}added:"        # <day>:<staff>:<channel>: customers credited to a channel
STAFF = f"{ACQ}staff:"        # <day>:<staff>: every add of a staff member, for the cap
WELCOMED = f"{ACQ}welcomed:"  # <day>:<channel>
ENTERED = f"{ACQ}entered:"    # <day>:<state>:<channel>
TURN = "acquisition:turn:"     # a channel's round-robin counter (key-value), per day
ARRIVALS = ADD_EVENTS | {"subscribe"}


def attribute(customer: Customer, inp: Input) -> str | None:
    """Credit the customer to the channel they arrived through, once; the channel newly credited."""
    if not isinstance(inp, PlatformEvent) or inp.name not in ARRIVALS or not inp.key or inp.door is not Door.CUSTOMER:
        return None
    if customer.attrs.get("channel"):
        return None  # the first touch keeps the credit
    channel = inp.key.removeprefix("qrscene_")
    if not channel:
        return None
    customer.attrs["channel"] = channel
    return channel


def moves(turn: Turn, greeted: bool) -> dict[str, int]:
    """The acquisition tallies one committed turn moves; ``greeted``: the gate let a message
    to the customer through."""
    out: Counter[str] = Counter()
    day = census.day_of(turn.now, turn.persona.timezone)
    inp = turn.input
    if isinstance(inp, PlatformEvent) and inp.name in ADD_EVENTS and inp.data.get("staff"):
        out[f"{STAFF}{day}:{inp.data['staff']}"] += 1  # every add counts towards the member's cap
    for note in turn.notes:
        if note.get("k") == "channel":
            out[f"{ADDED}{day}:{note.get('staff') or ''}:{note['channel']}"] += 1
            if greeted:
                out[f"{WELCOMED}{day}:{note['channel']}"] += 1
    channel = turn.customer.attrs.get("channel")
    if isinstance(channel, str) and channel:
        for _, _, state in turn.transitions:
            out[f"{ENTERED}{day}:{state}:{channel}"] += 1
    return dict(out)


async def added_today(store: Store, now: float, tz: str) -> Counter[str]:
    """Adds per staff member today, through any contact way (what their cap counts)."""
    prefix = f"{STAFF}{census.day_of(now, tz)}:"
    return Counter({name[len(prefix):]: n for name, n in (await store.tallies(prefix)).items()})


async def pick(store: Store, code: ChannelCode, now: float, tz: str) -> str | None:
    """The staff member whose code this visitor sees; None when every one is at the cap."""
    if code.platform is not Platform.WECOM:
        raise ValueError(f"channel {code.channel!r} is an Official Account code: it has no staff to pick")
    taken = await added_today(store, now, tz)
    names = [s.staff for s in code.staff]
    open_ = [n for n in names if taken[n] < code.cap]
    if not open_:
        return None
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
