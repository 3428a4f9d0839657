"""A customer record as Redis keeps it: a few dozen bytes, small enough for a listpack.

Redis stores a small hash (≤ ``hash-max-listpack-value`` bytes per value, 64 by default) as one
flat listpack, a few bytes of overhead per field; past that it becomes a hashtable, ~70 bytes
per field more. The JSON a turn writes for a dormant customer is ~150 bytes, so records are
re-encoded here:

* **the envelope** the store itself needs: the version (the optimistic check) and the
  customer's segment entries, as dictionary codes (the segment index: the scan script of
  :mod:`.scripts` reads them);
* **the payload**, the record the runtime wrote. A record shaped like
  :meth:`persona.model.customer.Customer.dump`'s is written field by field: state, tag names, timer
  names and states, counter names and A/B variants as codes of the namespace's dictionary
  (:mod:`.names`), an indexed tag as the code of its segment entry (name and value at once),
  timestamps as varints relative to ``first_seen``, timer dues in milliseconds, attributes and
  the gate's budget as typed values under coded names, a linked customer's ids, current id and
  unionid as typed values. Anything else — an unknown key, a value
  of another type, keys in another order, other spacing — is kept as the bytes it was given.
  Either way :func:`decode` gives back exactly the bytes that were written.

Layout: ``varint(version << 1 | compact) varint(n) n × varint(segment code) payload``.
The Lua scripts read the envelope (version and segments) and never the payload.
"""

from __future__ import annotations

import functools
import struct
from typing import Any, Callable, Iterable

import orjson

from ... import jsonwire

#: seconds; timestamps without ``first_seen`` are counted from here (2025-01-01 UTC)
EPOCH = 1_735_689_600
#: fields of a Customer record in the order Customer.dump writes them; the compact form keeps
#: that order, so a record re-encodes to the same bytes
ORDER = ("s", "t", "a", "n", "f", "l", "i", "o", "m", "b", "h", "v", "g", "p", "c", "u")
#: the presence bitmap's bit of each optional field (the commonest first: one byte)
BITS = {"t": 0, "f": 1, "l": 2, "m": 3, "i": 4, "o": 5, "n": 6, "a": 7, "b": 8, "h": 9, "v": 10, "g": 11,
        "p": 15, "c": 16, "u": 17}
#: a linked customer's ids, current id and unionid (persona.engine.identity): typed values
IDENTITY = frozenset({"p", "c", "u"})
#: ``attrs``, ``budget`` and ``handoff`` written as typed values (their JSON, bits 7–9, is still read)
TYPED = {"a": 12, "b": 13, "h": 14}
_AT = {key: i for i, key in enumerate(ORDER)}
_TIMER_STATE, _TIMER_DATA, _TIMER_INT, _TIMER_TYPED = 1, 2, 4, 8
_DOUBLE = struct.Struct(">d")
_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _LIST, _DICT = range(8)


# -- varints -------------------------------------------------------------------------------
def varint(n: int, out: bytearray) -> None:
    if n < 0x80:
        out.append(n)
        return
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


def zigzag(n: int) -> int:
    return n * 2 if n >= 0 else -n * 2 - 1


def unzigzag(n: int) -> int:
    return n >> 1 if not n & 1 else -((n + 1) >> 1)


def _text(value: str, out: bytearray) -> None:
    raw = value.encode()
    varint(len(raw), out)
    out += raw


