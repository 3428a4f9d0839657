"""Access tokens, shared by every process of a bot through the store.

Getting a new token invalidates the previous one, so processes that each fetched their own
would knock each other out with 40001 in a loop. Hence: one cached token per account in the
store; one refresher at a time across processes (a short lock taken with ``set_if_absent``);
the others wait briefly and re-read. A token is refreshed a few minutes before it expires,
and whenever a call answers 40001/42001 — unless the store already holds a newer one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Awaitable, Callable

from ...clock import Clock
from ...errors import ChannelError
from ...store.base import KeyValue

log = logging.getLogger(__name__)

#: The store namespace every bot of one ``persona serve`` (and every process on the same store)
#: keeps its accounts' tokens in: bots that share an appid/corpid share its token.
ACCOUNTS_NAMESPACE = "-accounts"

#: ``fetch()`` asks the platform for a new token: returns ``(access_token, expires_in)``.
Fetch = Callable[[], Awaitable[tuple[str, float]]]


class TokenCache:
    """One account's access token (``key`` names it in the store, e.g. ``token:mp:<appid>``).

    ``margin`` seconds before expiry the token counts as stale and is refreshed; ``lock_ttl``
    bounds how long a crashed refresher can block the others; ``wait`` is how long a caller
    waits for another process's refresh before giving up with a retryable error.
    """

    def __init__(self, store: KeyValue, key: str, fetch: Fetch, *, clock: Clock | None = None,
                 margin: float = 300.0, lock_ttl: float = 15.0, wait: float = 20.0, poll: float = 0.05) -> None:
        self.store = store
        self.key = key
        self.lock_key = f"{key}:lock"
        self.fetch = fetch
        self.clock = clock or Clock()
        self.margin = margin
        self.lock_ttl = lock_ttl
        self.wait = wait
        self.poll = poll
        self.fetched = 0  # tokens this process asked the platform for
        self._token: str | None = None
        self._expires_at = 0.0
        self._local = asyncio.Lock()

    def _fresh(self, expires_at: float) -> bool:
        return self.clock.now() < expires_at - self.margin

    async def _read(self) -> tuple[str, float] | None:
        raw = await self.store.get(self.key)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return str(data["token"]), float(data["expires_at"])
        except (ValueError, KeyError, TypeError):
            return None

    def _adopt(self, token: str, expires_at: float) -> str:
        self._token, self._expires_at = token, expires_at
        return token

    async def get(self) -> str:
        """A token that is valid for at least ``margin`` more seconds."""
        memo = self._token
        if memo is not None and self._fresh(self._expires_at):
            return memo
        cached = await self._read()
        if cached is not None and self._fresh(cached[1]):
            return self._adopt(*cached)
        # only what this call saw is stale: another task may have adopted a new token meanwhile
        return await self.refresh(stale=cached[0] if cached else memo)

    async def refresh(self, stale: str | None = None) -> str:
        """Replace ``stale`` (the token a call was refused with); if another process or task
        already replaced it, use theirs instead of fetching (which would knock theirs out)."""
        async with self._local:
            if self._token is not None and self._token != stale and self._fresh(self._expires_at):
                return self._token
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.wait
            while True:
                cached = await self._read()
                if cached is not None and cached[0] != stale and self._fresh(cached[1]):
                    return self._adopt(*cached)
                owner = uuid.uuid4().hex
                if await self.store.set_if_absent(self.lock_key, owner, self.lock_ttl):
                    try:
                        cached = await self._read()  # a refresh may have finished just before we locked
                        if cached is not None and cached[0] != stale and self._fresh(cached[1]):
                            return self._adopt(*cached)
                        return await self._fetch_and_store()
                    finally:
                        await self.store.delete(self.lock_key, owner)
                if loop.time() > deadline:
                    raise ChannelError(f"access token {self.key}: another process has been refreshing it for "
                                       f"{self.wait:g} s", retryable=True)
                await asyncio.sleep(self.poll)

    async def _fetch_and_store(self) -> str:
        token, expires_in = await self.fetch()
        self.fetched += 1
        expires_at = self.clock.now() + float(expires_in)
        await self.store.put(self.key, json.dumps({"token": token, "expires_at": expires_at}),
                             ttl=max(float(expires_in), 1.0))
        log.info("access token %s refreshed, valid for %d s", self.key, int(expires_in))
        return self._adopt(token, expires_at)

    def forget(self) -> None:
        """Drop this process's copy (the next call re-reads the store)."""
        self._token, self._expires_at = None, 0.0
