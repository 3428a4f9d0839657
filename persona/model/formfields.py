"""The questions of a form (:mod:`persona.model.forms`): their kinds, their checks, and how a
browser's answer to each is read.

A field checks its own declaration when it is built (a choice without choices, a pattern that
does not compile, bounds the wrong way round) and reads an answer into the value the event's
data carries, or a Chinese message the customer can act on; bad input is never an exception.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from ..errors import DefinitionError

#: a form's or a field's name: it is in links and in the event's data
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
#: a mainland mobile number, after spaces, dashes and a +86 are taken off
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
#: how long a text answer may be when the declaration says nothing
DEFAULT_MAX_LENGTH = 200


class FieldKind(StrEnum):
    """What a field asks for, and so how it is shown and read."""

    TEXT = "text"
    NUMBER = "number"
    CHOICE = "choice"
    MULTI = "multi"
    DATE = "date"
    PHONE = "phone"
    YESNO = "yesno"


#: the kinds answered by picking, not typing
_PICKED = frozenset({FieldKind.CHOICE, FieldKind.MULTI, FieldKind.YESNO})
#: the Python type each kind's value has in the event's data
VALUE_TYPES: dict[FieldKind, type] = {
    FieldKind.TEXT: str, FieldKind.NUMBER: float, FieldKind.CHOICE: str, FieldKind.MULTI: list,
    FieldKind.DATE: str, FieldKind.PHONE: str, FieldKind.YESNO: bool}


@dataclass(frozen=True)
class FormField:
    """One question. ``minimum``/``maximum`` bound a number's value, or how many options a
    multi-choice takes; ``pattern`` (a text's whole answer must match it) comes with
    ``pattern_hint``, the Chinese sentence the customer sees when it does not."""

    name: str
    label: str
    kind: FieldKind = FieldKind.TEXT
    required: bool = True
    choices: Mapping[str, str] = field(default_factory=dict)  # value -> label shown
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    min_length: int = 0
    max_length: int = DEFAULT_MAX_LENGTH
    pattern: str | None = None
    pattern_hint: str = ""
    hint: str = ""  # a line under the label (an example, why it is asked)

    def __post_init__(self) -> None:
        where = f"form field {self.name!r}"
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise DefinitionError(f"{where}: a field name is lower-case letters, digits and _ "
                                  "(starting with a letter), e.g. 'weekly_sessions'")
        if not self.label.strip():
            raise DefinitionError(f"{where}: give it a label, the question the customer reads (e.g. '你的目标')")
        try:
            kind = FieldKind(self.kind)
        except ValueError:
            raise DefinitionError(f"{where}: kind {self.kind!r} is not one of "
                                  f"{', '.join(k.value for k in FieldKind)}") from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "choices", dict(self.choices))
        if kind in (FieldKind.CHOICE, FieldKind.MULTI):
            if not self.choices:
                raise DefinitionError(f"{where}: a {kind} field needs choices={{value: label}}")
            if any(not str(v).strip() or not str(label).strip() for v, label in self.choices.items()):
                raise DefinitionError(f"{where}: every choice needs a value and a label")
        elif self.choices:
            raise DefinitionError(f"{where}: only choice and multi fields take choices (this one is {kind})")
        bounded = kind in (FieldKind.NUMBER, FieldKind.MULTI)
        if not bounded and (self.minimum is not None or self.maximum is not None):
            raise DefinitionError(f"{where}: minimum/maximum bound numbers and multi-choices, not {kind}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise DefinitionError(f"{where}: minimum {self.minimum} is above maximum {self.maximum}")
        if kind is FieldKind.MULTI and self.maximum is not None and self.maximum > len(self.choices):
            raise DefinitionError(f"{where}: maximum={self.maximum:g} but there are only {len(self.choices)} choices")
        if not 0 <= self.min_length <= self.max_length:
            raise DefinitionError(f"{where}: lengths need 0 <= min_length <= max_length "
                                  f"(got {self.min_length}, {self.max_length})")
        if self.pattern is not None:
            if kind is not FieldKind.TEXT:
                raise DefinitionError(f"{where}: pattern= checks text fields ({kind} has its own check)")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise DefinitionError(f"{where}: pattern {self.pattern!r} does not compile: {exc}") from None
            if not self.pattern_hint.strip():
                raise DefinitionError(f"{where}: a pattern needs pattern_hint, the Chinese sentence shown "
                                      "when an answer does not match (e.g. '请填写 6 位数字的邀请码')")

    @property
    def value_type(self) -> type:
        return int if self.kind is FieldKind.NUMBER and self.integer else VALUE_TYPES[self.kind]

    def read(self, raw: Sequence[str]) -> tuple[Any, str | None]:
        """``(value, None)`` or ``(None, message)``; a missing optional answer is ``(None, None)``."""
        values = [v.strip() for v in raw if v.strip()]
        if not values:
            if not self.required:
                return None, None
            return None, f"请选择「{self.label}」" if self.kind in _PICKED else f"请填写「{self.label}」"
        if self.kind is FieldKind.MULTI:
            return self._read_many(values)
        if len(values) > 1:
            return None, "只能填一个答案"
        return _READERS[self.kind](self, values[0])

    def _read_many(self, values: list[str]) -> tuple[Any, str | None]:
        if any(v not in self.choices for v in values):
            return None, "请从给出的选项里选"
        picked = [v for v in self.choices if v in values]
        if self.minimum is not None and len(picked) < self.minimum:
            return None, f"至少选 {self.minimum:g} 项"
        if self.maximum is not None and len(picked) > self.maximum:
            return None, f"最多选 {self.maximum:g} 项"
        return picked, None


def _text(f: FormField, value: str) -> tuple[Any, str | None]:
    if len(value) < f.min_length:
        return None, f"至少写 {f.min_length} 个字"
    if len(value) > f.max_length:
        return None, f"最多 {f.max_length} 个字（现在是 {len(value)} 个）"
    if f.pattern is not None and not re.fullmatch(f.pattern, value):
        return None, f.pattern_hint
    return value, None


def _digits(value: str) -> str:
    """Full-width digits and signs (２８, ＋86) as ASCII, for the fields that read numbers; a text
    answer keeps the customer's own characters."""
    return unicodedata.normalize("NFKC", value)


def _number(f: FormField, value: str) -> tuple[Any, str | None]:
    try:
        number = float(_digits(value))
    except ValueError:
        return None, "请填一个数字"
    if number != number or number in (float("inf"), float("-inf")):
        return None, "请填一个数字"
    if f.integer and not number.is_integer():
        return None, "请填整数"
    if f.minimum is not None and number < f.minimum:
        return None, f"不能小于 {f.minimum:g}"
    if f.maximum is not None and number > f.maximum:
        return None, f"不能大于 {f.maximum:g}"
    return (int(number) if f.integer else number), None


def _choice(f: FormField, value: str) -> tuple[Any, str | None]:
    return (value, None) if value in f.choices else (None, "请从给出的选项里选")


def _date(f: FormField, value: str) -> tuple[Any, str | None]:
    try:
        return date.fromisoformat(_digits(value)).isoformat(), None
    except ValueError:
        return None, "请按 年-月-日 填写日期，例如 1990-05-20"


def _phone(f: FormField, value: str) -> tuple[Any, str | None]:
    digits = re.sub(r"[\s\-()]", "", _digits(value))
    digits = digits.removeprefix("+86").removeprefix("0086") if len(digits) > 11 else digits
    return (digits, None) if _MOBILE.match(digits) else (None, "请填写 11 位手机号，例如 13812345678")


def _yesno(f: FormField, value: str) -> tuple[Any, str | None]:
    answers = {"yes": True, "no": False}
    return (answers[value], None) if value in answers else (None, "请选“是”或“否”")


_READERS = {FieldKind.TEXT: _text, FieldKind.NUMBER: _number, FieldKind.CHOICE: _choice,
            FieldKind.DATE: _date, FieldKind.PHONE: _phone, FieldKind.YESNO: _yesno}


# -- the fields as a bot author writes them ----------------------------------------------------
def text(name: str, label: str, *, required: bool = True, min_length: int = 0,
         max_length: int = DEFAULT_MAX_LENGTH, pattern: str | None = None, pattern_hint: str = "",
         hint: str = "") -> FormField:
    """A line of text (``max_length`` characters at most)."""
    return FormField(name, label, FieldKind.TEXT, required, min_length=min_length, max_length=max_length,
                     pattern=pattern, pattern_hint=pattern_hint, hint=hint)


def number(name: str, label: str, *, required: bool = True, minimum: float | None = None,
           maximum: float | None = None, integer: bool = False, hint: str = "") -> FormField:
    """A number within ``minimum``..``maximum`` (``integer``: whole numbers, an ``int`` in the data)."""
    return FormField(name, label, FieldKind.NUMBER, required, minimum=minimum, maximum=maximum,
                     integer=integer, hint=hint)


def choice(name: str, label: str, choices: Mapping[str, str], *, required: bool = True,
           hint: str = "") -> FormField:
    """One of ``choices`` (value -> label); the data carries the value."""
    return FormField(name, label, FieldKind.CHOICE, required, choices=choices, hint=hint)


def multi(name: str, label: str, choices: Mapping[str, str], *, required: bool = True,
          minimum: int | None = None, maximum: int | None = None, hint: str = "") -> FormField:
    """Any of ``choices``, between ``minimum`` and ``maximum`` of them; the data carries a list of
    values in the declaration's order."""
    return FormField(name, label, FieldKind.MULTI, required, choices=choices, minimum=minimum,
                     maximum=maximum, hint=hint)


def day(name: str, label: str, *, required: bool = True, hint: str = "") -> FormField:
    """A date; the data carries it as ``YYYY-MM-DD``."""
    return FormField(name, label, FieldKind.DATE, required, hint=hint)


def phone(name: str, label: str, *, required: bool = True, hint: str = "") -> FormField:
    """A mainland mobile number; the data carries its 11 digits."""
    return FormField(name, label, FieldKind.PHONE, required, hint=hint)


def yesno(name: str, label: str, *, required: bool = True, hint: str = "") -> FormField:
    """是 / 否; the data carries ``true`` or ``false``."""
    return FormField(name, label, FieldKind.YESNO, required, hint=hint)
