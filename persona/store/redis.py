"""``redis://HOST:PORT/DB`` — many processes, millions of customers.

Customers are spread over ``shards`` hash-tagged groups of keys, ``p:{<bot>.<n>}:…``. All keys
of one customer — its record (a field of the shard's hash), dedupe keys, timers, outbox items,
segment memberships and journal — share that hash tag, so a turn's commit is one Lua script
on one Redis Cluster slot, and the per-shard sorted sets let workers claim due timers without
scanning customers. ``redis+cluster://HOST:PORT`` connects to a Redis Cluster.

Where a customer id sits inside a composite string — a timer member ``<id>\\x1f<timer>``, a
dedupe key ``d:<id>\\x1f<key>``, an outbox value ``<attempts>|<id>|<payload>`` — it is quoted
first (``%`` -> ``%25``, ``|`` -> ``%7C``, ``\\x1f`` -> ``%1F``), so no id can reach across a
separator into another customer's data; ids without those characters are stored as they are.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from typing import Any, Awaitable, Callable, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..errors import ConflictError, StoreUnavailable
from .base import Commit, CommitResult, Loaded, OutboxItem, Store
from .batching import Batcher, Command
from .versions import ScriptVersionStore

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
_QUOTED = {"%": "%25", "|": "%7C", SEP: "%1F"}
_UNQUOTED = {v: k for k, v in _QUOTED.items()}
_QUOTE = re.compile(r"[%|\x1f]")
_UNQUOTE = re.compile(r"%(?:25|7C|1F)")
_GLOB = re.compile(r"([\\*?\[\]])")

# The same quoting in Lua, for ids the scripts put into members and values themselves.
_LUA_QUOTE = """
local function quote(s) return (string.gsub(s, '[%%|\\31]', {['%'] = '%25', ['|'] = '%7C', ['\\31'] = '%1F'})) end
"""


def quote(user: str) -> str:
    """``user`` with the characters the composite strings split on escaped."""
    return _QUOTE.sub(lambda m: _QUOTED[m.group()], user) if _QUOTE.search(user) else user


def unquote(text: str) -> str:
    """The id :func:`quote` was given."""
    return _UNQUOTE.sub(lambda m: _UNQUOTED[m.group()], text) if "%" in text else text

# KEYS: 1 customers hash, 2 dedupe key, 3 timers zset, 4 outbox hash, 5 outbox zset, 6 journal,
#       7 tallies hash, 8.. segment sets (added first, then removed)
# ARGV: uid, expected, record, dedupe_result, dedupe_ttl, journal_cap, journal_ttl,
#       n_seg_add, n_timer_set, n_timer_del, n_outbox, n_journal, n_tally, then the items in
#       that order (tallies as name, delta pairs).
COMMIT = _LUA_QUOTE + """
local uid = ARGV[1]
local quid = quote(uid)
if ARGV[5] ~= '0' then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {'dup', seen} end
end
local cur = redis.call('HGET', KEYS[1], uid)
local version = 0
if cur then version = tonumber(string.match(cur, '^(%d+)|')) end
if version ~= tonumber(ARGV[2]) then return {'conflict', tostring(version)} end
redis.call('HSET', KEYS[1], uid, (version + 1) .. '|' .. ARGV[3])
if ARGV[5] ~= '0' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5]) end
local n_seg_add, n_tset, n_tdel = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local n_out, n_journal = tonumber(ARGV[11]), tonumber(ARGV[12])
for i = 8, #KEYS do
  if i - 7 <= n_seg_add then redis.call('SADD', KEYS[i], uid) else redis.call('SREM', KEYS[i], uid) end
