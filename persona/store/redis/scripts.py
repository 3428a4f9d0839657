"""The Lua scripts of the Redis store: each one atomic step on one slot.

A script names every key it writes in ``KEYS`` except the bucket keys a timer claim or a
segment scan derives from a prefix; those carry the shard's hash tag, so they are in the
slot of the keys it was routed by.
"""

from __future__ import annotations

# The quoting of persona.store.redis.store.quote, for ids the scripts put into members and values.
_LUA_QUOTE = """
local function quote(s) return (string.gsub(s, '[%%|\\31]', {['%'] = '%25', ['|'] = '%7C', ['\\31'] = '%1F'})) end
"""

# Varints as persona.store.redis.records writes them, and the record envelope
# (version << 1 | compact, segment count, segment codes, payload).
_LUA_VARINT = """
local function rv(s, pos)
  local n, mul = 0, 1
  while true do
    local b = string.byte(s, pos)
    pos = pos + 1
    if b < 128 then return n + b * mul, pos end
    n = n + (b - 128) * mul
    mul = mul * 128
  end
end
local function wv(n)
  local t = {}
  while n > 127 do t[#t + 1] = string.char(n % 128 + 128); n = math.floor(n / 128) end
  t[#t + 1] = string.char(n)
  return table.concat(t)
end
"""

# KEYS: 1 bucket hash, 2 the bucket's big records, 3 dedupe key, 4 bucket timers zset, 5 heads
#       zset, 6 timer count, 7 outbox hash, 8 outbox zset, 9 journal, 10 tallies hash,
#       11 the chunk's segment summary
# ARGV: 1 uid, 2 the numbers, comma-separated (one argument: each one costs the client to
#       pack): expected version, compact (0/1), dedupe ttl (0: no dedupe key), journal cap,
#       journal ttl, bucket, largest listpack value, the code counting every customer in
#       the chunk's summary, then the counts of segment codes added,
#       removed, timers set, timers deleted, outbox items, journal lines, tallies, and 1 when
#       the customer is retired (record and segment entries deleted, not written);
#       3 payload, 4 dedupe result, then the items in that order (timers set as code, due in
#       ms; outbox items as id, due, payload; tallies as name, delta).
COMMIT = _LUA_QUOTE + _LUA_VARINT + """
local uid = ARGV[1]
local quid = quote(uid)
local h = {}
for n in string.gmatch(ARGV[2], '[^,]+') do h[#h + 1] = tonumber(n) end
local expected, compact, dedupe_ttl, journal_cap, journal_ttl, bucket, largest = h[1], h[2], h[3], h[4], h[5], h[6], h[7]
local everyone = h[8]
local n_add, n_del, n_tset, n_tdel, n_out, n_journal, n_tally = h[9], h[10], h[11], h[12], h[13], h[14], h[15]
if dedupe_ttl > 0 then
  local seen = redis.call('GET', KEYS[3])
  if seen then return {'dup', seen} end
end
local cur = redis.call('HGET', KEYS[1], uid)
local big = false
if not cur then
  cur = redis.call('HGET', KEYS[2], uid)
  big = cur and true or false
end
local version, segs = 0, {}
if cur then
  local head, pos = rv(cur, 1)
  version = math.floor(head / 2)
  local n
  n, pos = rv(cur, pos)
  for i = 1, n do
    local c
    c, pos = rv(cur, pos)
    segs[c] = true
  end
end
if version ~= expected then return {'conflict', tostring(version)} end
local retire = h[16] == 1
if not cur and not retire then redis.call('HINCRBY', KEYS[11], everyone, 1) end
local a = 5
for i = 1, n_add do
  local c = tonumber(ARGV[a])
  if not segs[c] then
    segs[c] = true
    redis.call('HINCRBY', KEYS[11], c, 1)
  end
  a = a + 1
end
for i = 1, n_del do
  local c = tonumber(ARGV[a])
  if segs[c] then
    segs[c] = nil
    if redis.call('HINCRBY', KEYS[11], c, -1) <= 0 then redis.call('HDEL', KEYS[11], c) end
  end
  a = a + 1
end
if retire then
  if cur then
    segs[everyone] = true
    for c in pairs(segs) do
      if redis.call('HINCRBY', KEYS[11], c, -1) <= 0 then redis.call('HDEL', KEYS[11], c) end
    end
    redis.call('HDEL', KEYS[1], uid)
    redis.call('HDEL', KEYS[2], uid)
  end
else
  local codes = {}
  for c in pairs(segs) do codes[#codes + 1] = c end
  table.sort(codes)
  local parts = {wv((version + 1) * 2 + compact), wv(#codes)}
  for _, c in ipairs(codes) do parts[#parts + 1] = wv(c) end
  parts[#parts + 1] = ARGV[3]
  local value = table.concat(parts)
  if #value <= largest and #uid <= largest then
    redis.call('HSET', KEYS[1], uid, value)
    if big then redis.call('HDEL', KEYS[2], uid) end
  else
    redis.call('HSET', KEYS[2], uid, value)
    if cur and not big then redis.call('HDEL', KEYS[1], uid) end
  end
end
if dedupe_ttl > 0 then redis.call('SET', KEYS[3], ARGV[4], 'EX', dedupe_ttl) end
if n_tset + n_tdel > 0 then
  local moved = 0
  for i = 1, n_tset do moved = moved + redis.call('ZADD', KEYS[4], ARGV[a + 1], quid .. '\\31' .. ARGV[a]); a = a + 2 end
  for i = 1, n_tdel do moved = moved - redis.call('ZREM', KEYS[4], quid .. '\\31' .. ARGV[a]); a = a + 1 end
  if moved ~= 0 then redis.call('INCRBY', KEYS[6], moved) end
  local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
  if first[1] then redis.call('ZADD', KEYS[5], first[2], bucket) else redis.call('ZREM', KEYS[5], bucket) end
end
for i = 1, n_out do
  redis.call('HSET', KEYS[7], ARGV[a], '0|' .. quid .. '|' .. ARGV[a + 2])
  redis.call('ZADD', KEYS[8], ARGV[a + 1], ARGV[a])
  a = a + 3
end
if n_journal > 0 then
  for i = 1, n_journal do redis.call('RPUSH', KEYS[9], ARGV[a]); a = a + 1 end
  redis.call('LTRIM', KEYS[9], -journal_cap, -1)
  redis.call('EXPIRE', KEYS[9], journal_ttl)
end
for i = 1, n_tally do redis.call('HINCRBY', KEYS[10], ARGV[a], ARGV[a + 1]); a = a + 2 end
return {'ok', tostring(version + 1)}
"""

