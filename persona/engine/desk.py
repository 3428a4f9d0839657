"""The human agents' desk for one bot: the queue of held customers, a conversation, suggested
replies, sending and closing.

Everything an agent does goes through the bot's runtime as an :class:`~persona.model.inputs.AgentInput`,
so it is one turn like any other: the gate checks the message (a service reply, inside the
platform's window), the commit journals it with the agent's name, the suggestion it started from
and the edit distance, and delivery sends it. The HTTP API (``persona.service.agents``) and the
``persona agent`` command are thin layers over this class.
"""

from __future__ import annotations

import ast
import json
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..content.risk import RiskError, risk_list
from ..model.wording import ZH, says
from ..model.customer import HELD_SEGMENT, Customer
from ..errors import PersonaError
from .gate import Action
from .identity import find
from .merge import journal
from ..model.inputs import AgentAction, AgentInput
from ..model.messages import TEXT_LIMIT_BYTES
from .outcome import Status

if TYPE_CHECKING:
    from .bot import Bot
    from ..content.knowledge import Candidate, Suggester
    from .runtime import Runtime

#: journal kinds that belong in a conversation view
CONVERSATION_KINDS = frozenset({"in", "out", "handoff", "agent", "handback"})


class DeskError(PersonaError):
    """An agent's request cannot be carried out (``status`` is the HTTP status for it)."""

    def __init__(self, message: str, status: int = 400, *, chinese: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        #: the same for an agent's page (None: the English message is all there is)
        self.chinese = chinese


@dataclass
class Waiting:
    """One customer in the agents' queue."""

    user: str
    since: float
    reason: str
    waiting: float  # seconds the customer's oldest unanswered message has waited (0: answered)
    agent: str | None
    state: str

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user, "since": int(self.since), "reason": self.reason,
                "waiting": int(self.waiting), "agent": self.agent, "state": self.state}


@dataclass
class Line:
    """One line of a conversation as an agent reads it."""

    t: int
    who: str  # customer | bot | agent | system
    text: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": self.t, "who": self.who, "text": self.text, **self.extra}


@dataclass
class SendResult:
    """What happened to an agent's message: ``send``, ``defer`` or ``drop`` with the gate's reason."""

    action: str
    reason: str
    edits: int

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "edits": self.edits}


