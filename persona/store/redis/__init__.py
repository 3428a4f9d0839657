"""The Redis store: :class:`RedisStore`, its key layout, record encoding and Lua scripts."""

from __future__ import annotations

from .store import SEP, RedisStore, quote, unquote

__all__ = ["SEP", "RedisStore", "quote", "unquote"]
