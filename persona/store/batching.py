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
from functools import partial
from typing import Any, Sequence

import hiredis
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError
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

    def __init__(self, pool: ConnectionPool, scripts: dict[str, str], timeout: float | None) -> None:
        # connections of the pool's kind and settings, owned by the batcher: taken and given
        # back without the pool's lock and checks, and with one deadline per batch (``timeout``)
        # rather than a timer per command
        self._connect = partial(pool.connection_class, **{**pool.connection_kwargs, "socket_timeout": None})
        self._scripts = scripts
        self._timeout = timeout
        self._idle: list[AbstractConnection] = []
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
        connection = self._idle.pop() if self._idle else self._connect()
        try:
            async with asyncio.timeout(self._timeout):
                replies = await self._exchange(connection, commands)
        except BaseException:
            await connection.disconnect(nowait=True)  # replies may still be on their way
            raise
        self._idle.append(connection)
        return replies

    async def _exchange(self, connection: AbstractConnection, commands: list[Command]) -> list[Any]:
        # hiredis packs in C, several times faster than redis-py's pack_command
        payload = b"".join([hiredis.pack_command(tuple(c)) for c in commands])
        reused = connection.is_connected
        try:
            await connection.send_packed_command(payload, check_health=False)
            replies = [await _reply(connection)]
        except (RedisConnectionError, OSError):
            if not reused:
                raise
            # Redis closed this idle connection (a restart, its idle timeout): nothing came
            # back, so connect again and send once more. Sending twice is harmless: a commit
            # that did run is refused by its version check (the runtime then finds the input
            # done), a load reads again, a claim that ran leaves its timers to their lease.
            await connection.disconnect(nowait=True)
            await connection.send_packed_command(payload, check_health=False)
            replies = [await _reply(connection)]
        for _ in range(len(commands) - 1):
            replies.append(await _reply(connection))
        return replies

    async def close(self) -> None:
        """Wait for the batches already sent (their callers are waiting for them too), then
        close the batcher's connections."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()


async def _reply(connection: AbstractConnection) -> Any:
    """The next reply; a refused command's error is the reply, not a failure of the batch."""
    try:
        return await connection.read_response()
    except ResponseError as exc:
        return exc
    async def close(self) -> None:
        """Wait for the batches already sent (their callers are waiting for them too)."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
