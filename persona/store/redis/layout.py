"""Where each thing lives in Redis: shards, buckets and key names.

A customer belongs to one of ``shards`` hash-tagged groups of keys, ``p:{<ns>.<n>}:…``, so
everything one commit touches sits in one Redis Cluster slot and a commit is one Lua script.
Inside its shard it belongs to one of ``buckets`` buckets: its record is a field of the
bucket's hash ``c:<b>`` and its timers members of the bucket's sorted set ``t:<b>``. Buckets
keep those hashes and sets small enough for Redis' listpack encoding (≤ 128 entries by
default), a few bytes per entry instead of ~70 in a hashtable or skiplist; the default
(16 shards × 8 192 buckets) keeps them under that up to ~10⁷ customers.

Keys of shard ``n`` (``p:{<ns>.<n>}:`` + …):

* ``c:<b>`` — bucket hash, customer id -> record (see :mod:`.records`);
* ``C:<b>`` — the bucket's records too big for a listpack value, so one large customer does
  not turn the whole bucket into a hashtable;
* ``sc:<k>`` — how many customers of the ``CHUNK`` buckets from ``k·CHUNK`` carry each segment
  code, and how many there are: a segment query scans only the chunks that hold some of its
  customers;
* ``t:<b>`` — bucket sorted set, ``<quoted id>\\x1f<timer code>`` -> due (ms), a lease while claimed;
* ``h`` — heads: bucket -> the earliest score in ``t:<b>``, what a claim walks;
* ``tn`` — how many timers the shard holds;
* ``d:…``, ``o``, ``oq``, ``j:…``, ``n``, ``dead`` — dedupe keys, outbox, journal, tallies,
  dead letters, as before.

Namespace-wide (``p:{<ns>}:…``): ``layout`` (this layout and its sizes, written once),
``names`` (the dictionary, :mod:`.names`), caches, leaderboards, script versions.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

#: the layout written by this version; 1 was one hash, one timer set and one set per segment per shard
FORMAT = 2
SHARDS = 16
BUCKETS = 8192
#: buckets per segment summary (about 250 customers at 10⁶, 2 500 at 10⁷)
CHUNK = 32
#: the summaries' count of every customer (a name no segment entry can have): ``users()``
#: scans only the chunks that hold someone
EVERYONE = "\x00customers"


class LayoutMismatch(Exception):
    """The namespace was written with another layout or other sizes."""


@dataclass(frozen=True, slots=True)
class Layout:
    namespace: str
    shards: int = SHARDS
    buckets: int = BUCKETS

    def place(self, user: str) -> tuple[int, int]:
        """``(shard, bucket)`` of a customer: fixed for the life of the namespace."""
        h = zlib.crc32(user.encode())
        return h % self.shards, (h // self.shards) % self.buckets

    def key(self, shard: int, suffix: str) -> str:
        return f"p:{{{self.namespace}.{shard}}}:{suffix}"

    def wide(self, suffix: str) -> str:
        """A namespace-wide key (the dictionary, token cache, leaderboards)."""
        return f"p:{{{self.namespace}}}:{suffix}"

    def records(self, shard: int, bucket: int) -> str:
        return self.key(shard, f"c:{bucket}")

    def big(self, shard: int, bucket: int) -> str:
        return self.key(shard, f"C:{bucket}")

    def summary(self, shard: int, bucket: int) -> str:
        """The segment summary of the chunk holding ``bucket``."""
        return self.key(shard, f"sc:{bucket // CHUNK}")

    def chunks(self) -> int:
        return -(-self.buckets // CHUNK)

    def chunk_keys(self, shard: int, chunk: int) -> list[str]:
        """Every record hash of one chunk: its buckets and their big records."""
        buckets = range(chunk * CHUNK, min((chunk + 1) * CHUNK, self.buckets))
        return [self.records(shard, b) for b in buckets] + [self.big(shard, b) for b in buckets]

    def timers(self, shard: int, bucket: int) -> str:
        return self.key(shard, f"t:{bucket}")

    def marker(self) -> str:
        """What ``p:{<ns>}:layout`` holds for this layout."""
        return f"{FORMAT} shards={self.shards} buckets={self.buckets}"

    def check(self, stored: str) -> None:
        if stored != self.marker():
            raise LayoutMismatch(f"stored as {stored!r}, opened as {self.marker()!r}")

    def legacy_keys(self) -> list[str]:
        """The per-shard customer hashes of format 1: present means data in the old layout."""
        return [self.key(shard, "c") for shard in range(self.shards)]
