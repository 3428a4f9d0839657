"""What was live when: every published version of a bot's scripts, with its time.

A version is stamped with the time it was stored (:attr:`ScriptVersion.at`) and stays live
until a newer one of the same script (a rollback is a newer one too). So the set customers got
at any moment is, per script, the newest version stored by then; a script with none by then is
its file. ``persona replay`` re-runs each journaled turn with the set of its time, so a publish
made after a turn does not show up as a difference in it.

The times are the publisher's clock and a process picks a publish up within about a second
(:mod:`persona.content.scripts.live`), so a turn in the second after a publish may still have
used the version before: the journal records the version each message used (no number: the
file), and :meth:`ScriptTimeline.version` finds that one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ...model.templates import LiveScript
from ...store.versions import ScriptVersionStore
from .versions import ScriptVersion


class ScriptTimeline:
    """The stored versions of every script, oldest first, read once."""

    def __init__(self, versions: Mapping[str, Sequence[ScriptVersion]]) -> None:
        self._versions = {script: tuple(entries) for script, entries in versions.items() if entries}

    @classmethod
    async def load(cls, store: ScriptVersionStore) -> "ScriptTimeline":
        return cls({script: [ScriptVersion.load(script, i + 1, entry)
                             for i, entry in enumerate(await store.script_versions(script))]
                    for script in await store.versioned_scripts()})

    def live_at(self, at: float) -> dict[str, LiveScript]:
        """The set customers got at ``at``: per script, the newest version stored by then."""
        live: dict[str, LiveScript] = {}
        for script, entries in self._versions.items():
            stored = [v for v in entries if v.at <= at]
            if stored:
                live[script] = max(stored, key=lambda v: v.number).live()
        return live

    def live_now(self) -> dict[str, LiveScript]:
        """The set customers get now: the newest version of every script (as the poller installs)."""
        return {script: entries[-1].live() for script, entries in self._versions.items()}

    def __contains__(self, script: str) -> bool:
        """True when ``script`` has a stored version."""
        return script in self._versions

    def version(self, script: str, number: int) -> ScriptVersion | None:
        """Version ``number`` of ``script`` (None for 0, the file, or one not stored)."""
        entries = self._versions.get(script, ())
        return entries[number - 1] if 0 < number <= len(entries) else None
