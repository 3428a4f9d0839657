"""``redis://HOST:PORT/DB`` — many processes, millions of customers.

Customers are spread over ``shards`` hash-tagged groups of keys, ``p:{<bot>.<n>}:…``, and
inside a shard over buckets (:mod:`.layout`). All keys of one customer — its record, dedupe
keys, timers, outbox items and journal — share the shard's hash tag, so a turn's commit is
one Lua script on one Redis Cluster slot. Records are a few dozen bytes (:mod:`.records`,
names as codes of the namespace's dictionary, :mod:`.names`) and carry their segment entries,
so the segment index costs a byte or two per entry and a segment query scans records in Redis;
per-bucket sorted sets and a per-shard set of bucket heads let workers claim due timers
without scanning customers. ``redis+cluster://HOST:PORT`` connects to a Redis Cluster.

Where a customer id sits inside a composite string — a timer member ``<id>\\x1f<timer>``, a
dedupe key ``d:<id>\\x1f<key>``, an outbox value ``<attempts>|<id>|<payload>`` — it is quoted
first (``%`` -> ``%25``, ``|`` -> ``%7C``, ``\\x1f`` -> ``%1F``), so no id can reach across a
separator into another customer's data; ids without those characters are stored as they are.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ...errors import ConflictError, StoreLayoutError, StoreUnavailable
from ..base import Commit, CommitResult, Loaded, OutboxItem, Store
from ..batching import Batcher, Command
from ..versions import ScriptVersionStore
from . import records, scripts
from .layout import BUCKETS, CHUNK, EVERYONE, SHARDS, Layout, LayoutMismatch
from .names import ASSIGN, Names, UnknownCode
from .refusals import refusal

T = TypeVar("T")
SEP = "\x1f"

#: Seconds one Redis command may take, one wait for a free pooled connection may take, and
#: one connect. Together they stay inside the callback deadline (4 s): a Redis that hangs
#: (stops answering without closing connections) then ends a callback as 503, which WeChat
#: retries, rather than as ``success`` followed by a turn that can never commit. (A turn
#: still running at the deadline is spooled by the service before ``success``.)
COMMAND_TIMEOUT = 1.5
POOL_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0
#: Redis' default ``hash-max-listpack-value``: a larger record goes to the shard's big-records
#: hash, so it does not turn its bucket into a hashtable (the server's own setting is read on
#: first use: raising it lets larger records into buckets)
LISTPACK_VALUE = 64
_QUOTED = {"%": "%25", "|": "%7C", SEP: "%1F"}
_UNQUOTED = {v: k for k, v in _QUOTED.items()}
_QUOTE = re.compile(r"[%|\x1f]")
_UNQUOTE = re.compile(r"%(?:25|7C|1F)")


def quote(user: str) -> str:
    """``user`` with the characters the composite strings split on escaped."""
    return _QUOTE.sub(lambda m: _QUOTED[m.group()], user) if _QUOTE.search(user) else user


def unquote(text: str) -> str:
    """The id :func:`quote` was given."""
    return _UNQUOTE.sub(lambda m: _UNQUOTED[m.group()], text) if "%" in text else text


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _evalsha(script: Any, keys: list[str], args: list[Any]) -> Command:
    """A registered script's call, as a command for the tick's shared pipeline."""
    return ("EVALSHA", script.sha, len(keys), *keys, *args)


class RedisStore(Store, ScriptVersionStore):
    def __init__(self, url: str, namespace: str = "default", *, shards: int = SHARDS, buckets: int = BUCKETS,
                 max_connections: int = 64, client: Any = None) -> None:
        self.url, self.namespace, self.shards = url, namespace, shards
        self.layout = Layout(namespace, shards, buckets)
        if client is not None:
            self.redis = client
        elif url.startswith("redis+cluster://"):
            from redis.asyncio.cluster import RedisCluster
            self.redis = RedisCluster.from_url("redis://" + url[len("redis+cluster://"):],
                                               socket_timeout=COMMAND_TIMEOUT,
                                               socket_connect_timeout=CONNECT_TIMEOUT)
        else:
            # a blocking pool: a burst of inputs waits for a connection instead of failing;
            # options in the URL (?socket_timeout=3) override these
            pool = aioredis.BlockingConnectionPool.from_url(
                url, max_connections=max_connections, timeout=POOL_TIMEOUT,
                socket_timeout=COMMAND_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT,
                health_check_interval=30)
            self.redis = aioredis.Redis(connection_pool=pool)
        self._commit = self.redis.register_script(scripts.COMMIT)
        self._claim_timers = self.redis.register_script(scripts.CLAIM_TIMERS)
        self._scan_script = self.redis.register_script(scripts.SCAN_SEGMENT)
        self._claim = self.redis.register_script(scripts.CLAIM)
        self._retry = self.redis.register_script(scripts.RETRY)
        self._ack = self.redis.register_script(scripts.ACK)
        self._delete_if = self.redis.register_script(scripts.DELETE_IF)
        self._extend_if = self.redis.register_script(scripts.EXTEND_IF)
        self._incr = self.redis.register_script(scripts.INCR)
        self._zincr = self.redis.register_script(scripts.ZINCR)
        self._requeue = self.redis.register_script(scripts.REQUEUE)
        self._append_version = self.redis.register_script(scripts.APPEND_VERSION)
        assign = self.redis.register_script(ASSIGN)
        names_key = self.layout.wide("names")
        self.names = Names(names_key, lambda missing: self._do(lambda: assign(keys=[names_key], args=missing)),
                           lambda: self._do(lambda: self.redis.hgetall(names_key)))
        self.listpack_value = LISTPACK_VALUE
        self._next_shard = 0
        self._checked = False
        self._checking: asyncio.Future[None] | None = None
        # group commit: the loads and commits of one loop tick share a pipeline (one slot per
        # command is not guaranteed across a batch, so a Cluster sends each request alone);
        # a batch gets the time one command may take (the URL's socket_timeout, if it says)
        self._batch: Batcher | None = None
        if isinstance(self.redis, aioredis.Redis):
            connections = self.redis.connection_pool
            self._batch = Batcher(connections, {script.sha: script.script for script in (
                self._commit, self._claim_timers, self._claim)},
                connections.connection_kwargs.get("socket_timeout"), connections.max_connections)

    # -- keys ------------------------------------------------------------------------------
    def shard(self, user: str) -> int:
        return self.layout.place(user)[0]

    def _k(self, shard: int, suffix: str) -> str:
        return self.layout.key(shard, suffix)

    def _g(self, suffix: str) -> str:
        """A namespace-wide key (token cache, leaderboards)."""
        return self.layout.wide(suffix)

    async def _do(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except TimeoutError:  # a group-commit batch past its deadline
            raise StoreUnavailable(f"Redis at {self.url} did not answer within "
                                   f"{self._batch.timeout if self._batch else COMMAND_TIMEOUT:g} s") from None
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self.url} is unreachable: {exc}") from None
        except ResponseError as exc:
            raise self._refused(exc) from None
        except RedisError as exc:
            raise StoreUnavailable(f"Redis at {self.url}: {exc}") from None

    async def _pipelined(self, fill: Callable[[Any], object], *, raise_on_error: bool = True) -> list[Any]:
        """The replies to what ``fill(pipeline)`` queues, sent in one round trip."""
        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            fill(pipe)
            answers: list[Any] = await pipe.execute(raise_on_error=raise_on_error)
            return answers

        return await self._do(run)

    async def _run(self, commands: list[Command]) -> list[Any]:
        """One request's commands, in the tick's shared pipeline (alone on a Cluster)."""
        batch = self._batch
        if batch is None:
            replies = await self._pipelined(lambda pipe: [pipe.execute_command(*c) for c in commands],
                                            raise_on_error=False)
        else:
            replies = await self._do(lambda: batch.run(commands))
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise self._refused(reply)
        return replies

    def _refused(self, exc: ResponseError) -> Exception:
        """A refusal for Redis' state as :class:`StoreUnavailable`; any other error as it is."""
        why = refusal(exc)
        return exc if why is None else StoreUnavailable(f"Redis at {self.url} cannot take it: {why}")

    async def _eval(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run a registered script, in the tick's shared pipeline where there is one."""
        if self._batch is None or not self._batch.knows(script.sha):
            return await self._do(lambda: script(keys=keys, args=args))
        [reply] = await self._run([_evalsha(script, keys, args)])
        return reply

    async def _ready(self) -> None:
        """On first use: the namespace is in this layout (or empty, and now marked as such).

        Concurrent first uses wait for one check (and go on in the same tick)."""
        if self._checked:
            return
        if self._checking is None:
            self._checking = asyncio.ensure_future(self._check())
        checking = self._checking
        try:
            await asyncio.shield(checking)
        except BaseException:
            if self._checking is checking and checking.done():
                self._checking = None  # the next use checks again (the data may have been converted)
            raise

    async def _check(self) -> None:
        marker = self.layout.wide("layout")
        stored = await self._do(lambda: self.redis.get(marker))
        if stored is None:
            if await self._legacy():
                raise StoreLayoutError(
                    f"Redis namespace {self.namespace!r} holds customers in the layout of persona before "
                    f"compact records; stop the bot's processes and convert it with "
                    f"`persona store-upgrade BOT --store {self.url} --namespace {self.namespace}`")
            await self._do(lambda: self.redis.set(marker, self.layout.marker(), nx=True))
            stored = await self._do(lambda: self.redis.get(marker))
        try:
            self.layout.check(stored.decode())
        except LayoutMismatch as exc:
            raise StoreLayoutError(f"Redis namespace {self.namespace!r}: {exc}; open it with the sizes it "
                                   f"was written with (RedisStore(url, namespace, shards=..., buckets=...)), "
                                   f"or use another namespace") from None
        await self.names.reload()
        await self.names.codes([EVERYONE])
        self.listpack_value = await self._listpack_value()
        self._checked = True

    async def _listpack_value(self) -> int:
        """The server's ``hash-max-listpack-value`` (where CONFIG is refused, Redis' default)."""
        try:
            answer = await self._do(lambda: self.redis.config_get("hash-max-listpack-value"))
            return int(answer["hash-max-listpack-value"])
        except (ResponseError, KeyError, TypeError, ValueError):
            return LISTPACK_VALUE

    async def _legacy(self) -> bool:
        return any(await self._pipelined(lambda pipe: [pipe.exists(key) for key in self.layout.legacy_keys()]))

    # -- records ---------------------------------------------------------------------------
    async def _named(self, read: Callable[[], T], what: str) -> T:
        """``read()``, which turns codes into names: on a code this process has not learnt, once
        more after reading the dictionary again (another process named something new)."""
        try:
            return read()
        except UnknownCode:
            await self.names.reload()
        try:
            return read()
        except UnknownCode as exc:
            raise StoreLayoutError(f"Redis namespace {self.namespace!r}: {what} names code {exc} that the "
                                   f"namespace's dictionary ({self.names.key}) does not hold; it lost writes "
                                   f"the records kept") from None

    async def _read(self, value: bytes) -> tuple[int, list[int], bytes]:
        """``(version, segment codes, record)`` of a stored value."""
        version, compact, segments, payload = records.open_envelope(value)
        if not compact:
            return version, segments, payload
        return version, segments, await self._named(lambda: records.decode(payload, self.names.name), "a record")

    def _record_keys(self) -> Iterator[list[str]]:
        """Every record hash, a chunk of buckets at a time (each list in one slot)."""
        for shard in range(self.shards):
            for chunk in range(self.layout.chunks()):
                yield self.layout.chunk_keys(shard, chunk)

    async def records(self) -> AsyncIterator[tuple[str, int, bytes]]:
        """Every customer as ``(id, version, record)``, bucket by bucket (tools, never a hot path)."""
        await self._ready()
        for chunk in self._record_keys():
            for fields in await self._pipelined(lambda pipe: [pipe.hgetall(key) for key in chunk]):
                for uid, value in fields.items():
                    version, _, record = await self._read(value)
                    yield uid.decode(), version, record

    # -- customers -------------------------------------------------------------------------
    def _load_commands(self, user: str, dedupe_key: str | None) -> list[Command]:
        """What a load reads: the record from its bucket or the bucket's big records, and the
        dedupe marker. Plain reads, not a script: a script costs Redis several times more."""
        shard, bucket = self.layout.place(user)
        commands: list[Command] = [("HGET", self.layout.records(shard, bucket), user),
                                   ("HGET", self.layout.big(shard, bucket), user)]
        if dedupe_key is not None:
            commands.append(("GET", self._k(shard, f"d:{quote(user)}{SEP}{dedupe_key}")))
        return commands

    async def _loaded(self, replies: list[Any]) -> Loaded:
        raw = replies[0] if replies[0] is not None else replies[1]
        seen = replies[2] if len(replies) > 2 else None
        duplicate = seen.decode() if seen is not None else None
        if raw is None:
            return Loaded(None, 0, duplicate)
        version, _, record = await self._read(raw)
        return Loaded(record, version, duplicate)

    async def load(self, user: str, dedupe_key: str | None = None) -> Loaded:
        await self._ready()
        return await self._loaded(await self._run(self._load_commands(user, dedupe_key)))

    async def encode(self, record: bytes) -> bytes | None:
        """``record`` in the compact form (None: not a customer's shape, stored as given),
        after giving codes to the names the dictionary lacks."""
        payload, missing = records.encode(record, self.names.known)
        if missing:
            await self.names.codes(missing)
            payload, _ = records.encode(record, self.names.known)
        return payload

    async def _commit_call(self, c: Commit) -> tuple[list[str], list[Any]]:
        """Keys and arguments of the commit script (names the dictionary lacks are given codes first)."""
        shard, bucket = self.layout.place(c.user)
        known = self.names.known
        names = [*c.segments_add, *c.segments_del, *c.timers_set, *c.timers_del]
        if any(known(n) is None for n in names):
            await self.names.codes(names)
        payload = await self.encode(c.record)
        code = self.names.code
        # without a dedupe key, KEYS[3] is a same-slot placeholder and a ttl of 0 says "none"
        keys = [self.layout.records(shard, bucket), self.layout.big(shard, bucket),
                self._k(shard, f"d:{quote(c.user)}{SEP}{c.dedupe_key or ''}"),
                self.layout.timers(shard, bucket), self._k(shard, "h"), self._k(shard, "tn"),
                self._k(shard, "o"), self._k(shard, "oq"), self._k(shard, f"j:{c.user}"), self._k(shard, "n"),
                self.layout.summary(shard, bucket)]
        numbers = (c.expected_version, int(payload is not None), c.dedupe_ttl if c.dedupe_key is not None else 0,
                   c.journal_cap, c.journal_ttl, bucket, self.listpack_value, code(EVERYONE), len(c.segments_add),
                   len(c.segments_del), len(c.timers_set), len(c.timers_del), len(c.outbox), len(c.journal),
                   len(c.tallies), int(c.retire))
        args: list[Any] = [c.user, ",".join(map(str, numbers)), payload or c.record, c.dedupe_result]
        args += [code(s) for s in c.segments_add]
        args += [code(s) for s in c.segments_del]
        for name, due in c.timers_set.items():
            args += [code(name), _ms(due)]
        args += [code(name) for name in c.timers_del]
        for item in c.outbox:
            args += [item.id, repr(float(item.due)), item.payload]
        args += c.journal
        for name, delta in c.tallies.items():
            args += [name, int(delta)]
        return keys, args

    @staticmethod
    def _committed(c: Commit, reply: list[Any]) -> CommitResult:
        status, detail = reply
        if status == b"dup":
            return CommitResult(False, detail.decode())
        if status == b"conflict":
            raise ConflictError(f"customer {c.user!r} changed since it was loaded")
        return CommitResult(True)

    async def commit(self, c: Commit) -> CommitResult:
        await self._ready()
        keys, args = await self._commit_call(c)
        return self._committed(c, await self._eval(self._commit, keys, args))

    async def journal(self, user: str, limit: int = 100) -> list[str]:
        raw = await self._do(lambda: self.redis.lrange(self._k(self.shard(user), f"j:{user}"), -limit, -1))
        return [line.decode() for line in raw]

    async def _scan(self, keys: list[str], codes: list[int]) -> list[str]:
        return [m.decode() for m in await self._do(lambda: self._scan_script(keys=keys, args=codes))]

    async def users(self) -> list[str]:
        await self._ready()
        everyone = self.names.code(EVERYONE)
        out: list[str] = []
        for shard in range(self.shards):
            for chunk in await self._chunks_with(shard, [everyone]):
                out += await self._scan(self.layout.chunk_keys(shard, chunk), [])
        return sorted(out)

    async def _chunks_with(self, shard: int, codes: list[int]) -> list[int]:
        """The chunks of ``shard`` whose summaries count someone in every one of ``codes``."""
        summaries = await self._pipelined(lambda pipe: [pipe.hmget(self.layout.summary(shard, chunk * CHUNK), codes)
                                                        for chunk in range(self.layout.chunks())])
        return [chunk for chunk, counts in enumerate(summaries) if all(counts)]

    # tallies live in one hash per shard (moved by the shard's commits) and are summed on read
    async def _shard_tallies(self) -> list[dict[bytes, bytes]]:
        return await self._per_shard("n", lambda pipe, key: pipe.hgetall(key))

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        out: dict[str, int] = {}
        wanted = prefix.encode()
        for fields in await self._shard_tallies():
            for name, value in fields.items():
                if name.startswith(wanted):
                    key = name.decode()
                    out[key] = out.get(key, 0) + int(value)
        return out

    async def reset_tallies(self, prefix: str, values: dict[str, int]) -> None:
        wanted = prefix.encode()
        for shard, fields in enumerate(await self._shard_tallies()):
            stale = [name for name in fields if name.startswith(wanted)]
            if stale:
                await self._do(lambda: self.redis.hdel(self._k(shard, "n"), *stale))
        if values:
            await self._do(lambda: self.redis.hset(self._k(0, "n"), mapping=values))

    async def segment(self, *names: str) -> set[str]:
        """Scans, in Redis, the records of the chunks whose summaries count someone in every
        segment asked for: a query for tools, the agents' queue and broadcasts, never for a turn."""
        if not names:
            return set()
        await self._ready()
        codes = [self.names.known(n) for n in names]
        if any(c is None for c in codes):
            await self.names.reload()  # another process may have named it
            codes = [self.names.known(n) for n in names]
            if any(c is None for c in codes):
                return set()  # a segment nobody was ever put in
        wanted = [c for c in codes if c is not None]
        out: set[str] = set()
        for shard in range(self.shards):
            for chunk in await self._chunks_with(shard, wanted):
                out.update(await self._scan(self.layout.chunk_keys(shard, chunk), wanted))
        return out

    # -- timers ----------------------------------------------------------------------------
    async def _timer_names(self, members: list[bytes]) -> list[tuple[str, str]]:
        """``(user, timer)`` of timer members ``<quoted id>\\x1f<code>``."""
        split = [member.decode().rpartition(SEP) for member in members]
        return await self._named(lambda: [(unquote(user), self.names.name(int(code))) for user, _, code in split],
                                 "a timer")

    async def claim_timers(self, now: float, limit: int, lease: float) -> list[tuple[str, str, float]]:
        await self._ready()
        prefix = [self.layout.timers(shard, 0)[:-1] for shard in range(self.shards)]
        found = await self._claim_shards(lambda shard, quota: (
            self._claim_timers, [self._k(shard, "h")], [_ms(now), quota, _ms(lease), prefix[shard]]), limit)
        named = await self._timer_names([member for _, member, _ in found])
        return [(user, name, float(due) / 1000) for (user, name), (_, _, due) in zip(named, found)]

    async def pending_timers(self, user: str) -> dict[str, float]:
        await self._ready()
        shard, bucket = self.layout.place(user)
        mine = (quote(user) + SEP).encode()
        members = await self._do(lambda: self.redis.zrange(self.layout.timers(shard, bucket), 0, -1, withscores=True))
        own = [(m, score) for m, score in members if m.startswith(mine) and SEP.encode() not in m[len(mine):]]
        named = await self._timer_names([m for m, _ in own])
        return {name: score / 1000 for (_, name), (_, score) in zip(named, own)}

    async def _per_shard(self, suffix: str, command: Callable[[Any, str], Any]) -> list[Any]:
        """``command(pipeline, key)`` on the ``suffix`` key of every shard, in one round trip."""
        return await self._pipelined(lambda pipe: [command(pipe, self._k(shard, suffix))
                                                   for shard in range(self.shards)])

    async def _earliest(self, suffix: str) -> float | None:
        heads = [float(r[0][1]) for r in await self._per_shard(suffix, lambda pipe, key: pipe.zrange(
            key, 0, 0, withscores=True)) if r]
        return min(heads) if heads else None

    async def next_timer_due(self) -> float | None:
        earliest = await self._earliest("h")
        return earliest / 1000 if earliest is not None else None

    async def count_timers(self) -> int:
        return sum(int(n or 0) for n in await self._per_shard("tn", lambda pipe, key: pipe.get(key)))

    # -- outbox ----------------------------------------------------------------------------
    async def _claim_shards(self, claim: Callable[[int, int], tuple[Any, list[str], list[Any]]],
                            limit: int) -> list[tuple[int, bytes, bytes]]:
        """Up to ``limit`` ``(shard, member, score)`` claimed with a lease, ``claim(shard, quota)``
        naming the script, keys and arguments that claim ``quota`` on one shard.

        Every shard is asked at once (one pipeline) for its share of what is still wanted; a
        shard that filled its share may hold more and is asked again, so a backlog on a few
        shards is drained as fast as one spread over all of them. The first shard asked moves
        on each call, so no shard waits behind the others.
        """
        found: list[tuple[int, bytes, bytes]] = []
        start = self._next_shard
        self._next_shard = (self._next_shard + 1) % self.shards
        shards = [(start + i) % self.shards for i in range(self.shards)]
        while shards and len(found) < limit:
            share, extra = divmod(limit - len(found), len(shards))
            quotas = [share + (i < extra) for i in range(len(shards))]
            asked = [(shard, quota) for shard, quota in zip(shards, quotas) if quota]
            answers = await self._claim_many([claim(shard, quota) for shard, quota in asked])
            shards = [shard for shard, quota in zip(shards, quotas) if not quota]
            for (shard, quota), raw in zip(asked, answers):
                found += [(shard, raw[j], raw[j + 1]) for j in range(0, len(raw), 2)]
                if len(raw) == 2 * quota:
                    shards.append(shard)
        return found

    async def _claim_many(self, calls: list[tuple[Any, list[str], list[Any]]]) -> list[list[bytes]]:
        """Each ``(script, keys, args)``: one pipeline (one call each on a Cluster)."""
        if self._batch is not None:
            return await self._run([_evalsha(script, keys, args) for script, keys, args in calls])
        answers = []
        for script, keys, args in calls:
            answers.append(await self._do(lambda: script(keys=keys, args=args)))
        return answers

    async def claim_outbox(self, now: float, limit: int, lease: float) -> list[OutboxItem]:
        claimed = await self._claim_shards(lambda shard, quota: (
            self._claim, [self._k(shard, "oq")], [repr(now), quota, repr(lease)]), limit)
        items = []
        for shard, member, score in claimed:
            due = float(score)
            item_id = member.decode()
            raw = await self._do(lambda: self.redis.hget(self._k(shard, "o"), item_id))
            if raw is None:  # acked meanwhile
                await self._do(lambda: self.redis.zrem(self._k(shard, "oq"), item_id))
                continue
            attempts, user_b, payload = raw.split(b"|", 2)
            items.append(OutboxItem(item_id, unquote(user_b.decode()), due, payload.decode(), int(attempts)))
        return items

    async def ack_outbox(self, item: OutboxItem) -> None:
        shard = self.shard(item.user)
        await self._do(lambda: self._ack(keys=[self._k(shard, "o"), self._k(shard, "oq")], args=[item.id]))

    async def retry_outbox(self, item: OutboxItem, due: float) -> None:
        item.attempts += 1
        item.due = due
        shard = self.shard(item.user)
        await self._do(lambda: self._retry(keys=[self._k(shard, "o"), self._k(shard, "oq")],
                                           args=[item.id, repr(due), item.attempts]))

    async def next_outbox_due(self) -> float | None:
        return await self._earliest("oq")

    async def outbox_size(self) -> int:
        return sum(await self._per_shard("oq", lambda pipe, key: pipe.zcard(key)))

    # dead letters sit in their customer's shard, beside the outbox, so a retry moves one back
    # atomically (one Lua script on one slot)
    async def add_dead_letter(self, item: OutboxItem, reason: str) -> None:
        entry = json.dumps({"id": item.id, "user": item.user, "payload": item.payload,
                            "attempts": item.attempts, "reason": reason, "at": time.time()}, ensure_ascii=False)
        await self._do(lambda: self.redis.hset(self._k(self.shard(item.user), "dead"), item.id, entry))

    async def dead_letters(self) -> list[tuple[OutboxItem, str]]:
        entries = [json.loads(v) for raw in await self._per_shard("dead", lambda pipe, key: pipe.hgetall(key))
                   for v in raw.values()]
        entries.sort(key=lambda e: e["at"])
        return [(OutboxItem(e["id"], e["user"], e["at"], e["payload"], e["attempts"]), e["reason"]) for e in entries]

    async def _dead_shard(self, item_id: str) -> int | None:
        for shard in range(self.shards):
            if await self._do(lambda: self.redis.hexists(self._k(shard, "dead"), item_id)):
                return shard
        return None

    async def remove_dead_letter(self, item_id: str) -> OutboxItem | None:
        shard = await self._dead_shard(item_id)
        if shard is None:
            return None
        raw = await self._do(lambda: self.redis.hget(self._k(shard, "dead"), item_id))
        if raw is None or not await self._do(lambda: self.redis.hdel(self._k(shard, "dead"), item_id)):
            return None
        e = json.loads(raw)
        return OutboxItem(e["id"], e["user"], time.time(), e["payload"], e["attempts"])

    async def requeue_dead_letter(self, item_id: str, due: float) -> OutboxItem | None:
        shard = await self._dead_shard(item_id)
        if shard is None:
            return None
        raw = await self._do(lambda: self._requeue(
            keys=[self._k(shard, "dead"), self._k(shard, "o"), self._k(shard, "oq")], args=[item_id, repr(due)]))
        if raw is None:
            return None
        e = json.loads(raw)
        return OutboxItem(e["id"], e["user"], due, e["payload"], 0)

    # -- small helpers ---------------------------------------------------------------------
    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._do(lambda: self.redis.set(self._g(f"k:{key}"), value, nx=True,
                                                          px=max(1, int(ttl * 1000)))))

    async def get(self, key: str) -> str | None:
        raw = await self._do(lambda: self.redis.get(self._g(f"k:{key}")))
        return raw.decode() if raw is not None else None

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        await self._do(lambda: self.redis.set(self._g(f"k:{key}"), value,
                                              px=max(1, int(ttl * 1000)) if ttl else None))

    async def delete(self, key: str, value: str | None = None) -> bool:
        if value is None:
            return bool(await self._do(lambda: self.redis.delete(self._g(f"k:{key}"))))
        return bool(await self._do(lambda: self._delete_if(keys=[self._g(f"k:{key}")], args=[value])))

    async def extend(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._do(lambda: self._extend_if(keys=[self._g(f"k:{key}")],
                                                           args=[value, max(1, int(ttl * 1000))])))

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        return int(await self._do(lambda: self._incr(keys=[self._g(f"k:{key}")], args=[amount, int(ttl or 0)])))

    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float:
        return float(await self._do(lambda: self._zincr(keys=[self._g(f"z:{key}")],
                                                        args=[amount, member, int((ttl or 0) * 1000)])))

    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]:
        raw = await self._do(lambda: self.redis.zrevrange(self._g(f"z:{key}"), 0, n - 1, withscores=True))
        return [(m.decode(), float(s)) for m, s in raw]

    async def zdelete(self, key: str) -> None:
        await self._do(lambda: self.redis.delete(self._g(f"z:{key}")))

    async def ping(self) -> None:
        """Redis answers, and the namespace is in this layout (else :class:`StoreLayoutError`)."""
        await self._do(self.redis.ping)
        await self._ready()

    async def close(self) -> None:
        if self._batch is not None:
            await self._batch.close()
        if isinstance(self.redis, aioredis.Redis):
            await self.redis.aclose(close_connection_pool=True)
        else:  # a RedisCluster closes its own nodes' pools
            await self.redis.aclose()

    # -- script versions (namespace-wide keys: one slot, so an append is one Lua script) -----
    async def append_script_version(self, script: str, expected: int, entry: str) -> bool:
        keys = [self._g(f"sv:{script}"), self._g("svn"), self._g("svg")]
        return bool(await self._do(lambda: self._append_version(keys=keys, args=[script, expected, entry])))

    async def script_versions(self, script: str) -> list[str]:
        raw = await self._do(lambda: self.redis.lrange(self._g(f"sv:{script}"), 0, -1))
        return [entry.decode() for entry in raw]

    async def versioned_scripts(self) -> list[str]:
        return sorted(name.decode() for name in await self._do(lambda: self.redis.smembers(self._g("svn"))))

    async def script_generation(self) -> int:
        return int(await self._do(lambda: self.redis.get(self._g("svg"))) or 0)
