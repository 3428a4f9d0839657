"""Static checks of a bot: what ``persona lint`` reports, reusable from tests and editors.

A script that does not parse, a variable a script uses but nobody gives it, a script said in
code but missing on disk, a state no customer can ever enter, a timer scheduled by a name no
handler answers: each surfaces here as a :class:`Problem` with a ``file:line`` to fix, before
a customer ever meets it.

What a script receives is read from the bot's source: every ``turn.say("name", ...)`` and
``turn.render("name", ...)`` call is found with :mod:`ast`, and the keyword arguments it passes
are added to what every script gets (``customer``, ``tags``, ``attrs``, ``counters``, ``now``,
``data``, ``state``) and to the persona's ``context()`` keys. A script said in several places
must be satisfied by each of them. Script names passed through a helper
(``def offer(self, turn, script): turn.say(script, ...)``) are followed to its callers.

States count on both sides: a variable used only under ``{% if state == "choosing" %}`` is
needed only where the script can be said in ``choosing`` — a handler's ``states=``, narrowed
by ``if turn.state ...`` around the call and widened by the transitions triggered before it.

One engine a module: :mod:`.report` (what was found), :mod:`.loading` (a bot that does not
import), :mod:`.scripts` (the Jinja walker), :mod:`.source` (the Python source analyser, with
its heuristics in its header), :mod:`.states` (the state sets both narrow), :mod:`.checks`
(what is wrong, from what the two readers tell).
"""

from __future__ import annotations

from ...model.persona import Persona
from ...model.templates import ScriptBook
from .checks import BASE_VARIABLES, TEXT_MARGIN_BYTES, Linter
from .knowledge import check_knowledge
from .loading import import_bot
from .report import ERROR, WARNING, Problem, Report, Severity, display
from .source import SAY_OPTIONS, fired_triggers, scheduled_states
from .variables import SaidAt, ScriptVariables, script_variables

__all__ = ["BASE_VARIABLES", "ERROR", "SAY_OPTIONS", "TEXT_MARGIN_BYTES", "WARNING", "Problem", "Report",
           "SaidAt", "ScriptVariables", "Severity", "display", "fired_triggers", "lint", "scheduled_states",
           "variables"]


def variables(bot: str | type[Persona]) -> tuple[Report, list[ScriptVariables]]:
    """Lint ``bot`` and list, for each script, the variables it may use and where it is said."""
    report = Report(bot if isinstance(bot, str) else f"{bot.__module__}:{bot.__qualname__}")
    cls = bot if not isinstance(bot, str) else import_bot(bot, report)
    if cls is None:
        return report, []
    report.persona = cls
    linter = Linter(cls, report)
    linter.run()
    report.problems.sort()
    return report, script_variables(linter.read)


def lint(bot: str | type[Persona], scripts: ScriptBook | None = None) -> Report:
    """Check one bot (an import path such as ``bots.xiaowanzi``, or a Persona class).

    ``scripts`` checks those texts instead of the files (a version about to be published:
    see :meth:`persona.model.templates.ScriptBook.draft`); such a check is about scripts alone, so the
    bot's knowledge (``faq.yaml``), which takes a second to search through, is left out.

    Raises :class:`~persona.errors.PersonaError` only when there is no such bot to check;
    everything wrong with a bot that exists is a problem in the report.
    """
    report = Report(bot if isinstance(bot, str) else f"{bot.__module__}:{bot.__qualname__}")
    cls = bot if not isinstance(bot, str) else import_bot(bot, report)
    if cls is None:
        return report
    report.persona = cls
    Linter(cls, report, scripts).run()
    if scripts is None:
        check_knowledge(cls, report)
    report.problems.sort()
    return report
