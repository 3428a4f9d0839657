"""Structured log lines: one per callback and per business event, greppable or JSON.

Log collectors at brands range from ``grep`` on a file to an ELK stack, so both ``key=value``
and JSON lines are offered. Fields are passed as ``extra={"fields": {...}}``; plain records
from the rest of persona come out in the same shape. Nothing here ever sees a message body or
a secret: callers pass identifiers, outcomes and timings only, and :func:`redact` strips
passwords out of store URLs quoted in error messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, Mapping

#: The logger the per-request lines go to (``persona.access``).
ACCESS = logging.getLogger("persona.access")

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_BARE = re.compile(r"^[\w.:/@+-]+$")
_MAX_VALUE = 200


def redact(text: str) -> str:
    """``redis://:secret@host/0`` -> ``redis://***@host/0`` anywhere in ``text``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, str):
        value = redact(value)
        return value if len(value) <= _MAX_VALUE else value[:_MAX_VALUE] + "…"
    return value


def _kv(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    if text and _BARE.match(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class StructuredFormatter(logging.Formatter):
    """Formats every record as one ``key=value`` line (``fmt="kv"``) or one JSON object."""

    def __init__(self, fmt: str = "kv") -> None:
        super().__init__()
        if fmt not in ("kv", "json"):
            raise ValueError(f"log format {fmt!r}: use kv or json")
        self.fmt = fmt

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
                  + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        if fields:
            data.update({k: v for k, v in fields.items() if k not in data})
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        data = {k: _clean(v) if k != "exc" else redact(v) for k, v in data.items()}
        if self.fmt == "json":
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
        exc = data.pop("exc", None)
        line = " ".join(f"{k}={_kv(v)}" for k, v in data.items())
        return line if exc is None else f"{line}\n{exc}"


def configure(fmt: str = "kv", level: int | str = "INFO", stream: Any = None) -> None:
    """Send every persona log record to ``stream`` (stderr) in one structured format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_persona", False):
            root.removeHandler(old)
    handler._persona = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


def access(msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line on ``persona.access`` (a callback or an event request)."""
    if ACCESS.isEnabledFor(level):
        ACCESS.log(level, msg, extra={"fields": fields})
