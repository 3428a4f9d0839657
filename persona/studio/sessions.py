"""Server-side sessions: the browser holds only a random token, the store holds the rest.

The store key is the token's SHA-256, so a copy of the store does not hand out live sessions.
Each session carries its own CSRF token; logging out (or the TTL) ends it on the server.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from ..store import Store

COOKIE = "persona_studio"
TTL = 8 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: str
    csrf: str
    created: float


class Sessions:
    def __init__(self, store: Store, ttl: float = TTL) -> None:
        self.store, self.ttl = store, ttl

    async def start(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), time.time())
        await self.store.put(_key(session.token), json.dumps({"user": user, "csrf": session.csrf,
                                                              "created": session.created}), ttl=self.ttl)
        return session

    async def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        raw = await self.store.get(_key(token))
        if raw is None:
            return None
        data = json.loads(raw)
        return Session(token, data["user"], data["csrf"], float(data["created"]))

    async def end(self, token: str) -> None:
        await self.store.delete(_key(token))


def _key(token: str) -> str:
    return "studio:session:" + hashlib.sha256(token.encode("utf-8")).hexdigest()