end
local a = 14
for i = 1, n_tset do redis.call('ZADD', KEYS[3], ARGV[a + 1], quid .. '\\31' .. ARGV[a]); a = a + 2 end
for i = 1, n_tdel do redis.call('ZREM', KEYS[3], quid .. '\\31' .. ARGV[a]); a = a + 1 end
for i = 1, n_out do
  redis.call('HSET', KEYS[4], ARGV[a], '0|' .. quid .. '|' .. ARGV[a + 2])
  redis.call('ZADD', KEYS[5], ARGV[a + 1], ARGV[a])
  a = a + 3
end
if n_journal > 0 then
  for i = 1, n_journal do redis.call('RPUSH', KEYS[6], ARGV[a]); a = a + 1 end
  redis.call('LTRIM', KEYS[6], -tonumber(ARGV[6]), -1)
  redis.call('EXPIRE', KEYS[6], ARGV[7])
end
for i = 1, tonumber(ARGV[13]) do redis.call('HINCRBY', KEYS[7], ARGV[a], ARGV[a + 1]); a = a + 2 end
return {'ok', tostring(version + 1)}
"""

# KEYS: 1 zset. ARGV: now, limit, lease. Returns member, score pairs; bumps their score to now+lease.
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local ready = tonumber(ARGV[1]) + tonumber(ARGV[3])
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ready, due[i]) end
return due
"""

# KEYS: 1 outbox hash, 2 outbox zset. ARGV: id, due, attempts
RETRY = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local rest = string.match(cur, '^%d+|(.*)$')
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. '|' .. rest)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

# KEYS: 1 key. ARGV: value. Delete only if the key still holds value.
DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: 1 dead hash, 2 outbox hash, 3 outbox zset. ARGV: id, due. Returns the dead entry or nil.
REQUEUE = _LUA_QUOTE + """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return nil end
local e = cjson.decode(raw)
redis.call('HSET', KEYS[2], ARGV[1], '0|' .. quote(e['user']) .. '|' .. e['payload'])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return raw
"""

# KEYS: 1 the script's version list, 2 the set of versioned scripts, 3 the generation counter.
# ARGV: script, expected, entry. Appends only if the list still has ``expected`` entries.
APPEND_VERSION = """
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
"""

INCR = """
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if tonumber(ARGV[2]) > 0 and redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return v
"""


ZINCR = """
local v = redis.call('ZINCRBY', KEYS[1], ARGV[1], ARGV[2])
if tonumber(ARGV[3]) > 0 and redis.call('TTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return v
"""


