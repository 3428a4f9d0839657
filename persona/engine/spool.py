"""A local, durable list of what the store has not taken yet: callback turns answered
``success`` before they committed, and sends the platform accepted before their ack.

WeChat retries a callback only when it gets no answer or an error. Once the service answered
``success`` at the deadline, the turn still running is the only copy of the input: if the
store then fails (a Redis that hangs, a failover), nothing would ever bring the input back.
So before ``success`` goes out for a turn that has not committed, the input is written here —
a SQLite file beside the process (fsync'd on every write), not the store, which may be the
thing that is failing — and replayed in the background until the store takes it. The input's
dedupe key (the MsgId) makes a replay of a turn that committed after all a no-op, so each
input commits exactly once either way. When the spool itself cannot be written, the callback
answers 503 instead, and WeChat retries.

Delivery keeps the other half here: each send the platform accepted is written to the file
before its ack goes to the store, and forgotten once the store took the ack. A store that fails
the ack (or a process killed between the two) leaves the record, and delivery acks those items
before it claims anything again; every process on the machine also checks what it claims
against its siblings' files (:meth:`Spool.holding`): a store outage of any length never makes
one machine send a message twice. (A process on another machine claiming the item once its
lease ran out cannot read this file; there only the platform's idempotency keys help.)

The file is created on the first write. Several processes on one machine may share it (a
replay claims its entry with a lease, like timers in the store), but each write is fsync'd under
SQLite's one write lock, so ``persona serve --workers N`` gives each worker a file of its own
(:func:`worker_path`), and has the first adopt the files of workers no longer started.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_type_hints

from ..errors import PersonaError, StoreUnavailable
from ..model.inputs import BusinessEvent, Input, MediaMessage, PlatformEvent, TextMessage

if TYPE_CHECKING:  # the CLI reads DEFAULT_PATH without loading the runtime
    from ..metrics import Metrics
    from .runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_PATH = "./persona-spool.db"

#: How long an entry belongs to the turn that wrote it before anyone may replay it: the turn
#: is still running in this process, and usually ends (and clears the entry) long before.
IN_FLIGHT_LEASE = 60.0
#: How long a replay holds its entry.
REPLAY_LEASE = 30.0
#: Longest wait between two replays of one entry.
MAX_BACKOFF = 60.0
#: Ids per statement (SQLite's limit on bound parameters is far above it).
CHUNK = 500

_TYPES: dict[str, type[Input]] = {cls.__name__: cls for cls in
                                  (TextMessage, MediaMessage, PlatformEvent, BusinessEvent)}

SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, bot TEXT NOT NULL,
    input TEXT NOT NULL, added REAL NOT NULL, ready REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT);
CREATE INDEX IF NOT EXISTS spool_ready ON spool (bot, ready);
CREATE TABLE IF NOT EXISTS sent (bot TEXT NOT NULL, item TEXT NOT NULL, user TEXT NOT NULL,
    result TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (bot, item));
"""


@dataclass(frozen=True, slots=True)
class Sent:
    """An outbox item the platform accepted whose ack the store may not have taken yet."""

    item: str
    user: str
    result: str  # JSON of what the send returned (msgid, pending, note)


def worker_path(path: str | Path, worker: int) -> Path:
    """Worker ``worker``'s spool beside ``path``: the first keeps ``path`` itself (so going from
    one process to several, or back, loses no file), worker 3 of ``spool.db`` has ``spool-3.db``."""
    path = Path(path)
    return path if worker <= 1 else path.with_name(f"{path.stem}-{worker}{path.suffix}")


#: The most processes ``persona serve --workers`` starts: a file named like a worker's spool
#: with a larger number (``spool-20240101.db``, a dated copy) is not one, and is never replayed.
MAX_WORKERS = 256


def leftovers(path: str | Path, workers: int) -> list[Path]:
    """Spool files of workers beyond ``workers`` (a run with more of them left these behind)."""
    path = Path(path)
    found = []
    for candidate in path.parent.glob(f"{path.stem}-*{path.suffix}"):
        number = candidate.name[len(path.stem) + 1:len(candidate.name) - len(path.suffix)]
        if (number.isdigit() and workers < int(number) <= MAX_WORKERS
                and candidate == worker_path(path, int(number))):
            found.append(candidate)
    return sorted(found)


