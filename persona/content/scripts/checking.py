"""Lint as the gate in front of customers: what a publish, a rollback or a start must pass.

A version is refused when it brings a lint error that the scripts in use do not already
have: a writer is answerable for their own change, not for a problem elsewhere in the bot.
At start, any lint error in the scripts the bot would render stops it, so a typo is found by
the deploy, not by customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ...errors import ScriptRejected
from ...model.persona import Persona
from ...model.templates import DEFAULT_VARIANT, LiveScript, ScriptBook


def script_errors(persona: type[Persona], book: ScriptBook) -> list[str]:
    """Lint's errors about the scripts of ``book``, as ``file:line: error: message`` lines."""
    from ..lint import lint

    folder = (persona.folder() / persona.scripts_dir).resolve()
    errors = []
    for problem in lint(persona, scripts=book).errors:
        if folder in Path(problem.file).resolve().parents:  # a script's problem, not the bot's
            errors.append(str(problem))
    return errors


def check_new_text(persona: type[Persona], live: Mapping[str, LiveScript], script: str,
                   texts: Mapping[str, str]) -> None:
    """Raise :class:`ScriptRejected` when any of ``texts`` (variant -> source) of ``script``
    brings a lint error the scripts in ``live`` do not have."""
    folder = persona.folder() / persona.scripts_dir
    baseline = set(script_errors(persona, ScriptBook.draft(folder, live)))
    found: list[str] = []
    for variant, text in texts.items():
        label = f" (variant {variant})" if variant != DEFAULT_VARIANT else ""
        for line in script_errors(persona, ScriptBook.draft(folder, live, {script: text})):
            if line not in baseline:
                found.append(line + label)
    if found:
        raise ScriptRejected(f"{script}: refused, lint found {len(found)} error"
                             f"{'s' * (len(found) != 1)}:\n" + "\n".join(found), found)


def check_scripts(persona: type[Persona], book: ScriptBook, refusal: str) -> None:
    """Raise :class:`ScriptRejected` (``refusal`` and lint's findings) when the scripts ``book``
    holds — its files with its published versions in their place — fail lint."""
    found = script_errors(persona, ScriptBook.draft(book.folder, book.live()))
    if found:
        raise ScriptRejected(f"{refusal}:\n" + "\n".join(found), found)
