"""What ``persona init NAME`` creates: a copy of :mod:`persona.scaffold.starter`, renamed.

The starter is a real bot, linted and tested with the rest of persona, so a new bot passes
``persona lint`` and its own scenario tests the moment it is created.

A tool: may import :mod:`persona.testing` and every room below.
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

from ..errors import PersonaError

STARTER = Path(__file__).resolve().parent / "starter"
_SKIP = ("__pycache__", ".pytest_cache")


def check_name(name: str) -> None:
    """A bot name is a Python package name that does not hide a module people import."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise PersonaError(f"bot name {name!r}: use lower-case letters, digits and _ "
                           "(a Python package name), e.g. beauty_bot")
    if name in sys.stdlib_module_names or name in ("persona", "bots", "tests", "test"):
        raise PersonaError(f"bot name {name!r} would hide the module of the same name; choose another")


def class_name(name: str) -> str:
    """``beauty_bot`` → ``BeautyBot``."""
    return "".join(part.capitalize() for part in name.split("_") if part) or "Bot"


def scaffold(name: str, target: Path) -> list[Path]:
    """Write bot ``name`` into folder ``target`` (which must not hold anything yet)."""
    check_name(name)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise PersonaError(f"{target} already exists and is not empty; choose another --dir or name")
    replacements = (("persona.scaffold.starter", name), ("Starter", class_name(name)), ("starter", name))
    written: list[Path] = []
    for source in sorted(STARTER.rglob("*")):
        relative = source.relative_to(STARTER)
        if source.is_dir() or any(part in _SKIP for part in relative.parts) or source.suffix == ".pyc":
            continue
        text = source.read_text(encoding="utf-8")
        for old, new in replacements:
            text = text.replace(old, new)
        dest = target / relative
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")
        written.append(dest)
    return written
