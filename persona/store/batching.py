"""Group commit: the Redis commands of concurrent turns go out as one pipeline.

Every request made during one event-loop tick — the loads and commits of callbacks that
arrived together, of a batch of due timers, of a broadcast's customers — is queued; when the
tick ends the queue is written to one pooled connection in one write and the replies are read
back in order. Redis' per-command cost is small; what a turn paid for was the client's work
around each round trip (pool checkout, timeouts, packing, parsing, a wake-up per reply), and
that is now paid once per batch.

Nothing a turn may write changes: a commit is still its own Lua script — atomic, version-
checked and deduplicated on its own — so a batch of commits is exactly those commits, in some
order. No order is assumed between requests of one batch: one customer's turns are already
serialised by the runtime, so a customer never has two commits in flight. A reply that is an
error (a refused script) goes to its own request only; a connection that fails fails every
request of its batch, as it would have failed each of them alone, and the caller's retry rules
apply unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import hiredis
from redis.asyncio.connection import ConnectionPool
from redis.exceptions import NoScriptError, ResponseError

Command = Sequence[Any]

#: The most requests one pipeline carries; a bigger queue goes out as several.
MAX_BATCH = 1000


class _Request:
    __slots__ = ("commands", "future")

    def __init__(self, commands: list[Command], future: asyncio.Future[list[Any]]) -> None:
        self.commands = commands
        self.future = future


class Batcher:
    """Queues commands for the end of the event-loop tick and sends them as one pipeline.

    ``scripts`` maps the SHA1 of every Lua script the requests run with ``EVALSHA`` to its
    source, so a Redis that lost its script cache (restarted, ``SCRIPT FLUSH``) is given the
    scripts again and the refused requests are sent once more: a ``NOSCRIPT`` reply means the
    script did not run, so sending it again cannot apply it twice.
    """

    def __init__(self, pool: ConnectionPool, scripts: dict[str, str]) -> None:
        self._pool = pool
        self._scripts = scripts
        self._queue: list[_Request] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def run(self, commands: list[Command]) -> list[Any]:
        """The replies to ``commands`` (a :class:`ResponseError` in place of a refused one)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append(_Request(commands, future))
        return await future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), MAX_BATCH):
            task = asyncio.get_running_loop().create_task(self._send(queue[start:start + MAX_BATCH]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Request]) -> None:
        try:
            replies = await self._pipeline([c for request in batch for c in request.commands])
        except BaseException as exc:
            for request in batch:
                if not request.future.done():
                    request.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        refused: list[_Request] = []
        at = 0
        for request in batch:
            mine = replies[at:at + len(request.commands)]
            at += len(request.commands)
            if any(isinstance(r, NoScriptError) for r in mine):
                refused.append(request)
            elif not request.future.done():
                request.future.set_result(mine)
        if refused:
            try:
                await self._pipeline([("SCRIPT", "LOAD", source) for source in self._scripts.values()])
            except BaseException as exc:
                for request in refused:
                    if not request.future.done():
                        request.future.set_exception(exc)
                raise
            await self._send(refused)

    async def _pipeline(self, commands: list[Command]) -> list[Any]:
        connection = await self._pool.get_connection()  # type: ignore[no-untyped-call,unused-ignore]
        try:
            # hiredis packs in C, several times faster than redis-py's pack_command
            await connection.send_packed_command(b"".join([hiredis.pack_command(tuple(c)) for c in commands]))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await connection.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            return replies
        finally:
            await self._pool.release(connection)

    async def close(self) -> None:
        """Wait for the batches already sent (their callers are waiting for them too)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
