"""Keeping a running process's scripts on what is published, and on the files in development.

:class:`ScriptPoller` asks the store every second whether anything was published (one cheap
read: the store's script generation) and, when it was, installs the newest version of every
script as one set (each with the versions before it, which a render falls back on when the
newest fails for a customer). A publish reaches every ``persona serve`` and ``persona worker`` process
within about a second, without a restart; a set that does not compile is logged and left out,
the one in use stays (publishing lints, so this only guards against a bot deployed with
different code than the publisher's).

:func:`watch_folder` is for development (``persona serve --reload``, ``persona chat``): it
watches ``scripts/`` with watchfiles and swaps in an edited file that passes lint, or says
what lint found and keeps the old text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ...errors import PersonaError, StoreUnavailable, TemplateError
from ...model.persona import Persona
from ...store.versions import ScriptVersionStore
from ...model.templates import ScriptBook
from .catalog import load_live
from .checking import check_scripts

log = logging.getLogger(__name__)

#: seconds between two looks at the store (a publish is live in every process within this)
POLL_INTERVAL = 1.0


class ScriptPoller:
    """Installs the versions published in ``store`` into ``book`` whenever they change."""

    def __init__(self, book: ScriptBook, store: ScriptVersionStore, *, interval: float = POLL_INTERVAL,
                 name: str = "") -> None:
        self.book = book
        self.store = store
        self.interval = interval
        self.name = name
        #: the store's generation the book reflects (None: not read yet)
        self.generation: int | None = None

    async def refresh(self) -> bool:
        """Install the published set if it changed since the last look; True when installed."""
        generation = await self.store.script_generation()
        if generation == self.generation:
            return False
        live = await load_live(self.store)
        try:
            self.book.install(live)
        except TemplateError as exc:
            log.error("bot=%s published scripts do not compile here, keeping the ones in use: %s", self.name, exc)
            self.generation = generation
            return False
        if self.generation is not None or live:
            log.info("bot=%s scripts now live: %s", self.name,
                     ", ".join(f"{name} v{script.version}" for name, script in sorted(live.items())) or "the files")
        self.generation = generation
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; an unreachable store is retried, never fatal."""
        while not stop.is_set():
            try:
                await self.refresh()
            except StoreUnavailable as exc:
                log.warning("bot=%s cannot read published scripts (%s); retrying", self.name, exc)
            except Exception:  # a corrupt entry must not stop the poller for good
                log.exception("bot=%s reading published scripts failed", self.name)
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass


async def watch_folder(persona: type[Persona], book: ScriptBook, stop: asyncio.Event,
                       say: Callable[[str], None]) -> None:
    """Swap in edited files of ``book``'s folder that pass lint until ``stop`` is set; ``say``
    gets one line (or lint's findings) per change."""
    from watchfiles import awatch

    async for _changes in awatch(book.folder, stop_event=stop, debounce=200, recursive=True):
        try:
            say(reload_checked(persona, book))
        except PersonaError as exc:
            say(str(exc))


def reload_checked(persona: type[Persona], book: ScriptBook) -> str:
    """Lint the folder as it is now (with the published versions in use) and reload the book if
    it passes; raises :class:`~persona.errors.ScriptRejected` with lint's findings otherwise."""
    check_scripts(persona, book, "scripts changed but lint found problems; the old texts stay")
    book.reload()
    return f"scripts reloaded from {book.folder}"
