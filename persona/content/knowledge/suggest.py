"""Three suggested replies for a human agent: retrieved from the FAQ, or drafted by a model.

Retrieval always runs (it is the offline default and the fallback). With a model configured it
drafts from the retrieved entries; a draft over WeChat's 2048 bytes or citing a link that is in
neither the knowledge nor the catalogue is dropped, and the retrieval candidates fill the places
of dropped drafts, so an agent always gets three (fewer only when the FAQ has fewer entries).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...model.customer import Customer
from ...model.inputs import TextMessage
from ...model.messages import TEXT_LIMIT_BYTES
from ...model.turn import Turn
from .faq import LINK, Entry, Knowledge, load_knowledge
from .llm import LLMConfig, LLMError, Writer, prompt
from .retrieval import Index

if TYPE_CHECKING:
    from ...metrics import Metrics
    from ...model.persona import Persona

log = logging.getLogger(__name__)

CANDIDATES = 3
#: conversation lines given to the model
HISTORY_LINES = 8


class Source(StrEnum):
    FAQ = "faq"
    LLM = "llm"


@dataclass
class Candidate:
    """One suggested reply: its text, the FAQ entry it came from, how well it matched."""

    text: str
    faq: str | None
    score: float
    source: Source

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "faq": self.faq, "score": self.score, "source": str(self.source)}


class Suggester:
    """Suggestions for one persona from one knowledge."""

    def __init__(self, persona: "Persona", knowledge: Knowledge, *, llm: LLMConfig | None = None,
                 metrics: "Metrics | None" = None) -> None:
        self.persona = persona
        self.knowledge = knowledge
        self.index = Index(knowledge.entries)
        self.writer = Writer(llm) if llm is not None else None
        self.metrics = metrics
        self.name = type(persona).name

    @classmethod
    def for_persona(cls, persona: "Persona", environ: Mapping[str, str], *, faq: Path | str | None = None,
                    metrics: "Metrics | None" = None) -> "Suggester":
        """The persona's own knowledge (or ``faq`` instead of its faq.yaml); a model when the
        environment configures one."""
        kind = type(persona)
        knowledge = load_knowledge(kind.folder(), faq, faq_file=kind.faq_file, knowledge_dir=kind.knowledge_dir)
        return cls(persona, knowledge, llm=LLMConfig.from_env(environ), metrics=metrics)

    async def suggest(self, text: str, *, customer: Customer | None = None, now: float = 0.0,
                      history: Sequence[tuple[str, str]] = ()) -> list[Candidate]:
        """Up to three replies to ``text``, best first, rendered for ``customer``.

        ``history``: the conversation's last lines as ``(who, text)``, for the model.
        """
        turn = self._turn(customer, text, now)
        hits = self.index.search(text, CANDIDATES * 2 if self.writer else CANDIDATES)
        retrieved = []
        for entry, score in hits:
            answer = self._render(entry, turn)
            if answer is not None:
                retrieved.append((entry, answer, score))
        found = [Candidate(answer, entry.id, score, Source.FAQ) for entry, answer, score in retrieved][:CANDIDATES]
        if self.writer is not None and retrieved:
            found = await self._drafted(text, retrieved, history, found)
        self._count("suggestions_shown", len(found))
        return found

    def answer(self, entry: Entry, customer: Customer | None = None) -> str | None:
        """One entry's answer as it renders for ``customer`` (None when it does not render)."""
        return self._render(entry, self._turn(customer, "", 0.0))

    def _turn(self, customer: Customer | None, text: str, now: float) -> Turn:
        customer = customer or Customer("sample", type(self.persona).initial)
        return Turn(self.persona, customer, TextMessage(user=customer.id, text=text), now or time.time())

    def _render(self, entry: Entry, turn: Turn) -> str | None:
        try:
            template = self.persona.scripts.env.from_string(entry.a)
            return template.render(turn.variables()).strip()
        except Exception as exc:  # one broken answer must not hide the others; lint reports it
            log.warning("persona=%s faq=%s does not render for %s: %s", self.name, entry.id, turn.customer.id, exc)
            return None

    async def _drafted(self, text: str, retrieved: list[tuple[Entry, str, float]],
                       history: Sequence[tuple[str, str]], fallback: list[Candidate]) -> list[Candidate]:
        assert self.writer is not None
        messages = prompt(text, [(e, a) for e, a, _ in retrieved[:CANDIDATES]], type(self.persona).voice,
                          list(history)[-HISTORY_LINES:], self.knowledge.documents)
        try:
            drafts = await self.writer.drafts(messages)
        except LLMError as exc:
            log.warning("persona=%s suggestions from the FAQ: %s", self.name, exc)
            self._count("llm_fallbacks", 1, reason="error")
            return fallback
        top = retrieved[0][2]
        kept = []
        for draft in drafts:
            problem = self.refuses(draft)
            if problem:
                log.info("persona=%s dropped a drafted reply: %s", self.name, problem)
                self._count("llm_dropped", 1, reason=problem.split(":")[0])
                continue
            kept.append(Candidate(draft, None, top, Source.LLM))
            if len(kept) == CANDIDATES:
                break
        texts = {c.text for c in kept}
        kept += [c for c in fallback if c.text not in texts][:CANDIDATES - len(kept)]
        return kept

    def refuses(self, draft: str) -> str:
        """Why a drafted reply cannot be shown ("" when it can)."""
        size = len(draft.encode())
        if size > TEXT_LIMIT_BYTES:
            return f"too_long: {size} bytes"
        for url in LINK.findall(draft):
            if not self.knowledge.allows(url):
                return f"unknown_link: {url}"
        return ""

    def _count(self, name: str, amount: float, **labels: str) -> None:
        if self.metrics is not None and amount:
            self.metrics.inc(name, amount, persona=self.name, **labels)

