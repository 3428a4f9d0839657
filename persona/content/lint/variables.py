"""What each script may use and where it is said: ``persona lint --vars``, for writers.

A writer editing ``welcome.j2`` needs to know which variables the places that say it give it
(``turn.say("welcome", offer=...)``), what every script gets, and which customer fields it
already reads. This lists exactly what the checks compare, from the same reading.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checks import BASE_VARIABLES, Reading
from .source import Site
from .states import States


@dataclass(frozen=True, slots=True)
class SaidAt:
    """One place the script is said, with what that place gives it (None: cannot tell)."""

    file: str
    line: int
    states: States
    via: str
    given: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class ScriptVariables:
    script: str
    #: variables the script reads (sorted)
    uses: tuple[str, ...]
    #: customer fields it reads (``attrs.source``, ``tags.vip``...)
    fields: tuple[str, ...]
    #: what every script gets: the base variables and context()'s keys (None: context() unknown)
    everywhere: frozenset[str]
    context: frozenset[str] | None
    sites: tuple[SaidAt, ...]


def script_variables(read: Reading) -> list[ScriptVariables]:
    """For each script the linter read, its variables and the places it is said."""
    by_script: dict[str, list[Site]] = {}
    for site in read.sites:
        by_script.setdefault(site.script, []).append(site)
    out = []
    for name, script in sorted(read.scripts.items()):
        sites = tuple(SaidAt(s.file, s.line, s.states, s.via, s.given) for s in by_script.get(name, ()))
        out.append(ScriptVariables(
            name, tuple(sorted(script.uses)), tuple(sorted({str(f) for f in script.fields})),
            BASE_VARIABLES | (read.context or frozenset()), read.context, sites))
    return out
