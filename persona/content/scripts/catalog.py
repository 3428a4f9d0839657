"""Publishing scripts without a deploy: publish, history, rollback, the live list.

:class:`ScriptCatalog` is the one code path for every tool that changes what customers read
(``persona scripts`` and the studio's Scripts page): each change is linted against the bot
before it is stored, is a new numbered version with author, time and note, and reaches every
``persona serve`` and ``persona worker`` process on the store within seconds (see
:mod:`persona.content.scripts.live`). Nothing is ever overwritten; a rollback is a new version too.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ...errors import ConflictError, PersonaError
from ...model.persona import Persona, load_persona
from ...store import open_store
from ...store.versions import ScriptVersionStore
from ...model.templates import DEFAULT_VARIANT, DEFAULT_WEIGHT, SUFFIX, LiveScript, Variant, script_files
from .checking import check_new_text
from .versions import Action, ScriptVersion

SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*$")
VARIANT_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
#: how often a publish re-reads and retries when another writer's version came first
APPEND_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One version with what changed since the one before it."""

    version: ScriptVersion
    added: int
    removed: int
    diff: str


@dataclass(frozen=True, slots=True)
class ScriptStatus:
    """A script as customers get it now: the live version (0: the file) and its variants."""

    script: str
    version: ScriptVersion
    variants: tuple[tuple[str, float], ...]


async def load_live(store: ScriptVersionStore) -> dict[str, LiveScript]:
    """The newest version of every published script, as a ScriptBook installs them, each with
    the versions before it (newest first) that a render falls back on when it fails for a
    customer (reading them costs nothing more: a script's versions are one read)."""
    live: dict[str, LiveScript] = {}
    for script in await store.versioned_scripts():
        versions = [ScriptVersion.load(script, i + 1, entry)
                    for i, entry in enumerate(await store.script_versions(script))]
        if versions:
            newest = versions[-1].live()
            live[script] = LiveScript(newest.version, newest.variants,
                                      tuple(v.live() for v in reversed(versions[:-1])))
    return live


