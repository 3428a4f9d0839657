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

_BARE = re.compile(r"^[\w.:/@+-]+$")
_MAX_VALUE = 200
#: How much of a message is looked at for passwords before it is cut to ``_MAX_VALUE``: a
#: store URL straddling the cut is still seen whole.
_LOOKAHEAD = 512
#: A traceback longer than this keeps its head and its tail (where the error is).
_MAX_TRACEBACK = 16 * 1024
_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_AUTHORITY_END = re.compile(r"[/@\s]")


def redact(text: str) -> str:
    """``redis://:secret@host/0`` -> ``redis://***@host/0`` anywhere in ``text``.

    A scan, not a backtracking pattern: log lines carry bytes a stranger sent (aiohttp logs
    a malformed request's first bytes), and a pattern that retries every start position on a
    long run of letters freezes the event loop for seconds. Each character is looked at a
    bounded number of times, whatever the text.
    """
    mark = text.find("://")
    if mark < 0:
        return text
    out: list[str] = []
    done = 0  # text[:done] is already in out
    floor = 0  # a scheme is never looked for before here, so no character is walked twice
    while mark >= 0:
        start = mark
        while start > floor and text[start - 1] in _SCHEME:
            start -= 1
        while start < mark and not text[start].isalpha():
            start += 1  # a scheme starts with a letter
        after = mark + 3
        end = _AUTHORITY_END.search(text, after)
        if end is None:
            break  # no "/" left, so no "://" either
        if start < mark and text[end.start()] == "@":
            out.append(text[done:after])
            out.append("***")
            done = end.start()
        floor = after
        mark = text.find("://", max(after, end.start() - 1))
    out.append(text[done:])
    return "".join(out)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) > _MAX_VALUE:
            value = value[:_LOOKAHEAD]
            if "://" in value:
                value = redact(value)
            return value[:_MAX_VALUE] + "…"
        return redact(value) if "://" in value else value
    if isinstance(value, float):
        return round(value, 2)
    return value


def _traceback(text: str) -> str:
    if len(text) > _MAX_TRACEBACK:
        half = _MAX_TRACEBACK // 2
        text = f"{text[:half]}\n… {len(text) - 2 * half} characters left out …\n{text[-half:]}"
    return redact(text)


def _kv(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return text if text and _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class StructuredFormatter(logging.Formatter):
    """Formats every record as one ``key=value`` line (``fmt="kv"``) or one JSON object."""

    def __init__(self, fmt: str = "kv", fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if fmt not in ("kv", "json"):
            raise ValueError(f"log format {fmt!r}: use kv or json")
        self.fmt = fmt
        #: on every line, after ``msg`` (``worker=N`` in a process of ``persona serve --workers``)
        self.fields = dict(fields or {})
        self._second = -1
        self._stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # one strftime per second, not per line
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(second))
        return f"{self._stamp}.{int((created - second) * 1000):03d}"

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": self._time(record.created), "level": record.levelname.lower(),
                                "logger": record.name, "msg": _clean(record.getMessage()), **self.fields}
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        if fields:
            for key, value in fields.items():
                if key not in data:
                    data[key] = _clean(value)
        exc = _traceback(self.formatException(record.exc_info)) if record.exc_info else None
        if self.fmt == "json":
            if exc is not None:
                data["exc"] = exc
            return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
        line = " ".join([f"{k}={_kv(v)}" for k, v in data.items()])
        return line if exc is None else f"{line}\n{exc}"


def configure(fmt: str = "kv", level: int | str = "INFO", stream: Any = None,
              fields: Mapping[str, Any] | None = None) -> None:
    """Send every persona log record to ``stream`` (stderr) in one structured format, each
    line carrying ``fields`` (which process of several wrote it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(fmt, fields))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_persona", False):
            root.removeHandler(old)
    handler._persona = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())


def access(msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """One structured line on ``persona.access`` (a callback or an event request).

    Built without ``Logger.log``'s caller lookup: this runs once per request.
    """
    if ACCESS.isEnabledFor(level):
        record = ACCESS.makeRecord(ACCESS.name, level, __file__, 0, msg, (), None, "access",
                                   {"fields": fields})
        ACCESS.handle(record)
