"""Two records of one person become one: the customer kept absorbs the other.

It happens when a link is learnt late (both ids already had their own customer: the unionid
lookup failed at first sight, or the records are older than the link) or when staff link two
ids by hand (``persona customers link``). What the merged customer is:

* **state**: :meth:`~persona.model.persona.Persona.merged_state` (by default the further along
  in the persona's ``states``); timers bound to another state go with it;
* **tags** united, the more recently active record's value winning a clash (tags are live);
  **attrs** united, the record first seen keeping the credit (first touch: its source,
  its channel); **counters** added; the earliest first sighting, the latest activity;
* **the gate's budgets** united, so the person is not messaged twice as often: a cap period
  both used adds their counts, otherwise the later period stands; the same for windows;
* **timers** united, one per name (the state winner's), re-armed once;
* **ids**: both records' ids, so replies keep going to the id a conversation comes through;
* **journals** stay where they were written; :func:`journal` reads them as one.

Two commits, each atomic and version-checked: first the absorbed record is retired (record,
segment entries and timers deleted, its state's tally taken back), then the kept one is written
(its tally moved to the merged state). The alias is written before either, so an input for the
absorbed id that arrives in between already finds the kept customer. The census counts the
person once at every moment (between the two commits, in the kept record's old state). What
cannot be one customer (two different unionids, records on different persona versions) is
refused before anything is written. The absorbed record is stashed until the kept one holds it:
a process that dies between the commits loses nothing, and the next merge of the two finishes
the job (the kept journal's ``merged`` line, with the absorbed version, says whether it had).
Two merges of one pair at once are the same case: whichever writes the kept record second
finds that line and writes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import census
from .gate import WECOM_ID_PREFIXES
from .. import jsonwire
from ..errors import ConflictError, MergeError, StoreUnavailable
from ..model.customer import Customer
from ..model.persona import Persona
from ..store import aliases
from ..store.base import Commit, Customers, Store

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
#: ``keep|gone`` -> the absorbed record while a merge is under way
STASH = "alias:merging:"


@dataclass(slots=True)
class Merged:
    """What a merge did: the customer kept, as written, and the id it absorbed."""

    customer: Customer
    absorbed: str
    absorbed_state: str


def guess_platform(user: str) -> str:
    """``wecom`` for a WeCom external contact id (``wm…``/``wo…``), else ``mp`` (an openid)."""
    return "wecom" if user.startswith(WECOM_ID_PREFIXES) else "mp"


def combine(persona: Persona, kept: Customer, other: Customer) -> Customer:
    """The one customer ``kept`` and ``other`` are, under ``kept``'s id (see the module)."""
    check(kept, other)
    first, second = sorted((kept, other), key=lambda c: (c.first_seen or float("inf"), c is not kept))
    recent, older = sorted((kept, other), key=lambda c: c.last_seen, reverse=True)
    # the conversation goes on where the customer last wrote (a business event is not one)
    talking = max((kept, other), key=lambda c: (c.last_inbound, c is kept))
    state = persona.merged_state(kept, other)
    leader, follower = (kept, other) if kept.state == state else (other, kept)
    timers = {name: t for name, t in {**follower.timers, **leader.timers}.items()
              if t.state is None or t.state == state}
    ids = {c.id: guess_platform(c.id) for c in (kept, other)}
    ids.update({**other.ids, **kept.ids})
    return Customer(
        id=kept.id, state=state,
        tags={**older.tags, **recent.tags},
        attrs={**second.attrs, **first.attrs},
        counters={name: kept.counters.get(name, 0) + other.counters.get(name, 0)
                  for name in {**kept.counters, **other.counters}},
        first_seen=min((c.first_seen for c in (kept, other) if c.first_seen), default=0.0),
        last_seen=max(kept.last_seen, other.last_seen),
        last_inbound=max(kept.last_inbound, other.last_inbound),
        last_outbound=max(kept.last_outbound, other.last_outbound),
        timers=timers,
        budget=_budgets(kept.budget, other.budget),
        handoff=kept.handoff or other.handoff,
        variants={**second.variants, **first.variants},
        version=kept.version, generation=kept.generation,
        ids=ids, current=talking.current or talking.id,
        unionid=kept.unionid or other.unionid,
    )


