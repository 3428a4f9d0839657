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
from ..lint.report import ERROR, Problem
from ...model.persona import Persona
from ...model.templates import DEFAULT_VARIANT, LiveScript, ScriptBook


def script_problems(persona: type[Persona], book: ScriptBook) -> list[Problem]:
    """Lint's findings about the scripts of ``book`` (errors and warnings; not the bot's code)."""
    from ..lint import lint

    folder = (persona.folder() / persona.scripts_dir).resolve()
    return [p for p in lint(persona, scripts=book).problems if folder in Path(p.file).resolve().parents]


def script_errors(persona: type[Persona], book: ScriptBook) -> list[str]:
    """Lint's errors about the scripts of ``book``, as ``file:line: error: message`` lines."""
    return [str(p) for p in script_problems(persona, book) if p.severity == ERROR]


def check_new_text(persona: type[Persona], live: Mapping[str, LiveScript], script: str,
                   texts: Mapping[str, str]) -> None:
    """Raise :class:`ScriptRejected` when any of ``texts`` (variant -> source) of ``script``
    brings a lint error the scripts in ``live`` do not have."""
    folder = persona.folder() / persona.scripts_dir
    baseline = set(script_errors(persona, ScriptBook.draft(folder, live)))
    found: list[str] = []
    problems: list[Problem] = []
    for variant, text in texts.items():
        label = f" (variant {variant})" if variant != DEFAULT_VARIANT else ""
        for problem in script_problems(persona, ScriptBook.draft(folder, live, {script: text})):
            if problem.severity == ERROR and str(problem) not in baseline:
                found.append(str(problem) + label)
                problems.append(problem)
    if found:
        raise ScriptRejected(f"{script}: refused, lint found {len(found)} error"
                             f"{'s' * (len(found) != 1)}:\n" + "\n".join(found), found, findings=problems)


def check_scripts(persona: type[Persona], book: ScriptBook, refusal: str) -> None:
    """Raise :class:`ScriptRejected` (``refusal`` and lint's findings) when the scripts ``book``
    holds — its files with its published versions in their place — fail lint."""
    found = script_errors(persona, ScriptBook.draft(book.folder, book.live()))
    if found:
        raise ScriptRejected(f"{refusal}:\n" + "\n".join(found), found)