class RedisStore(Store, ScriptVersionStore):
    def __init__(self, url: str, namespace: str = "default", *, shards: int = 16,
                 max_connections: int = 64, client: Any = None) -> None:
        self.url, self.namespace, self.shards = url, namespace, shards
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
        self._commit = self.redis.register_script(COMMIT)
        self._claim = self.redis.register_script(CLAIM)
        self._retry = self.redis.register_script(RETRY)
        self._delete_if = self.redis.register_script(DELETE_IF)
        self._incr = self.redis.register_script(INCR)
        self._zincr = self.redis.register_script(ZINCR)
        self._requeue = self.redis.register_script(REQUEUE)
        self._append_version = self.redis.register_script(APPEND_VERSION)
        self._next_shard = 0
        # group commit: the loads and commits of one loop tick share a pipeline (one slot per
        # command is not guaranteed across a batch, so a Cluster sends each request alone);
        # a batch gets the time one command may take (the URL's socket_timeout, if it says)
        self._batch: Batcher | None = None
        if isinstance(self.redis, aioredis.Redis):
            connections = self.redis.connection_pool
            self._batch = Batcher(connections, {self._commit.sha: COMMIT, self._claim.sha: CLAIM},
                                  connections.connection_kwargs.get("socket_timeout"))

    # -- keys ------------------------------------------------------------------------------
    def shard(self, user: str) -> int:
        return zlib.crc32(user.encode()) % self.shards

    def _k(self, shard: int, suffix: str) -> str:
        return f"p:{{{self.namespace}.{shard}}}:{suffix}"

    def _g(self, suffix: str) -> str:
        """A namespace-wide key (token cache, leaderboards)."""
        return f"p:{{{self.namespace}}}:{suffix}"

    async def _do(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis at {self.url} is unreachable: {exc}") from None
        except ResponseError:
            raise
        except RedisError as exc:
            raise StoreUnavailable(f"Redis at {self.url}: {exc}") from None

    # -- customers -------------------------------------------------------------------------
    async def _run(self, commands: list[Command]) -> list[Any]:
        """One request's commands, in the tick's shared pipeline (alone on a Cluster)."""
        async def alone() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies

        batch = self._batch
        replies = await self._do(alone if batch is None else lambda: batch.run(commands))
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        return replies

    async def load(self, user: str, dedupe_key: str | None = None) -> Loaded:
        shard = self.shard(user)
        commands: list[Command] = [("HGET", self._k(shard, "c"), user)]
        if dedupe_key is not None:
            commands.append(("GET", self._k(shard, f"d:{quote(user)}{SEP}{dedupe_key}")))
        replies = await self._run(commands)
        raw, seen = replies[0], replies[1] if dedupe_key is not None else None
        if raw is None:
            return Loaded(None, 0, seen.decode() if seen is not None else None)
        version, _, record = raw.partition(b"|")
        return Loaded(record, int(version), seen.decode() if seen is not None else None)

    async def commit(self, c: Commit) -> CommitResult:
        shard = self.shard(c.user)
        # without a dedupe key, KEYS[2] is a same-slot placeholder and a ttl of 0 says "none"
        keys = [self._k(shard, "c"), self._k(shard, f"d:{quote(c.user)}{SEP}{c.dedupe_key or ''}"),
                self._k(shard, "t"), self._k(shard, "o"), self._k(shard, "oq"), self._k(shard, f"j:{c.user}"),
                self._k(shard, "n")]
        keys += [self._k(shard, f"s:{s}") for s in (*c.segments_add, *c.segments_del)]
        args: list[Any] = [c.user, c.expected_version, c.record, c.dedupe_result,
                           c.dedupe_ttl if c.dedupe_key is not None else 0,
                           c.journal_cap, c.journal_ttl, len(c.segments_add), len(c.timers_set),
                           len(c.timers_del), len(c.outbox), len(c.journal), len(c.tallies)]
        for name, due in c.timers_set.items():
            args += [name, repr(float(due))]
        args += c.timers_del
        for item in c.outbox:
            args += [item.id, repr(float(item.due)), item.payload]
        args += c.journal
        for name, delta in c.tallies.items():
            args += [name, int(delta)]
        if self._batch is None:
            status, detail = await self._do(lambda: self._commit(keys=keys, args=args))
        else:
            [(status, detail)] = await self._run([("EVALSHA", self._commit.sha, len(keys), *keys, *args)])
        if status == b"dup":
            return CommitResult(False, detail.decode())
        if status == b"conflict":
            raise ConflictError(f"customer {c.user!r} changed since it was loaded")
        return CommitResult(True)

    async def journal(self, user: str, limit: int = 100) -> list[str]:
        raw = await self._do(lambda: self.redis.lrange(self._k(self.shard(user), f"j:{user}"), -limit, -1))
        return [line.decode() for line in raw]

    async def users(self) -> list[str]:
        return sorted(k.decode() for keys in await self._per_shard("c", lambda pipe, key: pipe.hkeys(key))
                      for k in keys)

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
        if not names:
            return set()
        out: set[str] = set()
        for shard in range(self.shards):
            keys = [self._k(shard, f"s:{n}") for n in names]
            members = await self._do(lambda: self.redis.sinter(keys))
            out |= {m.decode() for m in members}
        return out

    # -- timers ----------------------------------------------------------------------------
    async def _claim_shards(self, suffix: str, now: float, limit: int, lease: float) -> list[tuple[int, bytes, float]]:
        """Up to ``limit`` due members of the shards' ``suffix`` sets, claimed with a lease.

        Every shard is asked at once (one pipeline) for its share of what is still wanted; a
        shard that filled its share may hold more and is asked again, so a backlog on a few
        shards is drained as fast as one spread over all of them. The first shard asked moves
        on each call, so no shard waits behind the others.
        """
        found: list[tuple[int, bytes, float]] = []
        start = self._next_shard
        self._next_shard = (self._next_shard + 1) % self.shards
        shards = [(start + i) % self.shards for i in range(self.shards)]
        while shards and len(found) < limit:
            share, extra = divmod(limit - len(found), len(shards))
            quotas = [share + (i < extra) for i in range(len(shards))]
            asked = [(shard, quota) for shard, quota in zip(shards, quotas) if quota]
            answers = await self._claim_many(suffix, asked, now, lease)
            shards = [shard for shard, quota in zip(shards, quotas) if not quota]
            for (shard, quota), raw in zip(asked, answers):
                found += [(shard, raw[j], float(raw[j + 1])) for j in range(0, len(raw), 2)]
                if len(raw) == 2 * quota:
                    shards.append(shard)
        return found

    async def _claim_many(self, suffix: str, asked: list[tuple[int, int]], now: float,
                          lease: float) -> list[list[bytes]]:
        """The claim script on each ``(shard, limit)``: one pipeline (one call each on a Cluster)."""
        if self._batch is not None:
            return await self._run([("EVALSHA", self._claim.sha, 1, self._k(shard, suffix), repr(now), quota,
                                     repr(lease)) for shard, quota in asked])
        answers = []
        for shard, quota in asked:
            key = self._k(shard, suffix)
            answers.append(await self._do(lambda: self._claim(keys=[key], args=[repr(now), quota, repr(lease)])))
        return answers

    async def claim_timers(self, now: float, limit: int, lease: float) -> list[tuple[str, str, float]]:
        out = []
        for _, member, due in await self._claim_shards("t", now, limit, lease):
            user, _, name = member.decode().partition(SEP)
            out.append((unquote(user), name, due))
        return out

    async def pending_timers(self, user: str) -> dict[str, float]:
        key = self._k(self.shard(user), "t")
        out = {}
        pattern = _GLOB.sub(r"\\\1", quote(user)) + SEP + "*"  # "*" in an id matches only itself
        async for member, score in self.redis.zscan_iter(key, match=pattern):
            out[member.decode().partition(SEP)[2]] = score
        return out

    async def _per_shard(self, suffix: str, command: Callable[[Any, str], Any]) -> list[Any]:
        """``command(pipeline, key)`` on the ``suffix`` key of every shard, in one round trip."""
        async def run() -> list[Any]:
            pipe = self.redis.pipeline(transaction=False)
            for shard in range(self.shards):
                command(pipe, self._k(shard, suffix))
            answers: list[Any] = await pipe.execute()
            return answers

        return await self._do(run)

    async def _earliest(self, suffix: str) -> float | None:
        heads = [float(r[0][1]) for r in await self._per_shard(suffix, lambda pipe, key: pipe.zrange(
            key, 0, 0, withscores=True)) if r]
        return min(heads) if heads else None

    async def next_timer_due(self) -> float | None:
        return await self._earliest("t")

    async def count_timers(self) -> int:
        return sum(await self._per_shard("t", lambda pipe, key: pipe.zcard(key)))

    # -- outbox ----------------------------------------------------------------------------
    async def claim_outbox(self, now: float, limit: int, lease: float) -> list[OutboxItem]:
        claimed = await self._claim_shards("oq", now, limit, lease)
        items = []
        for shard, member, due in claimed:
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

        async def run() -> None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.hdel(self._k(shard, "o"), item.id)
            pipe.zrem(self._k(shard, "oq"), item.id)
            await pipe.execute()

        await self._do(run)

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
        await self._do(self.redis.ping)

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