class ScriptCatalog:
    """The published scripts of one persona in one store.

    ``clock`` gives the time versions are stamped with (tests pass a fake one).
    """

    def __init__(self, persona: type[Persona], store: ScriptVersionStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.persona = persona
        self.store = store
        self.clock = clock
        self.folder = persona.folder() / persona.scripts_dir

    # -- reading -----------------------------------------------------------------------------
    async def versions(self, script: str) -> list[ScriptVersion]:
        """Every version of ``script``, oldest first, starting with version 0 (the file)."""
        self._check_name(script)
        stored = await self.store.script_versions(script)
        return [self._file_version(script),
                *(ScriptVersion.load(script, i + 1, entry) for i, entry in enumerate(stored))]

    async def live_version(self, script: str) -> ScriptVersion:
        """The version customers get now."""
        return (await self.versions(script))[-1]

    async def scripts(self) -> list[ScriptStatus]:
        """Every script (the files and the published ones) with its live version and variants."""
        latest = await self.store.latest_script_versions()
        out = []
        for name in sorted({*script_files(self.folder), *latest}):
            version = (ScriptVersion.load(name, *latest[name]) if name in latest
                       else self._file_version(name))
            variants = tuple((v.name, v.weight) for v in version.variants) or ((DEFAULT_VARIANT, DEFAULT_WEIGHT),)
            out.append(ScriptStatus(name, version, variants))
        return out

    async def history(self, script: str) -> list[HistoryEntry]:
        """Every version, newest first, each with its diff from the version before it."""
        versions = await self.versions(script)
        entries = []
        for before, after in zip([None, *versions], versions):
            diff = self.diff(before, after) if before is not None else ""
            added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
            removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
            entries.append(HistoryEntry(after, added, removed, diff))
        return entries[::-1]

    def diff(self, before: ScriptVersion, after: ScriptVersion) -> str:
        """A unified diff of every variant's text between two versions (weights noted too)."""
        old, new = self._texts(before), self._texts(after)
        chunks: list[str] = []
        for name in sorted({*old, *new}):
            (a_text, a_weight), (b_text, b_weight) = old.get(name, ("", 0.0)), new.get(name, ("", 0.0))
            label = f"{before.script}{SUFFIX}" + (f" variant {name}" if len(old) > 1 or len(new) > 1 else "")
            chunks += difflib.unified_diff(a_text.splitlines(), b_text.splitlines(),
                                           f"{label} (version {before.number})",
                                           f"{label} (version {after.number})", lineterm="")
            if a_weight != b_weight and name in old and name in new:
                chunks.append(f"weight of variant {name}: {a_weight:g} -> {b_weight:g}")
        return "\n".join(chunks)

    # -- changing ----------------------------------------------------------------------------
    async def publish(self, script: str, text: str, *, author: str, note: str = "",
                      variant: str | None = None, weight: float | None = None) -> ScriptVersion:
        """Make ``text`` the live text of ``script`` (or of its ``variant``) and return the new
        version. Refused with :class:`~persona.errors.ScriptRejected` (nothing stored) when it
        brings a lint error. ``weight`` (relative to the other variants; 0 stops a variant)
        defaults to the variant's current weight, or 50 for a new one."""
        self._check_name(script)
        variant = variant or DEFAULT_VARIANT
        if not VARIANT_NAME.match(variant):
            raise PersonaError(f"variant {variant!r}: use letters, digits, '-' or '_' (up to 32), e.g. b")
        if weight is not None and not (math.isfinite(weight) and weight >= 0):
            raise PersonaError(f"weight {weight!r}: give a number of 0 or more (0 stops the variant)")
        if not text.strip():
            raise PersonaError(f"{script}: the text is empty; a script must say something")

        def change(current: ScriptVersion) -> tuple[Variant, ...]:
            variants = list(self._variants_of(current))
            if not variants and variant != DEFAULT_VARIANT:
                raise PersonaError(f"{script}: there is no scripts/{script}{SUFFIX} to test variant "
                                   f"{variant!r} against; publish the script itself first")
            old = next((v for v in variants if v.name == variant), None)
            new = Variant(variant, text, weight if weight is not None else old.weight if old else DEFAULT_WEIGHT)
            if old is None:
                variants.append(new)
            else:
                variants[variants.index(old)] = new
            return tuple(variants)

        return await self._append(script, change, {variant: text}, author=author, note=note,
                                  action=Action.PUBLISH)

    async def rollback(self, script: str, *, to: int | None = None, author: str,
                       note: str = "") -> ScriptVersion:
        """Bring back version ``to`` (default: the one before the live one; 0 is the file) as a
        new version. Refused like a publish when that version fails lint today."""
        self._check_name(script)
        versions = await self.versions(script)
        live = versions[-1]
        target = live.number - 1 if to is None else to
        if live.number == 0:
            raise PersonaError(f"{script}: nothing was published, version 0 (the file) is live")
        if not 0 <= target < len(versions):
            raise PersonaError(f"{script}: there is no version {target} (versions 0 to {live.number})")
        restored = versions[target]
        texts = {v.name: v.text for v in restored.variants} or {DEFAULT_VARIANT: self._file_text(script)}
        return await self._append(script, lambda current: restored.variants, texts, author=author,
                                  note=note or f"rollback to version {target}", action=Action.ROLLBACK,
                                  restores=target)

    async def _append(self, script: str, change: Callable[[ScriptVersion], tuple[Variant, ...]],
                      texts: dict[str, str], *, author: str, note: str, action: Action,
                      restores: int | None = None) -> ScriptVersion:
        for _ in range(APPEND_ATTEMPTS):
            current = await self.live_version(script)
            variants = change(current)
            check_new_text(self.persona, await load_live(self.store), script, texts)
            version = ScriptVersion(script, current.number + 1, variants, author=author, at=self.clock(),
                                    note=note, action=action, restores=restores)
            if await self.store.append_script_version(script, current.number, version.dump()):
                return version
        raise ConflictError(f"{script}: other versions kept arriving while publishing; try again")

    # -- helpers -----------------------------------------------------------------------------
    def _check_name(self, script: str) -> None:
        if script.endswith(SUFFIX):
            raise PersonaError(f"script {script!r}: name it without {SUFFIX} ({script[:-len(SUFFIX)]!r})")
        if not SCRIPT_NAME.match(script) or ".." in script:
            raise PersonaError(f"script {script!r}: a script name is a file name under scripts/ "
                               "without .j2, e.g. welcome or partials/offer")

    def _file_text(self, script: str) -> str:
        path = self.folder / f"{script}{SUFFIX}"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def _file_version(self, script: str) -> ScriptVersion:
        return ScriptVersion(script, 0, (), note=f"scripts/{script}{SUFFIX}")

    def _variants_of(self, version: ScriptVersion) -> tuple[Variant, ...]:
        """A version's variants, the file's text standing for version 0."""
        if version.variants:
            return version.variants
        text = self._file_text(version.script)
        return (Variant(DEFAULT_VARIANT, text),) if text else ()

    def _texts(self, version: ScriptVersion) -> dict[str, tuple[str, float]]:
        return {v.name: (v.text, v.weight) for v in self._variants_of(version)}


@asynccontextmanager
async def open_catalog(bot: str | type[Persona], store_url: str,
                       namespace: str | None = None) -> AsyncIterator[ScriptCatalog]:
    """The catalog of ``bot`` (an import path or a Persona class) on the store at ``store_url``,
    in the namespace ``persona serve`` uses for it (the persona's name); the store is closed
    on leaving."""
    persona = load_persona(bot) if isinstance(bot, str) else bot
    store = open_store(store_url, namespace or persona.name)
    try:
        if not isinstance(store, ScriptVersionStore):
            raise PersonaError(f"the store at {store_url} cannot keep script versions")
        yield ScriptCatalog(persona, store)
    finally:
        await store.close()
