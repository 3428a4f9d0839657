"""``sqlite:///PATH`` — the embedded default: one file, WAL, safe for several processes.

Calls run on the event loop thread: each is tens of microseconds on a local file in WAL mode,
cheaper than a hop to a worker thread. A turn's commit is one ``BEGIN IMMEDIATE`` transaction,
so two processes on the same file serialise their writes and the version check sees the truth.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import ConflictError, StoreUnavailable
from .base import Commit, CommitResult, Loaded, OutboxItem, Store
from .versions import ScriptVersionStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (ns TEXT, uid TEXT, version INTEGER, data BLOB,
    PRIMARY KEY (ns, uid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dedupe (ns TEXT, uid TEXT, key TEXT, result TEXT, expires REAL,
    PRIMARY KEY (ns, uid, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS timers (ns TEXT, uid TEXT, name TEXT, due REAL, ready REAL,
    PRIMARY KEY (ns, uid, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timers_ready ON timers (ns, ready);
CREATE TABLE IF NOT EXISTS outbox (ns TEXT, id TEXT, uid TEXT, due REAL, ready REAL, payload TEXT,
    attempts INTEGER, PRIMARY KEY (ns, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbox_ready ON outbox (ns, ready);
CREATE TABLE IF NOT EXISTS segments (ns TEXT, seg TEXT, uid TEXT, PRIMARY KEY (ns, seg, uid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal (id INTEGER PRIMARY KEY AUTOINCREMENT, ns TEXT, uid TEXT, at REAL, line TEXT);
CREATE INDEX IF NOT EXISTS journal_uid ON journal (ns, uid, id);
CREATE TABLE IF NOT EXISTS kv (ns TEXT, key TEXT, value TEXT, expires REAL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zsets (ns TEXT, key TEXT, member TEXT, score REAL,
    PRIMARY KEY (ns, key, member)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS zexpires (ns TEXT, key TEXT, expires REAL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead (ns TEXT, id TEXT, uid TEXT, payload TEXT, attempts INTEGER, reason TEXT,
    at REAL, PRIMARY KEY (ns, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS script_versions (ns TEXT, script TEXT, number INTEGER, entry TEXT,
    PRIMARY KEY (ns, script, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tallies (ns TEXT, name TEXT, value INTEGER, PRIMARY KEY (ns, name)) WITHOUT ROWID;
"""

FOREVER = 1e18
#: How long ``/healthz``'s write probe waits for another process's lock.
PROBE_BUSY_MS = 250

#: SQLite's primary result codes that are the file's state, not a bug in a statement: busy or
#: locked past the busy timeout, out of memory, read-only, an I/O error, the disk full, a file
#: that cannot be opened (https://sqlite.org/rescode.html).
STATE_CODES = {5: "BUSY", 6: "LOCKED", 7: "NOMEM", 8: "READONLY", 10: "IOERR", 13: "FULL", 14: "CANTOPEN"}


