"""Declared business-event payloads: the fields each event carries and their types.

A persona states them next to the handler::

    @on.event("order_placed", data={"order_id": (str, int), "amount": float, "items?": list})

A name ending in ``?`` is optional (missing or null); other fields must be present and not
null. The service checks a posted event against its declaration before any handler runs and
answers ``422`` naming every field that is wrong, so the brand's developer fixes the sender
rather than reading a handler's traceback; fields nobody declared pass through untouched, so a
sender may add fields before the bot reads them. ``persona events BOT`` prints the
declarations as the Markdown table a bot's README carries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DefinitionError, EventDataError

#: The types a field may be declared with, and how they read in messages and READMEs.
TYPE_NAMES: dict[type, str] = {str: "text", int: "whole number", float: "number", bool: "true/false",
                               list: "list", dict: "object", object: "any value"}


def _accepts(kind: type, value: Any) -> bool:
    if kind is object:
        return True
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


@dataclass(frozen=True)
class Field:
    """One declared field of an event's ``data``."""

    name: str
    types: tuple[type, ...]
    required: bool

    @property
    def type_name(self) -> str:
        return " or ".join(TYPE_NAMES[t] for t in self.types)

    def problem(self, data: Mapping[str, Any]) -> str | None:
        """What is wrong with this field in ``data``; None when it is fine."""
        value = data.get(self.name)
        if value is None:
            if not self.required:
                return None
            return f"field {self.name!r} is missing" if self.name not in data else f"field {self.name!r} is null"
        if any(_accepts(t, value) for t in self.types):
            return None
        shown = json.dumps(value, ensure_ascii=False)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return f"field {self.name!r} must be {self.type_name} (got {shown})"


@dataclass(frozen=True)
class EventData:
    """The declared ``data`` of one business event."""

    event: str
    fields: tuple[Field, ...]

    @classmethod
    def build(cls, event: str, declared: Mapping[str, Any]) -> "EventData":
        """Check a declaration as written in ``@on.event(..., data={...})``; mistakes fail at import."""
        where = f"@on.event({event!r}) data="
        if not isinstance(declared, Mapping):
            raise DefinitionError(f"{where} takes a dict of field name to type, e.g. {{\"amount\": float}}")
        fields = []
        for raw_name, kind in declared.items():
            name = str(raw_name)
            required = not name.endswith("?")
            name = name.rstrip("?")
            if not name:
                raise DefinitionError(f"{where}: a field needs a name")
            types = tuple(kind) if isinstance(kind, (tuple, list)) else (kind,)
            unknown = [t for t in types if t not in TYPE_NAMES]
            if not types or unknown:
                raise DefinitionError(f"{where}: field {name!r} has type {unknown[0] if unknown else kind!r}; "
                                      f"use {', '.join(t.__name__ for t in TYPE_NAMES)} or a tuple of them")
            fields.append(Field(name, types, required))
        return cls(event, tuple(fields))

    def problems(self, data: Mapping[str, Any]) -> list[str]:
        """Every declared field that is missing or of the wrong type, in declaration order."""
        return [p for p in (f.problem(data) for f in self.fields) if p is not None]

    def check(self, data: Mapping[str, Any]) -> None:
        """Raise :class:`EventDataError` naming every wrong field."""
        found = self.problems(data)
        if found:
            raise EventDataError(f"event {self.event!r}: {'; '.join(found)}",
                                 fields=[f.name for f in self.fields if f.problem(data)])

    def describe(self) -> str:
        """The README's data cell: ``\\`amount\\` (number), \\`note?\\` (text)``; ``{}`` for none."""
        if not self.fields:
            return "`{}`"
        return ", ".join(f"`{f.name}{'' if f.required else '?'}` ({f.type_name})" for f in self.fields)
