"""Audiences as people write them: ``tag:in_group AND (attr:spend > 500 OR NOT state:new)``.

An audience is parsed once, by a small recursive-descent parser, into a tree of named nodes
(:class:`Leaf` under :class:`And`, :class:`Or`, :class:`Not`), and its names are checked
against the persona (states, indexed tags) so a typo is an error with a column and a "did you
mean", not an empty campaign. The grammar, loosest binding first::

    audience := any (OR any)*
    any      := one ((AND | +) one)*          # ``a+b``, the segment syntax, is AND
    one      := NOT one | ( audience ) | leaf
    leaf     := all | state:NAME | tag:NAME [op VALUE] | attr:NAME op VALUE
              | FIELD op VALUE | (attr:NAME | FIELD) within SPAN
    op       := = | != | ≠ | < | >            # < and > compare numbers, or dates as dates
    FIELD    := first_seen | last_seen | last_inbound | last_outbound

``≠`` is the negation of ``=``: a customer without the tag or attribute is "not equal". A
value with spaces is quoted (``"gold member"``). ``within 30d`` means the last 30 days up to
now. Evaluating a tree against one customer (:func:`matches`) is pure; choosing customers from
the store, with its segment index, is :mod:`persona.engine.audience`.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from datetime import date, datetime, time as dtime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Union
from zoneinfo import ZoneInfo

from ..clock import parse_duration
from ..errors import PersonaError

if TYPE_CHECKING:
    from .customer import Customer
    from .persona import Persona


class AudienceError(PersonaError):
    """An audience does not parse or names what the persona does not have; ``column`` (1-based)
    points at the problem, and ``str()`` shows it under the text."""

    def __init__(self, message: str, text: str, column: int) -> None:
        self.reason, self.text, self.column = message, text, column
        super().__init__(f"audience, column {column}: {message}\n  {text}\n  {' ' * (column - 1)}^")


class Kind(StrEnum):
    """What a leaf looks at."""

    ALL = "all"
    STATE = "state"
    TAG = "tag"
    ATTR = "attr"
    FIELD = "field"  # one of the record's own timestamps


class Op(StrEnum):
    HAS = "has"  # ``tag:NAME``: the customer has the tag, whatever its value
    EQ = "="
    NE = "!="
    LT = "<"
    GT = ">"
    WITHIN = "within"


#: the record's own timestamps an audience can name without ``attr:``
FIELDS = ("first_seen", "last_seen", "last_inbound", "last_outbound")
KEYWORDS = {"and": "AND", "or": "OR", "not": "NOT", "within": "WITHIN"}


@dataclass(frozen=True, slots=True)
class Leaf:
    kind: Kind
    name: str = ""
    op: Op = Op.HAS
    value: str = ""
    column: int = 0

    def __str__(self) -> str:
        if self.kind is Kind.ALL:
            return "all"
        head = self.name if self.kind is Kind.FIELD else f"{self.kind}:{self.name}"
        if self.op is Op.HAS:
            return head
        if self.op is Op.WITHIN:
            return f"{head} within {self.value}"
        value = self.value if self.value and all(c not in self.value for c in " ()\"") else f'"{self.value}"'
        return f"{head}{self.op}{value}" if self.kind is not Kind.FIELD else f"{head} {self.op} {value}"


@dataclass(frozen=True, slots=True)
class And:
    parts: tuple["Node", ...]

    def __str__(self) -> str:
        return " AND ".join(_grouped(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Or:
    parts: tuple["Node", ...]

    def __str__(self) -> str:
        return " OR ".join(_grouped(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Not:
    part: "Node"

    def __str__(self) -> str:
        return f"NOT {_grouped(self.part)}"


Node = Union[Leaf, And, Or, Not]


def _grouped(node: Node) -> str:
    return f"({node})" if isinstance(node, (And, Or)) else str(node)


# -- reading ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # WORD, STRING, OP, ( ) AND OR NOT WITHIN +, END
    text: str
    column: int


_OPS = ("!=", "≠", "=", "<", ">")
_STOP = set(" \t\n()+\"'=<>!≠")


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()+":
            out.append(Token(c, c, i + 1))
            i += 1
        elif c in "\"'":
            end = text.find(c, i + 1)
            if end < 0:
                raise AudienceError(f"the quote {c} is never closed", text, i + 1)
            out.append(Token("STRING", text[i + 1:end], i + 1))
            i = end + 1
        elif any(text.startswith(op, i) for op in _OPS):
            op = next(op for op in _OPS if text.startswith(op, i))
            out.append(Token("OP", "!=" if op == "≠" else op, i + 1))
            i += len(op)
        elif c == "!":
            raise AudienceError("'!' alone means nothing here: write != (or ≠), or NOT before a condition", text, i + 1)
        else:
            start = i
            while i < len(text) and text[i] not in _STOP and not text[i].isspace():
                i += 1
            word = text[start:i]
            keyword = KEYWORDS.get(word.casefold())
            out.append(Token(keyword or "WORD", word, start + 1))
    out.append(Token("END", "", len(text) + 1))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.at = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> AudienceError:
        return AudienceError(message, self.text, (token or self.peek).column)

    def audience(self) -> Node:
        node = self.any_of()
        if self.peek.kind != "END":
            if self.peek.kind == ")":
                raise self.fail("this ) closes nothing")
            raise self.fail(f"expected AND, OR or the end after {str(node)!r}, found {self.peek.text!r}")
        return node

    def any_of(self) -> Node:
        parts = [self.all_of()]
        while self.peek.kind == "OR":
            self.take()
            parts.append(self.all_of())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def all_of(self) -> Node:
        parts = [self.one()]
        while self.peek.kind in ("AND", "+"):
            self.take()
            parts.append(self.one())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def one(self) -> Node:
        token = self.peek
        if token.kind == "NOT":
            self.take()
            return Not(self.one())
        if token.kind == "(":
            self.take()
            node = self.any_of()
            if self.peek.kind != ")":
                raise self.fail(f"expected ) to close the ( at column {token.column}")
            self.take()
            return node
        if token.kind == "WORD":
            return self.leaf(self.take())
        if token.kind == "END":
            raise self.fail("the audience ends where a condition should be (e.g. tag:in_group, state:welcomed)")
        raise self.fail(f"expected a condition (e.g. tag:in_group, state:welcomed), found {token.text!r}")

    def leaf(self, word: Token) -> Leaf:
        head, colon, name = word.text.partition(":")
        if not colon:
            if head.casefold() == "all":
                return Leaf(Kind.ALL, column=word.column)
            if head in FIELDS:
                return self.condition(Kind.FIELD, head, word, required=True)
            near = _near(head, ["all", "state:", "tag:", "attr:", *FIELDS])
            raise self.fail(f"{head!r} is not a condition: use state:NAME, tag:NAME or tag:NAME=VALUE, "
                            f"attr:NAME=VALUE, or one of {', '.join(FIELDS)}{near}", word)
        if not name:
            raise self.fail(f"{head}: needs a name after the colon", word)
        if head == "state":
            return Leaf(Kind.STATE, name, column=word.column)
        if head == "tag":
            return self.condition(Kind.TAG, name, word, required=False)
        if head == "attr":
            return self.condition(Kind.ATTR, name, word, required=True)
        raise self.fail(f"{head + ':'!r} is not a kind of condition: use state:, tag: or attr:"
                        f"{_near(head, ['state', 'tag', 'attr'])}", word)

    def condition(self, kind: Kind, name: str, word: Token, *, required: bool) -> Leaf:
        token = self.peek
        if token.kind == "WITHIN":
            self.take()
            span = self.take()
            if span.kind not in ("WORD", "STRING"):
                raise self.fail("within needs a span, e.g. within 30d", span)
            try:
                if parse_duration(span.text).total_seconds() <= 0:
                    raise ValueError(span.text)
            except ValueError:
                raise self.fail(f"{span.text!r} is not a span: write e.g. 30d, 12h or 2w", span)
            if kind is Kind.TAG:
                raise self.fail("within compares dates: use it on attr:NAME or a record field", token)
            return Leaf(kind, name, Op.WITHIN, span.text, word.column)
        if token.kind == "OP":
            self.take()
            value = self.take()
            if value.kind not in ("WORD", "STRING"):
                raise self.fail(f"{name}{token.text} needs a value after {token.text}", value)
            leaf = Leaf(kind, name, Op(token.text), value.text, word.column)
            if kind is Kind.FIELD and _comparable(value.text) is None:
                raise self.fail(f"{name} is a time: compare it with a date (2026-11-01) or use within", value)
            if leaf.op in (Op.LT, Op.GT) and _comparable(value.text) is None:
                raise self.fail(f"{value.text!r}: < and > compare numbers or dates (2026-11-01)", value)
            return leaf
        if required:
            raise self.fail(f"{word.text} needs a comparison: = VALUE, != VALUE, < N, > N or within 30d")
        return Leaf(kind, name, Op.HAS, column=word.column)


def _near(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse(text: str) -> Node:
    """``text`` as a tree, or :class:`AudienceError` pointing at the column that is wrong."""
    if not text.strip():
        raise AudienceError("the audience is empty: write e.g. tag:in_group, state:welcomed or all", text, 1)
    return _Parser(text).audience()


def parse_audience(text: str, cls: type["Persona"]) -> Node:
    """``text`` parsed and checked against ``cls``: every state exists, every tag is indexed."""
    node = parse(text)
    for leaf in leaves(node):
        if leaf.kind is Kind.STATE and leaf.name not in cls.states:
            raise AudienceError(f"{leaf.name!r} is not a state of {cls.name}{_near(leaf.name, cls.states)} "
                                f"(states: {', '.join(cls.states)})", text, leaf.column)
        if leaf.kind is Kind.TAG and cls.indexed_tags is not None and leaf.name not in cls.indexed_tags:
            known = sorted(cls.indexed_tags)
            raise AudienceError(f"tag {leaf.name!r} is not indexed for audiences{_near(leaf.name, known)} "
                                f"({cls.__name__}.indexed_tags: {', '.join(known)})", text, leaf.column)
    return node


def leaves(node: Node) -> list[Leaf]:
    if isinstance(node, Leaf):
        return [node]
    if isinstance(node, Not):
        return leaves(node.part)
    return [leaf for part in node.parts for leaf in leaves(part)]


# -- evaluating against one customer ------------------------------------------------------
def matches(node: Node, customer: "Customer", now: float, tz: str) -> bool:
    """Whether ``customer`` is in the audience at ``now`` (dates without a zone are read in ``tz``)."""
    if isinstance(node, And):
        return all(matches(p, customer, now, tz) for p in node.parts)
    if isinstance(node, Or):
        return any(matches(p, customer, now, tz) for p in node.parts)
    if isinstance(node, Not):
        return not matches(node.part, customer, now, tz)
    if node.kind is Kind.ALL:
        return True
    if node.kind is Kind.STATE:
        return customer.state == node.name
    if node.kind is Kind.TAG:
        if node.op is Op.HAS:
            return node.name in customer.tags
        return _compare(node, customer.tags.get(node.name), tz)
    if node.kind is Kind.FIELD:
        stamp = getattr(customer, node.name)
        value: Any = stamp or None
    else:
        value = customer.attrs.get(node.name)
    if node.op is Op.WITHIN:
        when = _moment(value, tz)
        return when is not None and now - parse_duration(node.value).total_seconds() <= when <= now
    if node.kind is Kind.FIELD and value is not None:
        return _compare(node, value, tz, as_time=True)
    return _compare(node, value, tz)


def _compare(leaf: Leaf, value: Any, tz: str, *, as_time: bool = False) -> bool:
    if leaf.op in (Op.EQ, Op.NE):
        if as_time:
            equal = _order(value, leaf.value, tz, as_time=True) == 0
        else:
            equal = value is not None and _plain(value) == leaf.value
        return equal if leaf.op is Op.EQ else not equal
    order = _order(value, leaf.value, tz, as_time=as_time)
    if order is None:
        return False
    return order < 0 if leaf.op is Op.LT else order > 0


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _order(value: Any, wanted: str, tz: str, *, as_time: bool = False) -> int | None:
    """-1, 0 or 1 comparing ``value`` with ``wanted``; None when they are not comparable."""
    if value is None or isinstance(value, bool):
        return None
    target = _comparable(wanted)
    if isinstance(target, float) and not as_time:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return (number > target) - (number < target)
    if target is None:
        return None
    left, right = _moment(value, tz), _moment(wanted, tz)
    if left is None or right is None:
        return None
    if isinstance(target, date) and not isinstance(target, datetime):  # a day: compare days
        zone = ZoneInfo(tz)
        left_day, right_day = datetime.fromtimestamp(left, zone).date(), target
        return (left_day > right_day) - (left_day < right_day)
    return (left > right) - (left < right)


def _comparable(text: str) -> float | date | None:
    """A value < and > can use: a number, a date or a date and time."""
    try:
        number = float(text)
        return number if math.isfinite(number) else None
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text) if ("T" in text or " " in text or ":" in text) \
            else date.fromisoformat(text)
    except ValueError:
        return None


def _moment(value: Any, tz: str) -> float | None:
    """Epoch seconds of a timestamp, a date (its midnight in ``tz``) or an ISO date and time."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parsed = _comparable(text)
    if isinstance(parsed, datetime):
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))).timestamp()
    if isinstance(parsed, date):
        return datetime.combine(parsed, dtime(), ZoneInfo(tz)).timestamp()
    return None