def _budgets(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Each budget is ``[period or opening time, count]``: the same period adds the counts
    (both records spent from it), otherwise the later one stands."""
    out: dict[str, Any] = {}
    for key in {**a, **b}:
        x, y = a.get(key), b.get(key)
        if not x or not y:
            out[key] = list(x or y or [])
        elif x[0] == y[0]:
            out[key] = [x[0], x[1] + y[1]]
        else:
            out[key] = list(x if x[0] > y[0] else y)
    return out


async def merge(runtime: "Runtime", keep: str, gone: str, *, why: str) -> Merged | None:
    """Make ``gone`` part of ``keep`` (see the module); None when ``gone`` has no record (merged
    already, or never seen: then only the alias is written). ``why`` goes in both journals."""
    if keep == gone:
        raise MergeError(f"{keep!r} is one customer already")
    store, persona = runtime.store, runtime.persona
    stash = f"{STASH}{keep}|{gone}"
    for attempt in range(MAX_ATTEMPTS):
        loaded = await store.load(gone)
        if loaded.record is None:
            return await _resume(runtime, keep, gone, stash, why)
        other = Customer.load(gone, loaded.record, loaded.version)
        kept = await Customer.read(store, keep)
        if kept is not None:
            check(kept, other)
        await aliases.link(store, gone, keep, other.unionid or None)
        # the absorbed record, until the kept one holds it: a crash between the two commits
        # loses nothing, the next merge of the two (or `persona customers link`) finishes it
        await store.put(stash, jsonwire.dump({"v": loaded.version, "r": loaded.record.decode()}), aliases.KEEP)
        now = runtime.clock.now()
        retire = Commit(
            user=gone, expected_version=loaded.version, record=loaded.record, retire=True,
            timers_del=sorted({*other.timers, *await store.pending_timers(gone)}),
            segments_del=sorted(other.segments(persona.indexed_tags)),
            journal=[jsonwire.dump({"t": int(now), "k": "merged_into", "to": keep, "why": why})],
            journal_cap=persona.journal_cap, tallies={census.STATE + other.state: -1})
        try:
            await store.commit(retire)
        except ConflictError:  # a turn for it committed meanwhile: absorb the newer record
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            continue
        return await _finish(runtime, keep, other, stash, why)
    raise StoreUnavailable(f"customer {gone!r}: {MAX_ATTEMPTS} attempts to merge it into {keep!r} all lost a race")


def check(kept: Customer, other: Customer) -> None:
    """Refuse (before anything is written) what cannot be one customer."""
    if kept.unionid and other.unionid and kept.unionid != other.unionid:
        raise MergeError(f"{kept.id!r} and {other.id!r} are two people to the platform (unionids "
                         f"{kept.unionid} and {other.unionid}): not merged")
    if kept.generation != other.generation:
        raise MergeError(f"customers {kept.id!r} and {other.id!r} are on different versions of the persona "
                         f"({kept.generation} and {other.generation} migrations): run "
                         "`persona migrate BOT --store URL --apply` first")


async def _finish(runtime: "Runtime", keep: str, other: Customer, stash: str, why: str) -> Merged:
    kept = await _absorb(runtime, keep, other, why)
    await runtime.store.delete(stash)
    log.info("persona=%s customer %s absorbed %s (%s): state %s", runtime.name, keep, other.id, why, kept.state)
    return Merged(kept, other.id, other.state)


async def _resume(runtime: "Runtime", keep: str, gone: str, stash: str, why: str) -> Merged | None:
    """``gone`` has no record: merged already, or retired by a merge that stopped before the
    kept record took it (then finish it from the stash, unless the kept journal says it did)."""
    raw = await runtime.store.get(stash)
    if raw is None:
        await aliases.link(runtime.store, gone, keep)
        return None
    saved = jsonwire.load(raw)
    if await _holds(runtime, keep, gone, saved["v"]):
        await runtime.store.delete(stash)
        return None
    return await _finish(runtime, keep, Customer.load(gone, saved["r"].encode(), saved["v"]), stash, why)


async def _holds(runtime: "Runtime", keep: str, gone: str, version: int) -> bool:
    """Whether ``keep`` has absorbed ``gone`` at ``version`` already: its journal's ``merged``
    line, written by the same commit as the record (so read after a load, it is as fresh)."""
    for line in await runtime.store.journal(keep, runtime.persona.journal_cap):
        entry = jsonwire.load(line)
        if entry.get("k") == "merged" and entry.get("from") == gone and entry.get("v") == version:
            return True
    return False


async def _absorb(runtime: "Runtime", keep: str, other: Customer, why: str) -> Customer:
    """Write ``keep`` with ``other`` folded in, deciding again on the fresh record after a race.

    Two merges of one pair can both get here (two processes, or ``persona customers link``
    beside a serve, both resuming from the stash): each attempt first asks whether the record
    just loaded holds ``other`` already, and the version check makes that answer the one the
    commit is written against, so the absorbed record is counted once."""
    store, persona = runtime.store, runtime.persona
    indexed = persona.indexed_tags
    for attempt in range(MAX_ATTEMPTS):
        loaded = await store.load(keep)
        if await _holds(runtime, keep, other.id, other.version):
            return await _now(store, keep)
        if loaded.record is None:  # the kept id was never a customer: the other one becomes it
            before = None
            merged = combine(persona, Customer(keep, other.state, first_seen=other.first_seen,
                                               generation=other.generation), other)
            merged.state, merged.timers = other.state, dict(other.timers)
        else:
            before = Customer.load(keep, loaded.record, loaded.version)
            merged = combine(persona, before, other)
        now = runtime.clock.now()
        old_segments = before.segments(indexed) if before else set()
        old_timers = before.timers if before else {}
        segments = merged.segments(indexed)
        commit = Commit(
            user=keep, expected_version=loaded.version, record=merged.dump(),
            timers_set={n: t.due for n, t in merged.timers.items()
                        if n not in old_timers or old_timers[n].due != t.due},
            timers_del=sorted(set(old_timers) - set(merged.timers)),
            segments_add=sorted(segments - old_segments), segments_del=sorted(old_segments - segments),
            journal=[jsonwire.dump({"t": int(now), "k": "merged", "from": other.id, "v": other.version,
                                    "state": other.state, "why": why})],
            journal_cap=persona.journal_cap,
            tallies=census.moves(before.state if before else None, merged.state, [], now, persona.timezone))
        try:
            await store.commit(commit)
        except ConflictError:
            await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            continue
        merged.version = loaded.version + 1
        return merged
    raise StoreUnavailable(f"customer {keep!r}: {MAX_ATTEMPTS} attempts to absorb {other.id!r} all lost a race; "
                           f"run `persona customers link` again to finish")


async def _now(store: Store, user: str) -> Customer:
    """The customer ``user`` is now: its record, or the one it was merged into since."""
    for _ in range(MAX_ATTEMPTS):
        found = await Customer.read(store, user)
        if found is not None:
            return found
        further = await aliases.canonical(store, user)
        if further is None:
            break
        user = further
    raise MergeError(f"customer {user!r} has no record and no link: it was merged and then removed")


async def journal(store: Customers, customer: Customer, limit: int = 100) -> list[str]:
    """The customer's journal with the journals of every id merged into it, in time order."""
    lines = [(line, 0) for line in await store.journal(customer.id, limit)]
    for n, alias in enumerate(sorted(set(customer.ids) - {customer.id}), start=1):
        lines += [(line, n) for line in await store.journal(alias, limit)]
    lines.sort(key=lambda pair: (_at(pair[0]), pair[1]))
    return [line for line, _ in lines][-limit:]


def _at(line: str) -> int:
    try:
        return int(jsonwire.load(line).get("t", 0))
    except (ValueError, AttributeError):
        return 0
