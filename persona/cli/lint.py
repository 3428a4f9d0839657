"""``persona lint BOT [BOT...]``: check scripts, states and timers before a customer meets them.

Prints one ``file:line: severity: message`` line per finding (the format editors and CI
annotate), then a summary. Exit 0 when there are no errors (warnings allowed unless
``--strict``), 1 when there are, 2 when a bot cannot be found.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from ..content.lint import BASE_VARIABLES, ERROR, ScriptVariables, lint, variables
from ..content.lint.report import SEVERITY
from ..model.templates import SUFFIX
from ..model.wording import LANGUAGES, language
from .arguments import add_bot

EXIT_OK, EXIT_PROBLEMS = 0, 1


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona lint``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p, many=True)
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only, no warnings or summary")
    p.add_argument("--vars", action="store_true",
                   help="list, for each script, the variables it may use and where it is said "
                        "(after the findings)")
    p.add_argument("--lang", choices=LANGUAGES, default=None,
                   help="the findings' language (default: the locale's; zh_CN.UTF-8 gives zh, else en)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    failed = False
    paint = Painter(sys.stdout)
    lang = language(args.lang, os.environ)
    for bot in args.bots:
        report, listing = variables(bot) if args.vars else (lint(bot), [])
        for problem in report.problems:
            if args.quiet and problem.severity != ERROR:
                continue
            print(paint.problem(problem.text(lang), problem.severity, lang))
        errors, warnings = len(report.errors), len(report.warnings)
        if not args.quiet:
            status = paint.ok("ok") if not errors else paint.bad("failed")
            print(f"{bot}: {status}: {errors} error{'s' * (errors != 1)}, "
                  f"{warnings} warning{'s' * (warnings != 1)} ({report.scripts} scripts)")
        failed |= bool(errors) or (args.strict and bool(warnings))
        if listing:
            context = listing[0].context
            known = ", ".join(sorted(context)) if context is not None else "(context() cannot be read)"
            print(f"\nevery script of {bot} gets: {', '.join(sorted(BASE_VARIABLES))}; "
                  f"from context(): {known or '-'}")
        for entry in listing:
            print_variables(entry, sys.stdout)
    return EXIT_PROBLEMS if failed else EXIT_OK


def print_variables(entry: ScriptVariables, out: TextIO) -> None:
    """One script: what it uses and each place it is said, with what that place gives it."""
    print(f"\n{entry.script}{SUFFIX}", file=out)
    print(f"  uses:            {', '.join(entry.uses) or '-'}", file=out)
    if entry.fields:
        print(f"  customer fields: {', '.join(entry.fields)}", file=out)
    if not entry.sites:
        print("  said:            nowhere in the code (an include, a fallback or unused)", file=out)
    for site in entry.sites:
        where = f"{site.file}:{site.line}" + (f" ({site.via})" if site.via else "")
        if site.states is not None:
            where += f" in state {', '.join(sorted(site.states))}"
        given = ", ".join(sorted(site.given)) if site.given is not None else "(cannot tell)"
        print(f"  said at {where} with: {given or '-'}", file=out)


class Painter:
    """ANSI colours when writing to a terminal (and NO_COLOR is not set), plain text otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.on = bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def ok(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31;1", text)

    def problem(self, line: str, severity: str, lang: str = "en") -> str:
        if not self.on:
            return line
        label = SEVERITY[lang].get(severity, severity)
        head, _, tail = line.partition(f": {label}: ")
        colour = "31;1" if severity == ERROR else "33"
        return f"{self._wrap('1', head)}: {self._wrap(colour, label)}: {tail}"
