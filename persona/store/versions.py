"""The script-version role of a store: where published versions of a bot's scripts live.

Kept apart from the customer-facing :class:`~persona.store.base.Store` interface: only the
publishing tools and each process's live-script poller use it. Versions are append-only and
numbered per script from 1 (version 0 is the file in the bot's ``scripts/`` folder, never
stored). An append names the number it expects to follow, so two writers publishing at once
cannot both build on the same version and lose one's change: the second is told to re-read.

Entries are opaque text (JSON written by :mod:`persona.content.scripts.versions`); the store only
numbers, keeps and lists them.
"""

from __future__ import annotations

import abc


class ScriptVersionStore(abc.ABC):
    """Four operations; everything else (history, the live set, rollback) is built on them."""

    @abc.abstractmethod
    async def append_script_version(self, script: str, expected: int, entry: str) -> bool:
        """Store ``entry`` as version ``expected + 1`` of ``script``, only if ``expected`` is
        still the newest stored number (0 when none); False when another version came first."""

    @abc.abstractmethod
    async def script_versions(self, script: str) -> list[str]:
        """Every stored entry of ``script``, oldest first (index ``i`` is version ``i + 1``)."""

    @abc.abstractmethod
    async def versioned_scripts(self) -> list[str]:
        """The names of the scripts with at least one stored version, sorted."""

    @abc.abstractmethod
    async def script_generation(self) -> int:
        """A number that grows with every append in this namespace.

        Cheap enough to ask every second: processes poll it and re-read the versions only
        when it moved.
        """

    async def latest_script_versions(self) -> dict[str, tuple[int, str]]:
        """The newest entry of every versioned script, as ``name -> (number, entry)``."""
        latest: dict[str, tuple[int, str]] = {}
        for script in await self.versioned_scripts():
            entries = await self.script_versions(script)
            if entries:
                latest[script] = (len(entries), entries[-1])
        return latest
