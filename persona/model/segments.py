"""Segments as people write them: ``state:welcomed+tag:source=parcel`` (every part must hold),
checked against a persona; the store keeps one index entry per part."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import PersonaError

if TYPE_CHECKING:
    from .persona import Persona


def parse_segment(text: str, cls: type[Persona]) -> list[str]:
    """``state:welcomed+tag:source=parcel`` → the store's segment names, checked against the bot."""
    if text.strip() == "all":
        return ["all"]
    parts = [p.strip() for p in text.split("+") if p.strip()]
    if not parts:
        raise PersonaError("SEGMENT is empty: use state:NAME, tag:NAME, tag:NAME=VALUE or all")
    for part in parts:
        kind, _, value = part.partition(":")
        if kind == "state":
            if value not in cls.states:
                raise PersonaError(f"segment {part!r}: {value!r} is not a state of {cls.name} "
                                   f"(states: {', '.join(cls.states)})")
        elif kind == "tag" and value:
            tag = value.partition("=")[0]
            if cls.indexed_tags is not None and tag not in cls.indexed_tags:
                raise PersonaError(f"segment {part!r}: tag {tag!r} is not indexed for segments "
                                   f"({cls.__name__}.indexed_tags: {', '.join(sorted(cls.indexed_tags))})")
        else:
            raise PersonaError(f"segment {part!r}: use state:NAME, tag:NAME or tag:NAME=VALUE "
                               "(several joined with +), or all")
    return parts
