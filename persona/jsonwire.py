"""The JSON a turn writes: customer records, journal lines, outbox payloads, dedupe results.

Every turn serialises several small documents; with the standard library that was about a
tenth of a turn's CPU. orjson writes the same compact JSON (UTF-8, no spaces) several times
faster. It is held to what ``json.dumps`` accepts: whatever orjson declines (dates, times,
dataclasses, integers beyond 64 bits) goes to ``json`` itself, which writes it or raises the
same ``TypeError`` as before; non-string keys become strings, as ``json`` makes them. One
difference is kept: a float NaN or infinity is written as ``null`` (``json`` wrote ``NaN``,
which is not JSON). Reading falls back to ``json`` for such documents already stored.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dump_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``."""
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def dump(value: Any) -> str:
    """:func:`dump_bytes` as text, for the store fields typed ``str``."""
    return dump_bytes(value).decode()


def load(raw: bytes | str) -> Any:
    """Parse a document written by :func:`dump` or by ``json.dumps``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps wrote
        return json.loads(raw)
