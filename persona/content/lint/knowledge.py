"""Checks of a bot's knowledge (``faq.yaml``, ``knowledge/*.md``), the writers' other files.

An entry that does not parse, an answer that does not render for a new customer or is too long
for WeChat is an error; a question asked word for word in two entries, or a question whose own
entry is not among the three candidates it brings up, is a warning (agents would be shown the
wrong answers for it).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..risk import RiskError, risk_list
from ...model.formlinks import FormLinks
from ...model.wording import says
from ...model.customer import Customer
from ...errors import KnowledgeError
from ...model.inputs import TextMessage
from ..knowledge import Index, load_knowledge
from ...model.messages import TEXT_LIMIT_BYTES
from ...model.persona import Persona
from ...model.turn import Turn
from .report import ERROR, WARNING, Report


def check_knowledge(cls: type[Persona], report: Report) -> None:
    """Add the knowledge's problems to ``report`` (nothing when the bot has no faq.yaml)."""
    folder = cls.folder()
    faq = folder / cls.faq_file
    try:
        knowledge = load_knowledge(folder, faq_file=cls.faq_file, knowledge_dir=cls.knowledge_dir)
    except KnowledgeError as exc:
        report.add(ERROR, exc.file or faq, exc.line, exc.detail)
        return
    if not knowledge.entries:
        return
    try:
        persona = cls()
    except Exception:  # the scripts' own problems are reported by the script checks
        return
    persona.form_links = FormLinks.preview()  # an answer may carry a form link: its shape will do
    turn = Turn(persona, Customer("lint", cls.initial), TextMessage(user="lint", text=""), time.time())
    asked: dict[str, str] = {}
    for entry in knowledge.entries:
        _check_answer(persona, turn, entry.id, entry.a, faq, entry.line, report)
        for question in entry.q:
            other = asked.setdefault(question, entry.id)
            if other != entry.id:
                report.add(WARNING, faq, entry.line, says("lint.faq_twice", entry=entry.id, question=question,
                                                          other=other))
    index = Index(knowledge.entries)
    for entry in knowledge.entries:
        for question in entry.q:
            found = [e.id for e, _ in index.search(question, 3)]
            if entry.id not in found:
                report.add(WARNING, faq, entry.line, says("lint.faq_confused", entry=entry.id, question=question,
                                                          found=", ".join(found)))


def _check_answer(persona: Persona, turn: Turn, ident: str, answer: str, faq: Path, line: int,
                  report: Report) -> None:
    try:
        text = persona.scripts.env.from_string(answer).render(turn.variables())
    except Exception as exc:  # a writer's template: every failure is a problem to report
        report.add(ERROR, faq, line, says("lint.faq_render", entry=ident, detail=str(exc)))
        return
    try:
        hits = risk_list(type(persona)).find(text)
    except RiskError:  # reported by the script checks
        hits = []
    for hit in hits:
        report.add(ERROR, faq, line, says("lint.faq_forbidden", entry=ident, word=hit.found,
                                          why=says("lint.forbidden.why", why=hit.rule.why) if hit.rule.why else ""))
    size = len(text.strip().encode())
    if size > TEXT_LIMIT_BYTES:
        report.add(ERROR, faq, line, says("lint.faq_too_long", entry=ident, size=size, limit=TEXT_LIMIT_BYTES))