def _read_text(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = read_varint(data, pos)
    return data[pos:pos + n].decode(), pos + n


def _read_blob(data: bytes, pos: int) -> tuple[Any, int]:
    n, pos = read_varint(data, pos)
    return jsonwire.load(data[pos:pos + n]), pos + n


def _read_value(data: bytes, pos: int) -> tuple[Any, int]:
    """A value :meth:`Compact.value` wrote."""
    kind = data[pos]
    pos += 1
    if kind == _STR:
        return _read_text(data, pos)
    if kind == _INT:
        z, pos = read_varint(data, pos)
        return unzigzag(z), pos
    if kind == _FLOAT:
        return _DOUBLE.unpack_from(data, pos)[0], pos + 8
    if kind == _LIST:
        n, pos = read_varint(data, pos)
        items = []
        for _ in range(n):
            item, pos = _read_value(data, pos)
            items.append(item)
        return items, pos
    if kind == _DICT:
        n, pos = read_varint(data, pos)
        out = {}
        for _ in range(n):
            key, pos = _read_text(data, pos)
            out[key], pos = _read_value(data, pos)
        return out, pos
    return (None, False, True)[kind], pos


def _read_coded(data: bytes, pos: int, name: Callable[[int], str]) -> tuple[dict[str, Any], int]:
    """A dict whose keys are names (attributes, budget windows): codes, then typed values."""
    n, pos = read_varint(data, pos)
    out = {}
    for _ in range(n):
        c, pos = read_varint(data, pos)
        out[name(c)], pos = _read_value(data, pos)
    return out, pos


# -- the envelope --------------------------------------------------------------------------
def envelope(version: int, compact: bool, segments: Iterable[int], payload: bytes) -> bytes:
    """A whole stored value (what the commit script writes, built here for tools and tests)."""
    out = bytearray()
    varint(version << 1 | compact, out)
    codes = sorted(set(segments))
    varint(len(codes), out)
    for c in codes:
        varint(c, out)
    return bytes(out) + payload


def open_envelope(value: bytes) -> tuple[int, bool, list[int], bytes]:
    """``(version, compact, segment codes, payload)`` of a stored value."""
    head, pos = read_varint(value, 0)
    n, pos = read_varint(value, pos)
    codes = []
    for _ in range(n):
        c, pos = read_varint(value, pos)
        codes.append(c)
    return head >> 1, bool(head & 1), codes, value[pos:]


# -- the payload ---------------------------------------------------------------------------
class _Unfit(Exception):
    """The record is not one the compact form writes back byte for byte."""


class Compact:
    """Encodes one record; names without a code are collected in ``missing`` (code 0 written)."""

    __slots__ = ("codes", "missing", "out")

    def __init__(self, codes: Callable[[str], int | None]) -> None:
        self.codes = codes
        self.missing: list[str] = []
        self.out = bytearray()

    def name(self, name: Any) -> None:
        if type(name) is not str:
            raise _Unfit
        c = self.codes(name)
        if c is None:
            self.missing.append(name)
            c = 0
        varint(c, self.out)

    def record(self, raw: Any) -> None:
        if type(raw) is not dict or type(raw.get("s")) is not str:
            raise _Unfit
        out = self.out
        bits, last = 0, 0
        for key in raw:
            at = _AT.get(key, -1)
            if at < last:  # an unknown key, or keys in another order than decode() writes them
                raise _Unfit
            last = at
            if at:
                bits |= 1 << TYPED.get(key, BITS[key])
        varint(bits, out)
        self.name(raw["s"])
        base = raw.get("f", EPOCH)
        if type(base) is not int:
            raise _Unfit
        for key, value in raw.items():
            if key == "s":
                continue
            if key == "t":
                self.tags(value)
            elif key in ("f", "l", "i", "o"):
                if type(value) is not int:
                    raise _Unfit
                varint(zigzag(value - (EPOCH if key == "f" else base)), out)
            elif key == "m":
                self.timers(value, base)
            elif key == "n":
                if type(value) is not dict:
                    raise _Unfit
                varint(len(value), out)
                for name, n in value.items():
                    if type(n) is not int:
                        raise _Unfit
                    self.name(name)
                    varint(zigzag(n), out)
            elif key == "v":
                if type(value) is not dict:
                    raise _Unfit
                varint(len(value), out)
                for script, variant in value.items():
                    self.name(script)
                    self.name(variant)
            elif key == "g":
                if type(value) is not int or value < 0:
                    raise _Unfit
                varint(value, out)
            elif key == "h" or key in IDENTITY:
                if type(value) is not (dict if key in "hp" else str):
                    raise _Unfit
                self.value(value)
            else:  # a, b: keys are names the bot declares
                if type(value) is not dict:
                    raise _Unfit
                varint(len(value), out)
                for name, item in value.items():
                    self.name(name)
                    self.value(item)

    def value(self, value: Any) -> None:
        """Any JSON value, typed: a byte for its kind, then varints, text or a double."""
        out = self.out
        kind = type(value)
        if kind is str:
            out.append(_STR)
            _text(value, out)
        elif kind is int:
            out.append(_INT)
            varint(zigzag(value), out)
        elif kind is float:
            out.append(_FLOAT)
            out += _DOUBLE.pack(value)
        elif value is None or kind is bool:
            out.append(_NONE if value is None else _TRUE if value else _FALSE)
        elif kind is list:
            out.append(_LIST)
            varint(len(value), out)
            for item in value:
                self.value(item)
        elif kind is dict:
            out.append(_DICT)
            varint(len(value), out)
            for key, item in value.items():
                if type(key) is not str:
                    raise _Unfit
                _text(key, out)
                self.value(item)
        else:
            raise _Unfit

    def tags(self, tags: Any) -> None:
        """A tag whose segment entry (``tag:source=parcel``: the persona indexes that tag) has a
        code is written as that one code, name and value together."""
        if type(tags) is not dict:
            raise _Unfit
        out, codes = self.out, self.codes
        varint(len(tags), out)
        for name, text in tags.items():
            if type(name) is not str or type(text) is not str:
                raise _Unfit
            both = codes(f"tag:{name}={text}") if text and "=" not in name else None
            if both is not None:
                varint(both << 1 | 1, out)
                continue
            c = codes(name)
            if c is None:
                self.missing.append(name)
                c = 0
            varint(c << 1, out)
            _text(text, out)

    def timers(self, timers: Any, base: int) -> None:
        if type(timers) is not dict:
            raise _Unfit
        out = self.out
        varint(len(timers), out)
        for name, t in timers.items():
            if type(t) is not list or not 2 <= len(t) <= 3:
                raise _Unfit
            due, state = t[0], t[1]
            if type(due) is int:
                flags, delta = _TIMER_INT, due - base
            elif type(due) is float and round(due * 1000) / 1000 == due:
                flags, delta = 0, round(due * 1000) - base * 1000
            else:
                raise _Unfit
            if state is not None:
                flags |= _TIMER_STATE
            if len(t) == 3:
                if type(t[2]) is not dict:
                    raise _Unfit
                flags |= _TIMER_TYPED
            self.name(name)
            varint(flags, out)
            varint(zigzag(delta), out)
            if state is not None:
                self.name(state)
            if len(t) == 3:
                self.value(t[2])


def encode(record: bytes, codes: Callable[[str], int | None]) -> tuple[bytes | None, list[str]]:
    """``(compact payload, [])`` of a record shaped like :meth:`persona.model.customer.Customer.dump`'s;
    ``(None, names)`` when names lack a code (give them codes, then encode again); ``(None, [])``
    when the record is kept as it is. ``codes`` maps a name to its code, None if it has none."""
    if not record.startswith(b'{"s":'):
        return None, []
    try:
        raw = orjson.loads(record)
        if orjson.dumps(raw) != record:  # other spacing or escapes: keep the bytes
            return None, []
        compact = Compact(codes)
        compact.record(raw)
    except (orjson.JSONDecodeError, _Unfit, TypeError):
        return None, []
    if compact.missing:
        return None, compact.missing
    return bytes(compact.out), []


@functools.lru_cache(maxsize=None)
def _present(bits: int) -> tuple[str, ...]:
    """The optional fields a presence bitmap names, in the order they are written."""
    return tuple(key for key in ORDER[1:] if bits >> BITS[key] & 1 or key in TYPED and bits >> TYPED[key] & 1)


def _read_pairs(payload: bytes, pos: int, name: Callable[[int], str],
                value: Callable[[int], Any]) -> tuple[dict[str, Any], int]:
    """A count, then that many (name code, varint) pairs: counters, A/B variants."""
    n, pos = read_varint(payload, pos)
    out = {}
    for _ in range(n):
        c, pos = read_varint(payload, pos)
        v, pos = read_varint(payload, pos)
        out[name(c)] = value(v)
    return out, pos


def decode(payload: bytes, name: Callable[[int], str]) -> bytes:
    """The record JSON a compact payload was encoded from; ``name`` maps a code to its name."""
    bits, pos = read_varint(payload, 0)
    c, pos = read_varint(payload, pos)
    raw: dict[str, Any] = {"s": name(c)}
    base = EPOCH
    for key in _present(bits):
        if key == "t":
            n, pos = read_varint(payload, pos)
            tags = {}
            for _ in range(n):
                c, pos = read_varint(payload, pos)
                if c & 1:
                    tag, _, text = name(c >> 1)[4:].partition("=")
                    tags[tag] = text
                else:
                    tags[name(c >> 1)], pos = _read_text(payload, pos)
            raw["t"] = tags
        elif key == "n":
            raw["n"], pos = _read_pairs(payload, pos, name, unzigzag)
        elif key == "f":
            z, pos = read_varint(payload, pos)
            raw["f"] = base = unzigzag(z) + EPOCH
        elif key in ("l", "i", "o"):
            z, pos = read_varint(payload, pos)
            raw[key] = unzigzag(z) + base
        elif key == "m":
            n, pos = read_varint(payload, pos)
            timers: dict[str, list[Any]] = {}
            for _ in range(n):
                c, pos = read_varint(payload, pos)
                flags, pos = read_varint(payload, pos)
                z, pos = read_varint(payload, pos)
                due: Any = unzigzag(z) + base if flags & _TIMER_INT else (unzigzag(z) + base * 1000) / 1000
                state = None
                if flags & _TIMER_STATE:
                    s, pos = read_varint(payload, pos)
                    state = name(s)
                t = [due, state]
                if flags & _TIMER_TYPED:
                    data, pos = _read_value(payload, pos)
                    t.append(data)
                elif flags & _TIMER_DATA:
                    data, pos = _read_blob(payload, pos)
                    t.append(data)
                timers[name(c)] = t
            raw["m"] = timers
        elif key == "v":
            raw["v"], pos = _read_pairs(payload, pos, name, name)
        elif key == "g":
            raw["g"], pos = read_varint(payload, pos)
        elif key in IDENTITY:
            raw[key], pos = _read_value(payload, pos)
        elif not bits >> TYPED[key] & 1:
            raw[key], pos = _read_blob(payload, pos)
        elif key == "h":
            raw[key], pos = _read_value(payload, pos)
        else:
            raw[key], pos = _read_coded(payload, pos, name)
    return orjson.dumps(raw)
