"""Group commit: the Redis commands of concurrent turns go out as one pipeline.

Every request made during one event-loop tick — the loads and commits of callbacks that
arrived together, of a batch of due timers, of a broadcast's customers — is queued; when the
tick ends the queue is written to one of the batcher's connections in one write and the
replies are read back in order. Redis' per-command cost is small; what a turn paid for was the
client's work around each round trip (pool checkout, timeouts, packing, parsing, a wake-up
per reply), and that is now paid once per batch.

Nothing a turn may write changes: a commit is still its own Lua script — atomic, version-
checked and deduplicated on its own — so a batch of commits is exactly those commits, in some
order. No order is assumed between requests of one batch: one customer's turns are already
serialised by the runtime, so a customer never has two commits in flight. A request whose
arguments cannot be sent, or whose reply is an error (a refused script), fails alone; a
connection that fails fails every request of its batch, as it would have failed each of them
alone, and the caller's retry rules apply unchanged. A batch is never sent twice: a connection
is checked before anything is written to it, not after a failure. At most as many batches are
in flight as the store's pool allows connections; requests made meanwhile wait and go together.
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
    __slots__ = ("payload", "count", "future")

    def __init__(self, payload: bytes, count: int, future: asyncio.Future[list[Any]]) -> None:
        self.payload = payload  # the request's commands, packed
        self.count = count
        self.future = future


class Batcher:
    """Queues commands for the end of the event-loop tick and sends them as one pipeline.

    ``scripts`` maps the SHA1 of every Lua script the requests run with ``EVALSHA`` to its
    source, so a Redis that lost its script cache (restarted, ``SCRIPT FLUSH``) is given the
    scripts again and the refused requests are sent once more: a ``NOSCRIPT`` reply means the
    script did not run, so sending it again cannot apply it twice. ``limit`` is how many
    connections (so batches in flight) it may use; ``timeout`` is one batch's deadline.
    """

    def __init__(self, pool: ConnectionPool, scripts: dict[str, str], timeout: float | None,
                 limit: int) -> None:
        # connections of the pool's kind and settings, owned by the batcher: taken and given
        # back without the pool's lock, and with one deadline per batch rather than a timer
        # per command
        self._connect = partial(pool.connection_class, **{**pool.connection_kwargs, "socket_timeout": None})
        self._scripts = scripts
        self.timeout = timeout
        self._limit = max(1, limit)
        self._idle: list[AbstractConnection] = []
        self._busy = 0
        self._queue: list[_Request] = []
        self._scheduled = False
        self._closed = False
        self._sending: set[asyncio.Task[None]] = set()

    def knows(self, sha: str) -> bool:
        """Whether a script can be sent here (one it could not give Redis again would fail)."""
        return sha in self._scripts

    async def run(self, commands: list[Command]) -> list[Any]:
        """The replies to ``commands`` (a :class:`ResponseError` in place of a refused one)."""
        if self._closed:
            raise RedisConnectionError("the store is closed")
        # packed here, so an argument Redis cannot be sent fails this request only; hiredis
        # packs in C, several times faster than redis-py's pack_command
        payload = b"".join([hiredis.pack_command(tuple(c)) for c in commands])
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(_Request(payload, len(commands), future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        while self._queue and self._busy < self._limit:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            self._busy += 1
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._busy -= 1
        if self._queue:  # requests that waited for a connection
            self._schedule()

    async def _send(self, batch: list[_Request], *, reloaded: bool = False) -> None:
        try:
            replies = await self._pipeline(b"".join([r.payload for r in batch]), sum(r.count for r in batch))
        except BaseException as exc:
            _fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        refused: list[_Request] = []
        at = 0
        for request in batch:
            mine = replies[at:at + request.count]
            at += request.count
            if not reloaded and any(isinstance(r, NoScriptError) for r in mine):
                refused.append(request)
            elif not request.future.done():
                request.future.set_result(mine)
        if refused:  # once: a script still unknown after loading them all is the caller's error
            loads: list[Command] = [("SCRIPT", "LOAD", source) for source in self._scripts.values()]
            try:
                await self._pipeline(b"".join([hiredis.pack_command(tuple(c)) for c in loads]), len(loads))
            except BaseException as exc:
                _fail(refused, exc)
                if not isinstance(exc, Exception):
                    raise
                return
            await self._send(refused, reloaded=True)

    async def _pipeline(self, payload: bytes, count: int) -> list[Any]:
        connection = self._idle.pop() if self._idle else self._connect()
        try:
            async with asyncio.timeout(self.timeout):
                await _ready(connection)
                await connection.send_packed_command(payload, check_health=False)
                replies = [await _reply(connection) for _ in range(count)]
        except BaseException:
            await connection.disconnect(nowait=True)  # replies may still be on their way
            raise
        self._idle.append(connection)
        return replies

    async def close(self) -> None:
        """Finish what was asked (its callers are waiting for it), then close the connections;
        later requests fail as a store that is unreachable."""
        self._closed = True
        while self._queue or self._sending:
            if self._sending:
                await asyncio.gather(*self._sending, return_exceptions=True)
            else:
                await asyncio.sleep(0)  # the queue's flush is scheduled: let it run
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.disconnect()


async def _ready(connection: AbstractConnection) -> None:
    """Connected, and not closed by Redis while it sat idle (a restart, Redis' idle timeout).

    Checked before anything is written, as redis-py's pool checks a connection it hands out:
    once a batch is sent it is never sent again, because Redis may have run it.
    """
    if connection.is_connected:
        # redis-py 8 renamed the check; 6.2 to 7 have only the old name
        pending = getattr(connection, "can_read", None) or connection.can_read_destructive
        try:
            if not await pending():
                return
        except (RedisConnectionError, OSError):
            pass
        await connection.disconnect(nowait=True)
    await connection.connect()  # type: ignore[no-untyped-call,unused-ignore]


async def _reply(connection: AbstractConnection) -> Any:
    """The next reply; a refused command's error is the reply, not a failure of the batch."""
    try:
        return await connection.read_response()
    except ResponseError as exc:
        return exc


def _fail(requests: list[_Request], exc: BaseException) -> None:
    for request in requests:
        if not request.future.done():
            request.future.set_exception(exc)