class Desk:
    """One bot's desk, on the bot's runtime (a running ``Bot``'s, or any process's on the same
    store: the studio's). ``suggester`` writes the suggested replies (None: no suggestions)."""

    def __init__(self, runtime: "Runtime", suggester: "Suggester | None" = None) -> None:
        self.runtime = runtime
        self.name = runtime.name
        self.suggester = suggester

    @classmethod
    def with_knowledge(cls, runtime: "Runtime", environ: Mapping[str, str], faq: str | None = None) -> "Desk":
        """A desk with the persona's own knowledge (a model when ``environ`` names one),
        counting suggestions in the runtime's metrics."""
        from ..content.knowledge import Suggester

        suggester = Suggester.for_persona(runtime.persona, environ, faq=faq, metrics=runtime.metrics)
        return cls(runtime, suggester)

    @classmethod
    def for_bot(cls, bot: "Bot", faq: str | None = None) -> "Desk":
        """:meth:`with_knowledge` for a bot, with the bot's environment."""
        return cls.with_knowledge(bot.runtime, bot.environ, faq)

    async def queue(self) -> list[Waiting]:
        """Held customers, the longest-waiting first (answered ones after them)."""
        now = self.runtime.clock.now()
        idle = self.runtime.persona.policy.handoff_idle
        out = []
        for user in await self.runtime.store.segment(HELD_SEGMENT):
            customer = await self.runtime.customer(user)
            if customer is None or customer.handoff is None:
                continue
            held = customer.handoff
            if now >= held.last + idle:
                continue  # idle past the limit: back to the bot as soon as its timer fires
            waited = now - held.waiting if held.waiting is not None else 0.0
            out.append(Waiting(user, held.since, held.reason, waited, held.agent, customer.state))
        out.sort(key=lambda w: (-w.waiting, w.since))
        return out

    async def customer(self, user: str) -> Customer:
        """The customer ``user`` names: its own id, or any id linked to it (a WeCom contact id
        of a customer first seen on the Official Account opens that customer)."""
        customer = await find(self.runtime.store, user)
        if customer is None:
            raise DeskError(f"no customer {user!r} in {self.name}", 404)
        return customer

    async def conversation(self, user: str, limit: int = 100) -> list[Line]:
        """The customer's recent conversation from the journal (every id's, when ids were
        merged): the customer's messages, the bot's (by script name: the journal keeps names,
        not texts), the agents' and the handoffs."""
        customer = await self.customer(user)
        lines = []
        for raw in await journal(self.runtime.store, customer, limit):
            note = json.loads(raw)
            kind = note.get("k")
            if kind not in CONVERSATION_KINDS:
                continue
            line = _line(note)
            if line is not None:
                lines.append(line)
        return lines

    async def suggest(self, user: str, text: str | None = None) -> list["Candidate"]:
        """Three suggested replies to ``text`` (default: the customer's last message)."""
        if self.suggester is None:
            return []
        customer = await self.customer(user)
        history = await self.conversation(customer.id, 30)
        if text is None:
            said = [line.text for line in history if line.who == "customer"]
            text = said[-1] if said else ""
        if not text.strip():
            return []
        candidates: list[Candidate] = await self.suggester.suggest(
            text, customer=customer, now=self.runtime.clock.now(),
            history=[(line.who, line.text) for line in history])
        return candidates

    async def send(self, user: str, agent: str, text: str, *, candidate: str | None = None,
                   base: str | None = None, request_id: str | None = None) -> SendResult:
        """Send ``text`` to the customer as ``agent``. ``candidate``/``base``: the suggestion
        (its FAQ id or ``llm``, and its text) the message started from; ``request_id`` makes a
        retried request send once."""
        text = text.strip()
        if not agent.strip():
            raise DeskError("an agent's message needs the agent's name")
        if not text:
            raise DeskError("the message is empty")
        if len(text.encode()) > TEXT_LIMIT_BYTES:
            raise DeskError(f"the message is {len(text.encode())} bytes; WeChat takes at most {TEXT_LIMIT_BYTES}", 413)
        customer = await self.customer(user)
        flagged, blocked = self._forbidden(text)
        edits = edit_distance(base, text) if base is not None else len(text)
        inp = AgentInput(user=customer.id, dedupe_key=f"agent:{request_id or uuid.uuid4().hex}", agent=agent.strip(),
                         action=AgentAction.BLOCKED if flagged and blocked else AgentAction.SEND, text=text,
                         candidate=candidate, edits=edits, flagged=flagged)
        outcome = await self.runtime.handle(inp)
        if outcome.status is Status.ERROR:
            raise DeskError(f"the message was not sent: {outcome.error}", 500)
        if inp.action is AgentAction.BLOCKED:
            said = says("desk.forbidden", words="、".join(flagged))
            raise DeskError(str(said), 422, chinese=said.text(ZH))
        if outcome.status is Status.DUPLICATE:
            return SendResult("duplicate", "", edits)
        _, decision = outcome.messages[0]
        result = SendResult(str(decision.action), decision.reason, edits)
        if decision.action is Action.DROP:
            raise DeskError(f"the gate dropped the message: {decision.reason}", 409)
        return result

    def _forbidden(self, text: str) -> tuple[tuple[str, ...], bool]:
        """风控 on an agent's message: the forbidden words it says, and whether the bot's
        ``risk.yaml`` blocks them (the turn then journals the attempt and sends nothing)."""
        persona = type(self.runtime.persona)
        try:
            risk = risk_list(persona)
        except RiskError as exc:  # a broken list must not let everything through
            raise DeskError(f"not sent: the bot's risk list cannot be read ({exc})", 503) from None
        return risk.verdict(text)

    async def close(self, user: str, agent: str) -> None:
        """Give the conversation back to the bot."""
        customer = await self.customer(user)
        await self.runtime.handle(AgentInput(user=customer.id, dedupe_key=f"agent:{uuid.uuid4().hex}",
                                                 agent=agent.strip(), action=AgentAction.CLOSE))


def customer_lines(notes: Iterable[Mapping[str, Any]]) -> list[str]:
    """What the customer wrote, oldest first, from journal notes (media as ``[media image]``)."""
    return [line.text for note in notes if note.get("k") == "in"
            and (line := _line(note)) is not None and line.who == "customer"]


def _line(note: Mapping[str, Any]) -> Line | None:
    kind, t = note["k"], int(note.get("t", 0))
    if kind == "in":
        described = str(note.get("input", ""))
        if described.startswith("media"):
            return Line(t, "customer", f"[{described}]")
        if not described.startswith("text "):
            return None
        return Line(t, "customer", str(note.get("text") or _quoted(described[5:])))
    if kind == "out":
        if note.get("to") or note.get("script") == "agent":
            return None  # to staff or a group; an agent's own message has its "agent" line
        return Line(t, "bot", f"[{note.get('script')}]", {"action": note.get("action")})
    if kind == "agent":
        return Line(t, "agent", str(note.get("text", "")), {"agent": note.get("agent"),
                                                            "candidate": note.get("candidate")})
    if kind == "handoff":
        return Line(t, "system", f"handoff: {note.get('reason')}")
    return Line(t, "system", f"handback: {note.get('why')}")


def _quoted(text: str) -> str:
    """The text of ``'...'`` as ``TextMessage.describe`` wrote it (its first 40 characters)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters: how much an agent changed a suggestion."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
