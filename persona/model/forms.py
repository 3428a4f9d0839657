"""信息采集: forms a persona declares, served to one customer behind a signed link.

A persona lists its forms (``forms = [Form("questionnaire", ...)]``); each names the business
event a valid submission becomes, so the answers reach the persona as that event's ``data``
and move the customer like any event from the brand's systems. Everything a submission must
satisfy lives in the declaration, checked when the class is defined: a choice field without
choices, a pattern that does not compile, a form whose event needs a field the form never
asks, or a field of the wrong type for the event's declared data fails at import, not on a
customer's phone.

:meth:`Form.read` turns what a browser posted (every value a list of strings) into the
event's data, or a Chinese message per field the customer can act on; it keeps nothing and
raises nothing for bad input.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..clock import parse_duration
from ..errors import DefinitionError

if TYPE_CHECKING:
    from .persona import Persona

#: a form's or a field's name: it is in links and in the event's data
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
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
        if not isinstance(self.name, str) or not _NAME.match(self.name):
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


@dataclass(frozen=True)
class Answers:
    """What :meth:`Form.read` made of a submission: the event's ``data`` when ``errors`` is empty,
    else a Chinese message per field name."""

    data: dict[str, Any]
    errors: dict[str, str]

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Form:
    """A form a persona serves (see the module docstring). ``expires``: how long a link to it
    stays good (``"7d"``, or seconds)."""

    name: str
    title: str
    fields: Sequence[FormField]
    event: str
    intro: str = ""
    thanks: str = "提交成功，谢谢你！"
    submit: str = "提交"
    expires: str | float = "7d"

    def __post_init__(self) -> None:
        where = f"Form({self.name!r})"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise DefinitionError(f"{where}: a form name is lower-case letters, digits and _ "
                                  "(starting with a letter): it is part of the link")
        if not self.title.strip():
            raise DefinitionError(f"{where}: give it a title, the heading of the page")
        if not self.event or not isinstance(self.event, str):
            raise DefinitionError(f"{where}: event= names the business event a submission becomes")
        object.__setattr__(self, "fields", tuple(self.fields))
        if not self.fields:
            raise DefinitionError(f"{where}: a form needs fields")
        seen: set[str] = set()
        for f in self.fields:
            if not isinstance(f, FormField):
                raise DefinitionError(f"{where}: {f!r} is not a field; use text(), number(), choice(), "
                                      "multi(), day(), phone() or yesno()")
            if f.name in seen:
                raise DefinitionError(f"{where}: field {f.name!r} appears twice")
            seen.add(f.name)
        try:
            seconds = (float(self.expires) if isinstance(self.expires, (int, float))
                       else parse_duration(self.expires).total_seconds())
        except ValueError as exc:
            raise DefinitionError(f"{where}: expires={self.expires!r}: {exc}") from None
        if seconds <= 0:
            raise DefinitionError(f"{where}: expires={self.expires!r} must be a positive duration")
        object.__setattr__(self, "expires", seconds)

    @property
    def lifetime(self) -> float:
        """Seconds a link stays good."""
        return float(self.expires)

    def read(self, posted: Mapping[str, Sequence[str] | str]) -> Answers:
        """The event's data from what the browser posted (each value a list of strings, as a
        form body parses, or one string); unknown keys are ignored."""
        data: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for f in self.fields:
            raw = posted.get(f.name, ())
            value, problem = f.read([raw] if isinstance(raw, str) else raw)
            if problem:
                errors[f.name] = problem
            elif value is not None:
                data[f.name] = value
        return Answers(data, errors)


def form_named(persona: "type[Persona]", name: str) -> Form | None:
    return next((f for f in persona.forms if f.name == name), None)


def check(persona: "type[Persona]") -> None:
    """Refuse forms that cannot become their event: at import, saying what to fix."""
    owner = persona.__name__
    names = [f.name for f in persona.forms]
    events = persona.event_names()
    for f in persona.forms:
        if not isinstance(f, Form):
            raise DefinitionError(f"{owner}.forms holds {f!r}; list Form(...) declarations")
        if names.count(f.name) > 1:
            raise DefinitionError(f"{owner}.forms declares {f.name!r} twice")
        if f.event not in events:
            close = difflib.get_close_matches(f.event, sorted(events), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else (
                f" (it handles: {', '.join(sorted(events))})" if events else " (it handles no events)")
            raise DefinitionError(f"{owner}: form {f.name!r} becomes event {f.event!r}, which {owner} has "
                                  f"no @on.event handler for{hint}")
        declared = persona.routes.event_data.get(f.event)
        if declared is None:
            continue
        asked = {field_.name: field_ for field_ in f.fields}
        for wanted in declared.fields:
            got = asked.get(wanted.name)
            if got is None:
                if wanted.required:
                    raise DefinitionError(f"{owner}: form {f.name!r} does not ask {wanted.name!r}, which event "
                                          f"{f.event!r} requires; add a field for it")
                continue
            if wanted.required and not got.required:
                raise DefinitionError(f"{owner}: form {f.name!r} field {wanted.name!r} is optional, but event "
                                      f"{f.event!r} requires it; make it required=True")
            if not any(t is object or t is got.value_type or (t is float and got.value_type is int)
                       for t in wanted.types):
                raise DefinitionError(f"{owner}: form {f.name!r} field {wanted.name!r} gives "
                                      f"{got.value_type.__name__}, but event {f.event!r} declares it "
                                      f"{wanted.type_name}; change the field's kind or the event's data=")
