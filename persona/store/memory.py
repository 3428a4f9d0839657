"""``memory://`` — everything in dicts, for tests and the chat simulator. One process only."""

from __future__ import annotations

import time
from collections import deque

from ..errors import ConflictError
from .base import Commit, CommitResult, Loaded, OutboxItem, Store
from .versions import ScriptVersionStore


class MemoryStore(Store, ScriptVersionStore):
    def __init__(self, url: str = "memory://", namespace: str = "default") -> None:
        self.url, self.namespace = url, namespace
        self.records: dict[str, tuple[int, bytes]] = {}
        self.dedupe: dict[tuple[str, str], tuple[str, float]] = {}
        self.timers: dict[tuple[str, str], float] = {}
        self.timer_leases: dict[tuple[str, str], float] = {}
        self.outbox: dict[str, OutboxItem] = {}
        self.outbox_leases: dict[str, float] = {}
        self.segments: dict[str, set[str]] = {}
        self.journals: dict[str, deque[str]] = {}
        self.kv: dict[str, tuple[str, float | None]] = {}
        self.zsets: dict[str, dict[str, float]] = {}
        self.zexpires: dict[str, float] = {}  # board -> when it goes
        self.dead: dict[str, tuple[OutboxItem, str]] = {}
        self.script_entries: dict[str, list[str]] = {}
        self.counts: dict[str, int] = {}

    async def load(self, user: str, dedupe_key: str | None = None) -> Loaded:
        version, record = self.records.get(user, (0, None))
        return Loaded(record, version, self._seen(user, dedupe_key))

    def _seen(self, user: str, key: str | None) -> str | None:
        if key is None:
            return None
        hit = self.dedupe.get((user, key))
        if hit is None or hit[1] < time.time():
            return None
        return hit[0]

    async def commit(self, c: Commit) -> CommitResult:
        seen = self._seen(c.user, c.dedupe_key)
        if seen is not None:
            return CommitResult(False, seen)
        if self.records.get(c.user, (0, None))[0] != c.expected_version:
            raise ConflictError(f"customer {c.user!r} changed since it was loaded")
        if c.retire:
            del self.records[c.user]
            for members in self.segments.values():
                members.discard(c.user)
        else:
            self.records[c.user] = (c.expected_version + 1, c.record)
        if c.dedupe_key is not None:
            self.dedupe[(c.user, c.dedupe_key)] = (c.dedupe_result, time.time() + c.dedupe_ttl)
        for item in c.outbox:
            self.outbox[item.id] = item
        for name, due in c.timers_set.items():
            self.timers[(c.user, name)] = due
            self.timer_leases.pop((c.user, name), None)
        for name in c.timers_del:
            self.timers.pop((c.user, name), None)
            self.timer_leases.pop((c.user, name), None)
        for seg in c.segments_add:
            self.segments.setdefault(seg, set()).add(c.user)
        for seg in c.segments_del:
            self.segments.get(seg, set()).discard(c.user)
        for name, delta in c.tallies.items():
            self.counts[name] = self.counts.get(name, 0) + delta
        if c.journal:
            journal = self.journals.get(c.user)
            if journal is None or journal.maxlen != c.journal_cap:
                journal = self.journals[c.user] = deque(journal or (), maxlen=c.journal_cap)
            journal.extend(c.journal)
        return CommitResult(True)

    async def journal(self, user: str, limit: int = 100) -> list[str]:
        return list(self.journals.get(user, ()))[-limit:]

    async def users(self) -> list[str]:
        return sorted(self.records)

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        return {k: v for k, v in self.counts.items() if k.startswith(prefix)}

    async def reset_tallies(self, prefix: str, values: dict[str, int]) -> None:
        self.counts = {k: v for k, v in self.counts.items() if not k.startswith(prefix)}
        self.counts.update(values)

    async def segment(self, *names: str) -> set[str]:
        if not names:
            return set()
        sets = [self.segments.get(n, set()) for n in names]
        return set.intersection(*sets) if sets else set()

    async def claim_timers(self, now: float, limit: int, lease: float) -> list[tuple[str, str, float]]:
        due = sorted((d, key) for key, d in self.timers.items()
                     if d <= now and self.timer_leases.get(key, 0) <= now)[:limit]
        for _, key in due:
            self.timer_leases[key] = now + lease
        return [(key[0], key[1], d) for d, key in due]

    async def pending_timers(self, user: str) -> dict[str, float]:
        return {name: due for (u, name), due in self.timers.items() if u == user}

    async def next_timer_due(self) -> float | None:
        ready = [max(d, self.timer_leases.get(k, 0)) for k, d in self.timers.items()]
        return min(ready) if ready else None

    async def count_timers(self) -> int:
        return len(self.timers)

    async def claim_outbox(self, now: float, limit: int, lease: float) -> list[OutboxItem]:
        due = sorted((item.due, item.id) for item in self.outbox.values()
                     if item.due <= now and self.outbox_leases.get(item.id, 0) <= now)[:limit]
        for _, item_id in due:
            self.outbox_leases[item_id] = now + lease
        return [self.outbox[i] for _, i in due]

    async def ack_outbox(self, item: OutboxItem) -> None:
        self.outbox.pop(item.id, None)
        self.outbox_leases.pop(item.id, None)

    async def retry_outbox(self, item: OutboxItem, due: float) -> None:
        if item.id in self.outbox:
            stored = self.outbox[item.id]
            stored.attempts += 1
            stored.due = due
            item.attempts, item.due = stored.attempts, due
            self.outbox_leases.pop(item.id, None)

    async def next_outbox_due(self) -> float | None:
        ready = [max(i.due, self.outbox_leases.get(i.id, 0)) for i in self.outbox.values()]
        return min(ready) if ready else None

    async def outbox_size(self) -> int:
        return len(self.outbox)

    async def add_dead_letter(self, item: OutboxItem, reason: str) -> None:
        self.dead[item.id] = (item, reason)

    async def dead_letters(self) -> list[tuple[OutboxItem, str]]:
        return list(self.dead.values())

    async def remove_dead_letter(self, item_id: str) -> OutboxItem | None:
        found = self.dead.pop(item_id, None)
        return found[0] if found else None

    async def requeue_dead_letter(self, item_id: str, due: float) -> OutboxItem | None:
        found = self.dead.pop(item_id, None)
        if found is None:
            return None
        item = OutboxItem(found[0].id, found[0].user, due, found[0].payload, 0)
        self.outbox[item.id] = item
        self.outbox_leases.pop(item.id, None)
        return item

    def _live(self, key: str) -> str | None:
        hit = self.kv.get(key)
        if hit is None:
            return None
        if hit[1] is not None and hit[1] < time.time():
            del self.kv[key]
            return None
        return hit[0]

    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) is not None:
            return False
        self.kv[key] = (value, time.time() + ttl)
        return True

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        self.kv[key] = (value, time.time() + ttl if ttl else None)

    async def delete(self, key: str, value: str | None = None) -> bool:
        current = self._live(key)
        if current is None or (value is not None and current != value):
            return False
        del self.kv[key]
        return True

    async def extend(self, key: str, value: str, ttl: float) -> bool:
        if self._live(key) != value:
            return False
        self.kv[key] = (value, time.time() + ttl)
        return True

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        current = self._live(key)
        expires = self.kv[key][1] if current is not None else (time.time() + ttl if ttl else None)
        value = int(current or 0) + amount
        self.kv[key] = (str(value), expires)
        return value

    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float:
        board = self._board(key)
        if board is None:
            board = self.zsets[key] = {}
            if ttl:
                self.zexpires[key] = time.time() + ttl
        board[member] = board.get(member, 0.0) + amount
        return board[member]

    def _board(self, key: str) -> dict[str, float] | None:
        expires = self.zexpires.get(key)
        if expires is not None and expires <= time.time():
            self.zsets.pop(key, None)
            self.zexpires.pop(key, None)
        return self.zsets.get(key)

    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]:
        board = self._board(key) or {}
        return sorted(board.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    async def zdelete(self, key: str) -> None:
        self.zsets.pop(key, None)
        self.zexpires.pop(key, None)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- script versions -------------------------------------------------------------------
    async def append_script_version(self, script: str, expected: int, entry: str) -> bool:
        entries = self.script_entries.setdefault(script, [])
        if len(entries) != expected:
            return False
        entries.append(entry)
        return True

    async def script_versions(self, script: str) -> list[str]:
        return list(self.script_entries.get(script, ()))

    async def versioned_scripts(self) -> list[str]:
        return sorted(name for name, entries in self.script_entries.items() if entries)

    async def script_generation(self) -> int:
        return sum(len(entries) for entries in self.script_entries.values())
