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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..clock import parse_duration
from ..errors import DefinitionError
from .formfields import NAME, FieldKind, FormField, choice, day, multi, number, phone, text, yesno

if TYPE_CHECKING:
    from .persona import Persona

__all__ = ["Answers", "FieldKind", "Form", "FormField", "check", "choice", "day", "form_named", "multi", "number",
           "phone", "text", "yesno"]


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
        if not isinstance(self.name, str) or not NAME.match(self.name):
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
