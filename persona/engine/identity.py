"""One customer across the Official Account and WeCom: which record an input belongs to.

A person who follows the Official Account (an openid) and is a WeCom external contact (an
external_userid) is one customer when the platform gives both ids the same unionid: one
state machine, one journal, one set of caps and timers. :class:`Identity` decides, before the
runtime's turn, whose record the input moves:

* an id with a record of its own is that customer: nothing more is read (the hot path of a
  customer never linked is unchanged, one load);
* an id without a record is looked up in the alias table (:mod:`persona.store.aliases`,
  one more key read, on a customer's first input and on every input of an alias);
* a new id, or a known one whose unionid was never learnt, gets its unionid from the callback
  when it carries one, else from the platform (``user/info``, ``externalcontact/get``). The
  first id with a unionid holds it; a later one is linked to it, and when that later one
  already had a record the two are merged (:mod:`persona.engine.merge`).

When the platform cannot be asked (an outage, a rate limit), the input is not held back: it is
handled under the id it came with, the record keeps no unionid, and the lookup is tried again
at that customer's next input, which links (and merges) then. A unionid of ``""`` records
that the platform has none for the id (an account not bound to an Open Platform), so it is
not asked again.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from .. import jsonwire
from ..errors import ChannelError, MergeError
from ..model.customer import Customer
from ..model.inputs import BusinessEvent, Door, Input, Platform, PlatformEvent
from ..store import aliases
from ..store.base import Loaded, Store
from .merge import guess_platform, merge

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)

#: ``(platform, id) -> unionid`` ("" when the platform has none); raises ChannelError
Lookup = Callable[[str, str], Awaitable[str]]

#: links followed at most from one id (a customer merged into one that was merged further)
MAX_HOPS = 4
#: aliases remembered in one process (forgotten all at once past this, then met again)
REMEMBERED = 100_000

#: how the channels name the platform a callback came from
PLATFORMS = {Platform.WECHAT: "mp", Platform.WECOM: "wecom"}


@dataclass(slots=True)
class Seen:
    """Who an input came from: the id and platform it arrived under, and the unionid if learnt."""

    id: str
    platform: str | None
    unionid: str | None = None

    def note(self, customer: Customer) -> None:
        """Keep the id on a linked customer's record, and make it the current conversation's
        when it is a platform's (a business event or a timer does not move the conversation).
        A customer known by one id keeps none: its id is its address, as for any customer."""
        if self.platform is not None and (self.id != customer.id or customer.ids):
            if not customer.ids:
                customer.ids[customer.id] = guess_platform(customer.id)
            customer.ids[self.id] = self.platform
            customer.current = self.id
        if self.unionid is not None and not customer.unionid:
            customer.unionid = self.unionid


@dataclass(slots=True)
class Resolved:
    """The input as the turn takes it (its ``user`` the canonical id), and what was loaded."""

    input: Input
    loaded: Loaded
    seen: Seen | None


class Identity:
    """Resolves inputs to canonical customers for one runtime; ``lookup`` asks the platforms
    named in ``platforms`` (None: only the alias table and unionids carried by inputs count).

    Every runtime follows the alias table, whether or not its persona links by unionid: an id
    linked by hand (``persona customers link``) must reach its customer in any bot. Only
    ``learns`` (``Persona.link_by_unionid``) reads unionids and links by them; without it the
    table costs one key read on a new id's first input and nothing for a known customer."""

    def __init__(self, runtime: "Runtime", lookup: Lookup | None = None, *,
                 platforms: frozenset[str] = frozenset({"mp", "wecom"}), learns: bool = True) -> None:
        self.runtime = runtime
        self.lookup = lookup
        self.platforms = platforms  # the accounts ``lookup`` can ask
        self.learns = learns
        #: aliases met lately (alias -> canonical): an alias's next input loads its customer
        #: in one read, as an id of its own does. A link never changes, except when its
        #: customer is merged further; then the load finds no record and the table is read.
        self._aliases: dict[str, str] = {}

    async def resolve(self, inp: Input) -> Resolved:
        """Load the customer ``inp`` moves (and whether the input was seen): its own record, or
        the customer its id is linked to, or, for an id new to the bot, whoever holds its
        unionid; ``Resolved.input`` names that customer."""
        store, dedupe = self.runtime.store, inp.dedupe_key
        if inp.door is not Door.CUSTOMER:
            return Resolved(inp, await store.load(inp.user, dedupe), None)
        platform = PLATFORMS.get(inp.platform) if inp.platform is not None else None
        seen = Seen(inp.user, platform)
        known = self._aliases.get(inp.user)
        if known is not None:
            resolved = await self._to(known, inp, seen)
            if resolved.loaded.record is not None:
                return resolved
            del self._aliases[inp.user]
        loaded = await store.load(inp.user, dedupe)
        if loaded.duplicate is not None:
            return Resolved(inp, loaded, None)
        if loaded.record is None:
            linked = await aliases.canonical(store, inp.user)
            if linked is not None:
                return await self._to(linked, inp, seen)
            if not self.learns:  # a new customer
                return Resolved(inp, loaded, seen)
        elif not self.learns or platform is None or _has_unionid(loaded.record):
            return Resolved(inp, loaded, seen)
        seen.unionid = await self._unionid(inp, platform)
        if not seen.unionid:
            return Resolved(inp, loaded, seen)
        holder = await aliases.claim(self.runtime.store, seen.unionid, inp.user)
        if holder == inp.user:
            return Resolved(inp, loaded, seen)
        if loaded.record is not None:  # both ids had their own customer before the link was known
            try:
                await merge(self.runtime, holder, inp.user, why=f"unionid {seen.unionid}")
            except MergeError as exc:  # the input still counts, under the id it came with
                log.warning("persona=%s %s %s: not merged into %s: %s", self.runtime.name, platform,
                            inp.user, holder, exc)
                return Resolved(inp, loaded, seen)
        else:
            await aliases.link(self.runtime.store, inp.user, holder)
            log.info("persona=%s %s %s is customer %s (unionid %s)", self.runtime.name, platform,
                     inp.user, holder, seen.unionid)
        return await self._to(holder, inp, seen)

    async def _to(self, canonical: str, inp: Input, seen: Seen) -> Resolved:
        """``inp`` for customer ``canonical``, following a link further when that customer was
        merged into another since."""
        store = self.runtime.store
        for _ in range(MAX_HOPS):
            loaded = await store.load(canonical, inp.dedupe_key)
            further = None if loaded.record is not None else await aliases.canonical(store, canonical)
            if further is None:
                break
            canonical = further
        if len(self._aliases) >= REMEMBERED:
            self._aliases.clear()
        self._aliases[inp.user] = canonical
        return Resolved(dataclasses.replace(inp, user=canonical), loaded, seen)

    async def _unionid(self, inp: Input, platform: str | None) -> str | None:
        """The unionid the input carries, else the platform's answer; None when unknown."""
        carried = inp.data.get("unionid") if isinstance(inp, (PlatformEvent, BusinessEvent)) else None
        if isinstance(carried, str) and carried:
            return carried
        if self.lookup is None or platform not in self.platforms:
            return None
        try:
            return await self.lookup(platform, inp.user)
        except ChannelError as exc:
            log.warning("persona=%s %s %s: cannot ask the platform for its unionid (%s); handled as its "
                        "own customer for now, linked at a later input", self.runtime.name, platform,
                        inp.user, exc)
            return None


def _has_unionid(record: bytes) -> bool:
    """Whether the unionid was learnt (or known to be absent) for this record."""
    return "u" in jsonwire.load(record)


async def find(store: Store, user: str) -> Customer | None:
    """The customer ``user`` names: its own record, else the customer it is an alias of (for
    tools; a turn resolves through :class:`Identity`)."""
    found = await Customer.read(store, user)
    if found is not None:
        return found
    canonical = await aliases.canonical(store, user)
    return await Customer.read(store, canonical) if canonical else None
