"""One published version of one script, and how it is written into a store.

A version is a whole configuration of the script, not a patch: its variants with their texts
and weights, who published it, when and why. Publishing variant ``b`` writes a version that
holds ``a`` and ``b``; a rollback writes a version that holds what the target held. So the
newest version alone says what customers get, and every version can be rendered by itself.
A version with no variants means "the file in ``scripts/``" (a rollback to version 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from ...model.templates import LiveScript, Variant


class Action(StrEnum):
    """How a version came to be."""

    PUBLISH = "publish"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class ScriptVersion:
    """Version ``number`` of ``script`` (0 is the file and is never stored)."""

    script: str
    number: int
    variants: tuple[Variant, ...]
    author: str = ""
    at: float = 0.0
    note: str = ""
    action: Action = Action.PUBLISH
    #: for a rollback: the version it brought back
    restores: int | None = None

    @property
    def is_file(self) -> bool:
        """True when this version serves the file in ``scripts/`` (version 0 or a rollback to it)."""
        return not self.variants

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)

    def live(self) -> LiveScript:
        """What :meth:`persona.model.templates.ScriptBook.install` takes for this version."""
        return LiveScript(self.number, self.variants)

    def dump(self) -> str:
        """The store's entry (the number is the entry's place, not part of it)."""
        raw: dict[str, object] = {
            "variants": [[v.name, v.text, v.weight] for v in self.variants],
            "author": self.author, "at": self.at, "note": self.note, "action": str(self.action)}
        if self.restores is not None:
            raw["restores"] = self.restores
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, script: str, number: int, entry: str) -> "ScriptVersion":
        raw = json.loads(entry)
        return cls(script=script, number=number,
                   variants=tuple(Variant(str(n), str(t), float(w)) for n, t, w in raw.get("variants", [])),
                   author=str(raw.get("author", "")), at=float(raw.get("at", 0)), note=str(raw.get("note", "")),
                   action=Action(raw.get("action", Action.PUBLISH)), restores=raw.get("restores"))
