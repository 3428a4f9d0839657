"""A script's draft text, rendered for a sample customer and checked by lint, before anyone
publishes it.

Rendering is quick (one template) and runs on every keystroke pause; lint reads the whole bot
(about two seconds for 小完子) and runs beside it. Lint reports only what the draft adds to the
problems the scripts in use already have, exactly as a publish is judged
(:func:`persona.content.scripts.check_new_text`), so what the page shows is what a publish would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import TemplateError
from ..model.inputs import BusinessEvent
from ..model.formlinks import FormLinks
from ..model.messages import TEXT_LIMIT_BYTES
from ..model.persona import Persona
from ..content.scripts.checking import script_problems
from ..model.templates import SUFFIX, LiveScript, ScriptBook
from ..model.turn import Turn
from ..model.wording import ZH
from ..content.lint.report import WARNING
from .masking import mask_fields, mask_text
from .samples import Sample, placeholders

@dataclass(frozen=True, slots=True)
class Finding:
    """One of lint's findings on a draft, said for the studio (in Chinese)."""

    line: int | None
    message: str
    warning: bool = False


@dataclass
class Rendered:
    """What the customer would read, or why it cannot be rendered."""

    text: str = ""
    kind: str = ""
    category: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    size: int = 0
    limit: int = TEXT_LIMIT_BYTES
    error: str = ""
    placeholders: list[str] = field(default_factory=list)


def render(persona: type[Persona], live: Mapping[str, LiveScript], script: str, text: str, sample: Sample,
           *, personal: bool = True) -> Rendered:
    """``text`` in place of ``script``, rendered for ``sample``; personal fields masked unless
    ``personal``."""
    book = ScriptBook.draft(persona.folder() / persona.scripts_dir, live, {script: text})
    customer = sample.customer
    if not personal:
        customer = replace(customer, tags=mask_fields(customer.tags), attrs=mask_fields(customer.attrs))
    bot = persona(scripts=book)
    bot.form_links = FormLinks.preview()  # a link's shape; it opens nothing
    turn = Turn(bot, customer, BusinessEvent(user=customer.id, name="preview", data=sample.data), sample.now)
    stand_ins = placeholders(book.env, text, set(sample.variables) | set(bot.context(turn)))
    try:
        message = turn.render(script, **{**stand_ins, **sample.variables})
    except TemplateError as exc:
        return Rendered(error=exc.text(ZH), placeholders=sorted(stand_ins))
    shown = message.text if personal else mask_text(message.text)
    return Rendered(text=shown, kind=message.kind, category=message.category,
                    fields={k: v for k, v in message.fields.items()}, size=len(message.text.encode("utf-8")),
                    placeholders=sorted(stand_ins))


def findings(persona: type[Persona], live: Mapping[str, LiveScript], script: str, text: str,
             baseline: set[str] | None = None) -> list[Finding]:
    """Lint's errors and warnings that ``text`` brings to ``script`` (not those the scripts in
    use have), in Chinese."""
    folder = persona.folder() / persona.scripts_dir
    if baseline is None:
        baseline = _known(persona, ScriptBook.draft(folder, live))
    out = []
    for problem in script_problems(persona, ScriptBook.draft(folder, live, {script: text})):
        if str(problem) in baseline:
            continue
        warning = problem.severity == WARNING
        if not problem.file.endswith(f"{script}{SUFFIX}"):  # the draft broke another script that includes it
            out.append(Finding(None, problem.text(ZH), warning))
        else:
            out.append(Finding(problem.line or None, problem.says(ZH), warning))
    return out


def _known(persona: type[Persona], book: ScriptBook) -> set[str]:
    return {str(p) for p in script_problems(persona, book)}


def baseline(persona: type[Persona], live: Mapping[str, LiveScript]) -> set[str]:
    """The findings the scripts in use have already (a draft is not blamed for them)."""
    return _known(persona, ScriptBook.draft(persona.folder() / persona.scripts_dir, live))