# KEYS: 1 the shard's heads zset. ARGV: now (ms), limit, lease (ms), the bucket timer key prefix.
# Walks the buckets whose earliest timer is due, earliest first; every due timer found gets the
# lease as its score, and each visited bucket's head is set to what is now its earliest.
# Returns member, due pairs.
CLAIM_TIMERS = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local ready = now + tonumber(ARGV[3])
local out = {}
local buckets = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, b in ipairs(buckets) do
  local key = ARGV[4] .. b
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit - #out / 2)
  for i = 1, #due, 2 do
    redis.call('ZADD', key, ready, due[i])
    out[#out + 1] = due[i]
    out[#out + 1] = due[i + 1]
  end
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[1] then redis.call('ZADD', KEYS[1], first[2], b) else redis.call('ZREM', KEYS[1], b) end
  if #out >= limit * 2 then break end
end
return out
"""

# KEYS: record hashes (buckets and their big records). ARGV: segment codes.
# The ids of the customers whose records carry every one of the codes (all, without codes).
SCAN_SEGMENT = _LUA_VARINT + """
local need = {}
for i = 1, #ARGV do need[i] = tonumber(ARGV[i]) end
local out = {}
for k = 1, #KEYS do
  local all = redis.call('HGETALL', KEYS[k])
  for i = 1, #all, 2 do
    local v = all[i + 1]
    local ok = true
    if #need > 0 then
      local _, pos = rv(v, 1)
      local n
      n, pos = rv(v, pos)
      local have = {}
      for j = 1, n do
        local c
        c, pos = rv(v, pos)
        have[c] = true
      end
      for _, c in ipairs(need) do
        if not have[c] then ok = false; break end
      end
    end
    if ok then out[#out + 1] = all[i] end
  end
end
return out
"""

# KEYS: 1 zset. ARGV: now, limit, lease. Returns member, score pairs; bumps their score to now+lease.
CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
local ready = tonumber(ARGV[1]) + tonumber(ARGV[3])
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ready, due[i]) end
return due
"""

# KEYS: 1 outbox hash, 2 outbox zset. ARGV: id. (A script, not MULTI: Redis Cluster clients refuse MULTI.)
ACK = """
redis.call('HDEL', KEYS[1], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
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

# KEYS: 1 key. ARGV: value, ttl in ms. Returns 1 when the key held the value and was renewed.
EXTEND_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
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
