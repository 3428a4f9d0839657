"""What ``persona lint`` found: problems with a ``file:line``, gathered in one report per bot.

Every engine of the package writes here and nothing here knows how a problem was found, so an
editor or a test can read a :class:`Report` the same way the command line prints it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ...model.wording import EN, ZH, Said, says

if TYPE_CHECKING:
    from ...model.persona import Persona


class Severity(StrEnum):
    """How bad a problem is: an error fails ``persona lint``; a warning fails it with ``--strict``."""

    ERROR = "error"
    WARNING = "warning"


ERROR, WARNING = Severity.ERROR, Severity.WARNING
#: how each language names a severity
SEVERITY: dict[str, dict[str, str]] = {EN: {}, ZH: {ERROR: "错误", WARNING: "警告"}}


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, printable as ``file:line: severity: message``."""

    file: str
    line: int
    severity: Severity
    message: str  # English
    #: the message by id, for :meth:`text` in another language (None: English only)
    said: Said | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.text(EN)

    def text(self, lang: str = EN) -> str:
        """``file:line: severity: message`` in ``lang``."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {SEVERITY[lang].get(self.severity, self.severity)}: {self.says(lang)}"

    def says(self, lang: str = EN) -> str:
        """The message alone, in ``lang``."""
        return self.said.text(lang) if self.said is not None else self.message


@dataclass
class Report:
    """Everything ``lint`` found for one bot."""

    bot: str
    problems: list[Problem] = field(default_factory=list)
    persona: type[Persona] | None = None
    scripts: int = 0
    #: the samples each script was rendered with (``samples/*.json`` that give all it needs)
    rendered: dict[str, list[str]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    def add(self, severity: Severity, file: str | Path, line: int | None, message: str | Said) -> None:
        said = message if isinstance(message, Said) else None
        self.problems.append(Problem(display(file), line or 0, severity, str(message), said))


def display(path: str | Path) -> str:
    """A path as short as it can be said from here (relative to the working directory)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def suggest(name: str, known: Iterable[str]) -> Said:
    """``; did you mean 'order_status'?`` or the known names, briefly."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return says("lint.suggest", close=close[0])
    if not names:
        return says("lint.suggest.none")
    return says("lint.suggest.known", known=", ".join(names[:8]) + (", ..." if len(names) > 8 else ""))
