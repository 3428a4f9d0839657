"""The alias table: which customer id a platform id or a unionid stands for.

One person can reach a bot through an Official Account (an openid) and through WeCom (an
external_userid); the platform ties both to one unionid. The first id seen with a unionid
claims it and is the customer's canonical id; every other id of that person is an alias of it.

The table lives in the store's :class:`~persona.store.base.KeyValue` role, so every backend
keeps it with the same atomic operations it already has (a claim is ``set_if_absent``), and
it is only read when an id has no record of its own: a customer who was never linked costs
nothing more on the hot path.
"""

from __future__ import annotations

from .base import KeyValue

#: platform id -> canonical customer id
ALIAS = "alias:id:"
#: unionid -> canonical customer id
UNION = "alias:union:"
#: a link is kept as long as any customer record: far longer than a journal line
KEEP = 20 * 365 * 86400.0


async def canonical(store: KeyValue, user: str) -> str | None:
    """The customer ``user`` was merged into or linked to (None: ``user`` is its own)."""
    return await store.get(ALIAS + user)


async def holder(store: KeyValue, unionid: str) -> str | None:
    """The canonical customer that holds ``unionid`` (None: nobody yet)."""
    return await store.get(UNION + unionid)


async def claim(store: KeyValue, unionid: str, user: str) -> str:
    """Make ``user`` the holder of ``unionid`` unless someone holds it already; the holder.

    Two processes seeing the two ids of one person at once both call this: exactly one wins,
    and the other links to it.
    """
    if await store.set_if_absent(UNION + unionid, user, KEEP):
        return user
    return await holder(store, unionid) or user


async def link(store: KeyValue, alias: str, to: str, unionid: str | None = None) -> None:
    """From now on ``alias`` (and ``unionid``, when given) mean customer ``to``."""
    await store.put(ALIAS + alias, to, KEEP)
    if unionid:
        await store.put(UNION + unionid, to, KEEP)