class SpoolError(PersonaError):
    """The spool file cannot be written; the callback must not be answered ``success``."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One spooled input."""

    id: int
    bot: str
    input: Input
    attempts: int


def encode(inp: Input) -> str:
    """``inp`` as one JSON document :func:`decode` turns back into an equal input."""
    name = type(inp).__name__
    if name not in _TYPES:
        raise SpoolError(f"a {name} cannot be spooled (only callback and event inputs)")
    return json.dumps({"type": name, "fields": asdict(inp)}, ensure_ascii=False, separators=(",", ":"))


def decode(text: str) -> Input:
    data = json.loads(text)
    cls = _TYPES[data["type"]]
    enums = _enum_fields(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data["fields"]:
            value = data["fields"][f.name]
            values[f.name] = enums[f.name](value) if f.name in enums and value is not None else value
    return cls(**values)


def _enum_fields(cls: type) -> dict[str, type[Enum]]:
    """The fields of ``cls`` holding an Enum (``Platform | None`` included), by name."""
    found: dict[str, type[Enum]] = {}
    for name, hint in get_type_hints(cls).items():
        for option in get_args(hint) or (hint,):
            if isinstance(option, type) and issubclass(option, Enum):
                found[name] = option
    return found


class Spool:
    """The spool file at ``path``, opened on first use."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if self._db is None and (create or self.path.exists()):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(self.path), timeout=2.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")  # an entry is on disk before "success"
                db.executescript(SCHEMA)
            except (sqlite3.Error, OSError) as exc:
                raise SpoolError(f"cannot open the spool {self.path}: {exc}") from None
            self._db = db
        return self._db

    def add(self, bot: str, inp: Input) -> int:
        """Write ``inp`` for ``bot``, on disk when this returns; raises :class:`SpoolError`."""
        text = encode(inp)
        db = self._open(create=True)
        assert db is not None
        now = time.time()
        try:
            cursor = db.execute("INSERT INTO spool (bot, input, added, ready) VALUES (?,?,?,?)",
                                (bot, text, now, now + IN_FLIGHT_LEASE))
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot write to the spool {self.path}: {exc}") from None
        return int(cursor.lastrowid or 0)

    def done(self, entry: int) -> None:
        """The input committed (or was a duplicate): forget it."""
        self._write("DELETE FROM spool WHERE id=?", entry)

    def failed(self, entry: int, error: str, delay: float) -> None:
        """The turn failed: replay the input after ``delay`` seconds."""
        self._write("UPDATE spool SET ready=?, attempts=attempts+1, error=? WHERE id=?",
                    time.time() + delay, error[:500], entry)

    def claim(self, bot: str, limit: int = 100, lease: float = REPLAY_LEASE) -> list[Entry]:
        """Up to ``limit`` of ``bot``'s entries due for a replay, hidden from others for ``lease``."""
        db = self._open(create=False)
        if db is None:
            return []
        now = time.time()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute("SELECT id, input, attempts FROM spool WHERE bot=? AND ready<=? "
                                  "ORDER BY id LIMIT ?", (bot, now, limit)).fetchall()
                db.executemany("UPDATE spool SET ready=? WHERE id=?", [(now + lease, r[0]) for r in rows])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            log.error("cannot read the spool %s: %s", self.path, exc)
            return []
        entries = []
        for entry_id, text, attempts in rows:
            try:
                entries.append(Entry(entry_id, bot, decode(text), attempts))
            except (ValueError, KeyError, TypeError) as exc:  # written by another version
                log.error("spool entry %s cannot be read (%s); left in %s", entry_id, exc, self.path)
                self._write("UPDATE spool SET ready=? WHERE id=?", float("inf"), entry_id)
        return entries

    # -- sends the platform accepted, until the store takes their ack -----------------------
    def record_sent(self, bot: str, items: Sequence[tuple[str, str]], result: str) -> None:
        """``items`` (id, user) were accepted by the platform: on disk when this returns, so a
        store that fails the ack, or a process killed before it, never sends them again.
        Raises :class:`SpoolError` when the file cannot be written."""
        db = self._open(create=True)
        assert db is not None
        now = time.time()
        try:
            db.executemany("INSERT OR REPLACE INTO sent (bot, item, user, result, at) VALUES (?,?,?,?,?)",
                           [(bot, item, user, result, now) for item, user in items])
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot write to the spool {self.path}: {exc}") from None

    def sent(self, bot: str) -> list[Sent]:
        """The sends of ``bot`` still waiting for their ack, oldest first."""
        db = self._open(create=False)
        if db is None:
            return []
        try:
            rows = db.execute("SELECT item, user, result FROM sent WHERE bot=? ORDER BY at, item", (bot,)).fetchall()
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot read the spool {self.path}: {exc}") from None
        return [Sent(*row) for row in rows]

    def holding(self, bot: str, ids: Sequence[str]) -> list[Sent]:
        """Which of ``ids`` this file lists as sent (checked at each claim: an item claimed
        again after its lease ran out may be one this machine sent and could not ack)."""
        db = self._open(create=False)
        if db is None or not ids:
            return []
        found: list[Sent] = []
        try:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                found += [Sent(*row) for row in db.execute(
                    f"SELECT item, user, result FROM sent WHERE bot=? AND item IN ({','.join('?' * len(chunk))})",
                    (bot, *chunk))]
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot read the spool {self.path}: {exc}") from None
        return found

    def acked(self, bot: str, ids: Sequence[str]) -> None:
        """The store took these acks: forget the sends. Raises :class:`SpoolError` when the
        file cannot be written (the caller keeps them, and tries again)."""
        db = self._open(create=False)
        if db is None or not ids:
            return
        try:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                db.execute(f"DELETE FROM sent WHERE bot=? AND item IN ({','.join('?' * len(chunk))})",
                           (bot, *chunk))
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot write to the spool {self.path}: {exc}") from None

    def size(self, bot: str | None = None) -> int:
        """Entries waiting (for ``bot``, or for every bot)."""
        db = self._open(create=False)
        if db is None:
            return 0
        sql, args = ("SELECT COUNT(*) FROM spool", ()) if bot is None else (
            "SELECT COUNT(*) FROM spool WHERE bot=?", (bot,))
        try:
            return int(db.execute(sql, args).fetchone()[0])
        except sqlite3.Error as exc:
            raise SpoolError(f"cannot read the spool {self.path}: {exc}") from None

    def _write(self, sql: str, *args: Any) -> None:
        db = self._open(create=False)
        if db is None:
            return
        try:
            db.execute(sql, args)
        except sqlite3.Error as exc:  # the entry stays; it is replayed (and deduplicated) later
            log.error("cannot update the spool %s: %s", self.path, exc)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def backoff(attempts: int) -> float:
    """Seconds before the next replay of an entry that failed ``attempts`` times."""
    return float(min(MAX_BACKOFF, 0.5 * 2 ** min(attempts, 10)))


async def replay(spool: Spool, runtimes: Mapping[str, Runtime], stop: asyncio.Event, *,
                 interval: float = 0.5, metrics: Metrics | None = None) -> None:
    """Replay spooled inputs until ``stop`` is set: each until its turn commits.

    A turn that fails — the store still unavailable, or anything else (logged) — is tried again
    after a growing delay, up to a minute: an input is never dropped.
    """
    while not stop.is_set():
        for name, runtime in runtimes.items():
            await replay_once(spool, name, runtime, metrics)
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except asyncio.TimeoutError:
            pass


async def replay_once(spool: Spool, name: str, runtime: Runtime, metrics: Metrics | None = None) -> int:
    """One round for one bot, its entries side by side (one customer's still one at a time:
    the runtime queues them); returns how many committed."""
    entries = spool.claim(name)
    outcomes = await asyncio.gather(*(runtime.handle(entry.input) for entry in entries),
                                    return_exceptions=True)
    committed = 0
    waiting: list[str] = []
    for entry, outcome in zip(entries, outcomes):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, StoreUnavailable):
                waiting.append(str(outcome))
            else:
                log.error("bot=%s spooled input %s failed again (attempt %d): %s: %s", name, entry.id,
                          entry.attempts + 1, type(outcome).__name__, outcome)
            spool.failed(entry.id, f"{type(outcome).__name__}: {outcome}", backoff(entry.attempts))
            continue
        spool.done(entry.id)
        committed += 1
        if metrics is not None:
            metrics.inc("spool_replayed", persona=name, outcome=str(outcome.status))
        log.info("bot=%s spooled input %s (%s) replayed: %s", name, entry.id, entry.input.kind, outcome.status)
    if waiting:
        log.warning("bot=%s %d spooled inputs wait for the store: %s", name, len(waiting), waiting[0])
    return committed
