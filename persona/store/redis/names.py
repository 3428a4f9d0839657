"""The namespace's dictionary: each name a record or the segment index uses, as a small number.

States, tag names, timer names, counter names, A/B scripts and variants, and segment entries
(``state:welcomed``, ``tag:source=parcel``) are a bot's vocabulary: a few dozen to a few
thousand strings that millions of records repeat. Each is stored once, in the namespace's hash
``p:{<ns>}:names`` (name -> code), and records carry the code: one byte for the first 128.

A code, once given, never changes and is never reused, so a record written years ago still
reads, and every process can keep what it learnt in memory for good. Codes are handed out by
one Lua script on that one key (``HLEN`` is the next code), so processes naming the same new
state at once all get the same code. A code handed out for a commit that then failed stays
unused: harmless.

The dictionary needs the durability the records have: it lives on the namespace's slot, the
records on their shards' slots, so a Redis that loses the dictionary's latest writes but not
the records (a Cluster failover to a replica that had not received them) leaves records naming
codes nobody knows; reading one raises rather than guessing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterable

# KEYS: 1 the names hash. ARGV: names. Returns their codes, giving new ones to those without.
ASSIGN = """
local out = {}
for i, name in ipairs(ARGV) do
  local code = redis.call('HGET', KEYS[1], name)
  if not code then
    code = redis.call('HLEN', KEYS[1])
    redis.call('HSET', KEYS[1], name, code)
  end
  out[i] = tonumber(code)
end
return out
"""


class UnknownCode(LookupError):
    """A record refers to a code this process has not learnt yet (another process gave it)."""


class Names:
    """This process's copy of the dictionary; learns new entries from Redis when it meets them."""

    def __init__(self, key: str, assign: Callable[[list[str]], Awaitable[list[Any]]],
                 read_all: Callable[[], Awaitable[dict[bytes, bytes]]]) -> None:
        self.key = key
        self._assign, self._read_all = assign, read_all
        self._codes: dict[str, int] = {}
        self._names: dict[int, str] = {}
        self._asking: dict[str, asyncio.Future[None]] = {}

    def known(self, name: str) -> int | None:
        return self._codes.get(name)

    def code(self, name: str) -> int:
        return self._codes[name]

    def name(self, code: int) -> str:
        try:
            return self._names[code]
        except KeyError:
            raise UnknownCode(code) from None

    def _learn(self, name: str, code: int) -> None:
        self._codes[name] = code
        self._names[code] = name

    async def codes(self, names: Iterable[str]) -> dict[str, int]:
        """Codes of ``names``, asking Redis only for those this process has not seen.

        Turns naming the same new name at once share one request for it, so they go on
        together (and their commits into one group-commit pipeline)."""
        wanted = list(dict.fromkeys(names))
        missing = [n for n in wanted if n not in self._codes]
        if missing:
            fresh = [n for n in missing if n not in self._asking]
            if fresh:
                asking = asyncio.ensure_future(self._ask(fresh))
                for name in fresh:
                    self._asking[name] = asking
            # shielded: a caller cancelled (at shutdown) must not cancel the shared request
            # the other turns asking for the same names are waiting on
            await asyncio.gather(*{asyncio.shield(self._asking.get(n) or _done()) for n in missing})
        return {n: self._codes[n] for n in wanted}

    async def _ask(self, names: list[str]) -> None:
        try:
            for name, code in zip(names, await self._assign(names)):
                self._learn(name, int(code))
        finally:
            for name in names:
                self._asking.pop(name, None)

    async def reload(self) -> None:
        """Read the whole dictionary (a record named a code this process had not learnt)."""
        for name, code in (await self._read_all()).items():
            self._learn(name.decode(), int(code))


async def _done() -> None:
    """A name learnt between the check and the wait."""