def refusal(exc: sqlite3.Error, doing: str) -> Exception:
    """``exc`` as :class:`StoreUnavailable` when it is the file's state (answered 503 and retried,
    nothing written), or ``exc`` itself when it is a bug: a 500 with its traceback, which a retry
    would not mend."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.OperationalError) and (code is None or code & 0xFF in STATE_CODES):
        return StoreUnavailable(f"SQLite {doing}: {exc}")
    return exc


class SQLiteStore(Store, ScriptVersionStore):
    def __init__(self, url: str, namespace: str = "default", *, timeout: float = 5.0) -> None:
        self.url, self.namespace = url, namespace
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url[len("sqlite://"):]
        if not path:
            raise ValueError(f"store URL {url!r}: write sqlite:///PATH, e.g. sqlite:///./persona.db")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None,
                                      check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.busy_ms = int(timeout * 1000)
            self.db.execute(f"PRAGMA busy_timeout={self.busy_ms}")
            self.db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from None

    # -- plumbing --------------------------------------------------------------------------
    def _tx(self) -> "_Transaction":
        return _Transaction(self.db)

    def _q(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise refusal(exc, f"store {self.path}") from None

    # -- customers -------------------------------------------------------------------------
    async def load(self, user: str, dedupe_key: str | None = None) -> Loaded:
        rows = self._q("SELECT version, data FROM customers WHERE ns=? AND uid=?", self.namespace, user)
        version, record = rows[0] if rows else (0, None)
        return Loaded(record, version, self._seen(user, dedupe_key))

    def _seen(self, user: str, key: str | None) -> str | None:
        if key is None:
            return None
        rows = self._q("SELECT result FROM dedupe WHERE ns=? AND uid=? AND key=? AND expires>?",
                       self.namespace, user, key, time.time())
        return rows[0][0] if rows else None

    async def commit(self, c: Commit) -> CommitResult:
        ns, now = self.namespace, time.time()
        try:
            with self._tx() as db:
                seen = self._seen(c.user, c.dedupe_key)
                if seen is not None:
                    return CommitResult(False, seen)
                row = db.execute("SELECT version FROM customers WHERE ns=? AND uid=?", (ns, c.user)).fetchone()
                if (row[0] if row else 0) != c.expected_version:
                    raise ConflictError(f"customer {c.user!r} changed since it was loaded")
                if c.retire:
                    db.execute("DELETE FROM customers WHERE ns=? AND uid=?", (ns, c.user))
                    db.execute("DELETE FROM segments WHERE ns=? AND uid=?", (ns, c.user))
                else:
                    db.execute("INSERT OR REPLACE INTO customers VALUES (?,?,?,?)",
                               (ns, c.user, c.expected_version + 1, c.record))
                if c.dedupe_key is not None:
                    db.execute("INSERT OR REPLACE INTO dedupe VALUES (?,?,?,?,?)",
                               (ns, c.user, c.dedupe_key, c.dedupe_result, now + c.dedupe_ttl))
                db.executemany("INSERT OR REPLACE INTO outbox VALUES (?,?,?,?,?,?,?)",
                               [(ns, i.id, i.user, i.due, i.due, i.payload, i.attempts) for i in c.outbox])
                db.executemany("INSERT OR REPLACE INTO timers VALUES (?,?,?,?,?)",
                               [(ns, c.user, n, due, due) for n, due in c.timers_set.items()])
                db.executemany("DELETE FROM timers WHERE ns=? AND uid=? AND name=?",
                               [(ns, c.user, n) for n in c.timers_del])
                db.executemany("INSERT OR IGNORE INTO segments VALUES (?,?,?)",
                               [(ns, s, c.user) for s in c.segments_add])
                db.executemany("DELETE FROM segments WHERE ns=? AND seg=? AND uid=?",
                               [(ns, s, c.user) for s in c.segments_del])
                db.executemany("INSERT INTO tallies VALUES (?,?,?) ON CONFLICT (ns, name) "
                               "DO UPDATE SET value = value + excluded.value",
                               [(ns, name, delta) for name, delta in c.tallies.items()])
                if c.journal:
                    db.executemany("INSERT INTO journal (ns, uid, at, line) VALUES (?,?,?,?)",
                                   [(ns, c.user, now, line) for line in c.journal])
                    db.execute("DELETE FROM journal WHERE ns=? AND uid=? AND (id <= (SELECT id FROM journal "
                               "WHERE ns=? AND uid=? ORDER BY id DESC LIMIT 1 OFFSET ?) OR at < ?)",
                               (ns, c.user, ns, c.user, c.journal_cap, now - c.journal_ttl))
        except sqlite3.Error as exc:
            raise refusal(exc, f"store {self.path}") from None
        return CommitResult(True)

    async def journal(self, user: str, limit: int = 100) -> list[str]:
        rows = self._q("SELECT line FROM journal WHERE ns=? AND uid=? ORDER BY id DESC LIMIT ?",
                       self.namespace, user, limit)
        return [r[0] for r in reversed(rows)]

    async def users(self) -> list[str]:
        return [r[0] for r in self._q("SELECT uid FROM customers WHERE ns=? ORDER BY uid", self.namespace)]

    async def tallies(self, prefix: str = "") -> dict[str, int]:
        rows = self._q("SELECT name, value FROM tallies WHERE ns=? AND substr(name, 1, ?)=?",
                       self.namespace, len(prefix), prefix)
        return dict(rows)

    async def reset_tallies(self, prefix: str, values: dict[str, int]) -> None:
        try:
            with self._tx() as db:
                db.execute("DELETE FROM tallies WHERE ns=? AND substr(name, 1, ?)=?",
                           (self.namespace, len(prefix), prefix))
                db.executemany("INSERT OR REPLACE INTO tallies VALUES (?,?,?)",
                               [(self.namespace, k, v) for k, v in values.items()])
        except sqlite3.Error as exc:
            raise refusal(exc, f"store {self.path}") from None

    async def segment(self, *names: str) -> set[str]:
        if not names:
            return set()
        sql = " INTERSECT ".join(["SELECT uid FROM segments WHERE ns=? AND seg=?"] * len(names))
        args: list[Any] = []
        for name in names:
            args += [self.namespace, name]
        return {r[0] for r in self._q(sql, *args)}

    # -- timers ----------------------------------------------------------------------------
    async def claim_timers(self, now: float, limit: int, lease: float) -> list[tuple[str, str, float]]:
        with self._tx() as db:
            rows = db.execute("SELECT uid, name, due FROM timers WHERE ns=? AND ready<=? ORDER BY ready LIMIT ?",
                              (self.namespace, now, limit)).fetchall()
            db.executemany("UPDATE timers SET ready=? WHERE ns=? AND uid=? AND name=?",
                           [(now + lease, self.namespace, u, n) for u, n, _ in rows])
        return [(u, n, d) for u, n, d in rows]

    async def pending_timers(self, user: str) -> dict[str, float]:
        return dict(self._q("SELECT name, due FROM timers WHERE ns=? AND uid=?", self.namespace, user))

    async def next_timer_due(self) -> float | None:
        return self._earliest("timers")

    async def count_timers(self) -> int:
        return self._count("timers")

    def _earliest(self, table: str) -> float | None:
        """When the first row of ``table`` (timers or outbox) becomes claimable."""
        ready = self._q(f"SELECT MIN(ready) FROM {table} WHERE ns=?", self.namespace)[0][0]
        return None if ready is None else float(ready)

    def _count(self, table: str) -> int:
        return int(self._q(f"SELECT COUNT(*) FROM {table} WHERE ns=?", self.namespace)[0][0])

    # -- outbox ----------------------------------------------------------------------------
    async def claim_outbox(self, now: float, limit: int, lease: float) -> list[OutboxItem]:
        with self._tx() as db:
            rows = db.execute("SELECT id, uid, due, payload, attempts FROM outbox WHERE ns=? AND ready<=? "
                              "ORDER BY ready LIMIT ?", (self.namespace, now, limit)).fetchall()
            db.executemany("UPDATE outbox SET ready=? WHERE ns=? AND id=?",
                           [(now + lease, self.namespace, r[0]) for r in rows])
        return [OutboxItem(*r) for r in rows]

    async def ack_outbox(self, item: OutboxItem) -> None:
        self._q("DELETE FROM outbox WHERE ns=? AND id=?", self.namespace, item.id)

    async def retry_outbox(self, item: OutboxItem, due: float) -> None:
        item.attempts += 1
        item.due = due
        self._q("UPDATE outbox SET due=?, ready=?, attempts=? WHERE ns=? AND id=?",
                due, due, item.attempts, self.namespace, item.id)

    async def next_outbox_due(self) -> float | None:
        return self._earliest("outbox")

    async def outbox_size(self) -> int:
        return self._count("outbox")

    async def add_dead_letter(self, item: OutboxItem, reason: str) -> None:
        self._q("INSERT OR REPLACE INTO dead VALUES (?,?,?,?,?,?,?)", self.namespace, item.id, item.user,
                item.payload, item.attempts, reason, time.time())

    async def dead_letters(self) -> list[tuple[OutboxItem, str]]:
        rows = self._q("SELECT id, uid, payload, attempts, reason, at FROM dead WHERE ns=? ORDER BY at",
                       self.namespace)
        return [(OutboxItem(i, u, at, p, a), reason) for i, u, p, a, reason, at in rows]

    async def remove_dead_letter(self, item_id: str) -> OutboxItem | None:
        with self._tx() as db:
            row = db.execute("SELECT id, uid, payload, attempts FROM dead WHERE ns=? AND id=?",
                             (self.namespace, item_id)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM dead WHERE ns=? AND id=?", (self.namespace, item_id))
        return OutboxItem(row[0], row[1], time.time(), row[2], row[3])

    async def requeue_dead_letter(self, item_id: str, due: float) -> OutboxItem | None:
        with self._tx() as db:
            row = db.execute("SELECT id, uid, payload FROM dead WHERE ns=? AND id=?",
                             (self.namespace, item_id)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM dead WHERE ns=? AND id=?", (self.namespace, item_id))
            db.execute("INSERT OR REPLACE INTO outbox VALUES (?,?,?,?,?,?,?)",
                       (self.namespace, row[0], row[1], due, due, row[2], 0))
        return OutboxItem(row[0], row[1], due, row[2], 0)

    # -- small helpers ---------------------------------------------------------------------
    def _live(self, db: sqlite3.Connection, key: str) -> str | None:
        row = db.execute("SELECT value FROM kv WHERE ns=? AND key=? AND expires>?",
                         (self.namespace, key, time.time())).fetchone()
        return row[0] if row else None

    async def set_if_absent(self, key: str, value: str, ttl: float) -> bool:
        with self._tx() as db:
            if self._live(db, key) is not None:
                return False
            db.execute("INSERT OR REPLACE INTO kv VALUES (?,?,?,?)", (self.namespace, key, value, time.time() + ttl))
            return True

    async def get(self, key: str) -> str | None:
        return self._live(self.db, key)

    async def put(self, key: str, value: str, ttl: float | None = None) -> None:
        self._q("INSERT OR REPLACE INTO kv VALUES (?,?,?,?)", self.namespace, key, value,
                time.time() + ttl if ttl else FOREVER)

    async def delete(self, key: str, value: str | None = None) -> bool:
        with self._tx() as db:
            current = self._live(db, key)
            if current is None or (value is not None and current != value):
                return False
            db.execute("DELETE FROM kv WHERE ns=? AND key=?", (self.namespace, key))
            return True

    async def extend(self, key: str, value: str, ttl: float) -> bool:
        now = time.time()
        with self._tx() as db:
            return db.execute("UPDATE kv SET expires=? WHERE ns=? AND key=? AND value=? AND expires>?",
                              (now + ttl, self.namespace, key, value, now)).rowcount == 1

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        with self._tx() as db:
            row = db.execute("SELECT value, expires FROM kv WHERE ns=? AND key=? AND expires>?",
                             (self.namespace, key, time.time())).fetchone()
            value = int(row[0]) + amount if row else amount
            expires = row[1] if row else (time.time() + ttl if ttl else FOREVER)
            db.execute("INSERT OR REPLACE INTO kv VALUES (?,?,?,?)", (self.namespace, key, str(value), expires))
            return value

    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float:
        with self._tx() as db:
            self._expire_board(db, key)
            if ttl and not db.execute("SELECT 1 FROM zsets WHERE ns=? AND key=? LIMIT 1",
                                      (self.namespace, key)).fetchone():
                db.execute("INSERT OR REPLACE INTO zexpires VALUES (?,?,?)",
                           (self.namespace, key, time.time() + ttl))
            db.execute("INSERT INTO zsets VALUES (?,?,?,?) ON CONFLICT (ns, key, member) "
                       "DO UPDATE SET score = score + excluded.score", (self.namespace, key, member, amount))
            return float(db.execute("SELECT score FROM zsets WHERE ns=? AND key=? AND member=?",
                                    (self.namespace, key, member)).fetchone()[0])

    def _expire_board(self, db: sqlite3.Connection, key: str) -> None:
        """Drop the board if its time is up (inside the caller's transaction)."""
        row = db.execute("SELECT expires FROM zexpires WHERE ns=? AND key=?", (self.namespace, key)).fetchone()
        if row is not None and row[0] <= time.time():
            db.execute("DELETE FROM zsets WHERE ns=? AND key=?", (self.namespace, key))
            db.execute("DELETE FROM zexpires WHERE ns=? AND key=?", (self.namespace, key))

    async def ztop(self, key: str, n: int) -> list[tuple[str, float]]:
        with self._tx() as db:
            self._expire_board(db, key)
        return [(m, s) for m, s in self._q("SELECT member, score FROM zsets WHERE ns=? AND key=? "
                                           "ORDER BY score DESC, member LIMIT ?", self.namespace, key, n)]

    async def zdelete(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM zsets WHERE ns=? AND key=?", (self.namespace, key))
            db.execute("DELETE FROM zexpires WHERE ns=? AND key=?", (self.namespace, key))

    async def ping(self) -> None:
        self._q("SELECT 1")

    async def probe_write(self) -> None:
        """The write probe waits at most :data:`PROBE_BUSY_MS` for a lock another process holds
        (calls run on the event loop: the full busy timeout would hold every request up)."""
        self._q(f"PRAGMA busy_timeout={PROBE_BUSY_MS}")
        try:
            await super().probe_write()
        finally:
            self._q(f"PRAGMA busy_timeout={self.busy_ms}")

    async def close(self) -> None:
        self.db.close()

    # -- script versions -------------------------------------------------------------------
    async def append_script_version(self, script: str, expected: int, entry: str) -> bool:
        try:
            with self._tx() as db:
                newest = db.execute("SELECT MAX(number) FROM script_versions WHERE ns=? AND script=?",
                                    (self.namespace, script)).fetchone()[0] or 0
                if newest != expected:
                    return False
                db.execute("INSERT INTO script_versions VALUES (?,?,?,?)",
                           (self.namespace, script, expected + 1, entry))
        except sqlite3.Error as exc:
            raise refusal(exc, f"store {self.path}") from None
        return True

    async def script_versions(self, script: str) -> list[str]:
        return [r[0] for r in self._q("SELECT entry FROM script_versions WHERE ns=? AND script=? ORDER BY number",
                                      self.namespace, script)]

    async def versioned_scripts(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT script FROM script_versions WHERE ns=? ORDER BY script",
                                      self.namespace)]

    async def script_generation(self) -> int:
        return self._count("script_versions")


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

    A SQLite error inside or at ``COMMIT`` that is the file's state (the disk full, the file
    read-only, the lock held past the busy timeout: :func:`refusal`) leaves as
    :class:`StoreUnavailable`, so the input is answered 503 and retried, with nothing written;
    any other (a bad statement, a constraint) is a bug and leaves as itself.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise refusal(exc, "cannot start a transaction") from None
        return self.db

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as failed:
                self._rollback()
                raise refusal(failed, "cannot commit") from None
        self._rollback()
        if isinstance(exc, sqlite3.Error):
            raise refusal(exc, "in a transaction") from None

    def _rollback(self) -> None:
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:  # SQLite rolled back itself (a full disk can do that)
                pass


