"""Stores: where customers, timers, the outbox and the dedupe keys live.

Chosen by URL: ``memory://``, ``sqlite:///PATH`` (the embedded default), ``redis://HOST:PORT/DB``.

May import: only the base modules (``errors``, ``jsonwire``); every other room may import this.
"""

from __future__ import annotations

from .base import Commit, CommitResult, Loaded, OutboxItem, Store

DEFAULT_URL = "sqlite:///./persona.db"

__all__ = ["Commit", "CommitResult", "Loaded", "OutboxItem", "Store", "open_store", "DEFAULT_URL"]


def open_store(url: str = DEFAULT_URL, namespace: str = "default", **options: object) -> Store:
    """Open the store at ``url`` for one bot (``namespace``)."""
    scheme = url.split(":", 1)[0]
    if scheme == "memory":
        from .memory import MemoryStore
        return MemoryStore(url, namespace)
    if scheme == "sqlite":
        from .sqlite import SQLiteStore
        return SQLiteStore(url, namespace, **options)  # type: ignore[arg-type]
    if scheme in ("redis", "rediss", "redis+cluster"):
        from .redis import RedisStore
        return RedisStore(url, namespace, **options)  # type: ignore[arg-type]
    raise ValueError(f"store URL {url!r}: use memory://, sqlite:///PATH or redis://HOST:PORT/DB")
