"""Which of persona's modules run compiled, and the way back to their source.

``pip install`` compiles the modules in :data:`MODULES` with mypyc when the machine has a C
compiler (``setup.py``; the code is mypy-strict, so the compiled modules behave as the source
does, faster), and installs pure Python otherwise. Each compiled module is a C extension beside
its ``.py`` file, which Python imports in its place. :func:`install` (run when ``persona`` is
imported) sends those imports back to the source when

* ``PERSONA_PURE=1`` is set (to compare the two, or to rule the compiled code out), or
* any compiled module's source is newer than its build: an edit not yet rebuilt must not be
  hidden by the old build (all of them then run from source, since compiled modules call
  each other directly; installing again compiles the edit).

``persona --version`` says which is running (:func:`describe`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

#: the modules compiled when a C compiler is present: internal ones a turn runs through whose own
#: work is Python (not a call into a C library), each faster compiled in ``benchmarks.compiled``
#: (benchmarks/README.md says what was measured and left out). Never an object bot code holds
#: (``Turn``, ``Customer``, ``Persona``): a compiled class takes no attribute it does not declare,
#: and a bot must behave the same on both builds.
MODULES: tuple[str, ...] = (
    "persona.store.redis.records",
    "persona.engine.gate",
)

ROOT = Path(__file__).resolve().parent
PURE_ENV = "PERSONA_PURE"
#: how much newer than its build a source must be to count as edited: an install writes the two
#: a moment apart, in either order
EDITED_AFTER = 10.0


def source_of(module: str, root: Path = ROOT) -> Path:
    """The ``.py`` file of one of :data:`MODULES`."""
    return root.joinpath(*module.split(".")[1:]).with_suffix(".py")


def build_of(module: str, root: Path = ROOT) -> Path | None:
    """The compiled extension of one of :data:`MODULES` beside its source, or None."""
    source = source_of(module, root)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        built = source.with_name(source.stem + suffix)
        if built.exists():
            return built
    return None


def stale(modules: Sequence[str] = MODULES, root: Path = ROOT) -> list[str]:
    """The compiled modules whose source was changed after they were built."""
    out = []
    for module in modules:
        built = build_of(module, root)
        if built is not None and source_of(module, root).stat().st_mtime > built.stat().st_mtime + EDITED_AFTER:
            out.append(module)
    return out


def built(modules: Sequence[str] = MODULES, root: Path = ROOT) -> list[str]:
    """The modules of ``modules`` that have a compiled build beside their source."""
    return [m for m in modules if build_of(m, root) is not None]


def from_source() -> str | None:
    """Why the compiled modules are run from source, or None when they are not."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return f"{PURE_ENV}={os.environ[PURE_ENV]}"
    edited = stale()
    if edited:
        return f"{', '.join(edited)} edited since compiled: installing again compiles them"
    return None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the ``.py`` file of a compiled module, so its source is what gets imported."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_of(fullname))


_FINDER = _SourceFinder()


def install() -> None:
    """Import the compiled modules from source when :func:`from_source` says so."""
    if from_source() is not None and _FINDER not in sys.meta_path and built():
        sys.meta_path.insert(0, _FINDER)


def running() -> list[str]:
    """The modules of :data:`MODULES` imported so far from their compiled build."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [m for m in MODULES if str(getattr(sys.modules.get(m), "__file__", "")).endswith(suffixes)]


def describe() -> str:
    """``compiled with mypyc (N of M modules: ...)``, or ``pure Python`` and why."""
    have = built()
    if not have:
        return ("pure Python (nothing compiled in this install: no C compiler at install, PERSONA_BUILD_PURE=1, "
                "or mypyc refused the code)")
    why = from_source()
    if why is not None:
        return f"pure Python ({why})"
    return f"compiled with mypyc ({len(have)} of {len(MODULES)} modules: {', '.join(have)})"
