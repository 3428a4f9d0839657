"""Handing a customer to a human agent, and back.

While a human holds a conversation the bot stays out of it: the customer's messages wait in the
agents' queue instead of reaching the persona's handlers, and the gate drops the bot's marketing
to that customer. Service messages (an order shipped, a reminder the customer asked for) still
go out and the persona's timers keep running. The conversation returns to the bot when an agent
closes it, or after ``Policy.handoff_idle`` seconds without a message either way.

Everything here happens inside the customer's turn, so holding, answering and giving back are
committed atomically with the rest of the record and journaled like any other step:
``handoff`` (reason), ``agent`` (who, from which suggestion, how many characters edited, how
long the customer waited) and ``handback`` (closed or idle).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .customer import Handoff, Timer
from .inputs import AgentAction, AgentInput, Door, MediaMessage, TextMessage, TimerFired, plain_word
from .messages import Message
from .staffing import RECENT_LINES

if TYPE_CHECKING:
    from ..metrics import Metrics
    from .persona import Policy
    from .turn import Turn

log = logging.getLogger(__name__)

#: The timer that gives an idle conversation back to the bot (never a persona's own timer name:
#: those are Python identifiers).
IDLE_TIMER = "persona:handoff"
#: The script name an agent's messages carry in the journal and the outbox.
AGENT_SCRIPT = "agent"
#: Seconds buckets for how long customers wait for an agent.
WAIT_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 86400.0)


class Reason(StrEnum):
    """Why the framework handed a customer over (a persona's ``turn.handoff(reason)`` may give
    any other reason)."""

    WORDS = "words"
    UNHANDLED = "unhandled"
    AGENT = "agent"  # an agent wrote first


class Release(StrEnum):
    """Why a conversation went back to the bot."""

    CLOSED = "closed"
    IDLE = "idle"


def begin(turn: "Turn", reason: str, agent: str | None = None) -> bool:
    """Hold this customer for a human agent; False when one already holds them.

    With a :class:`HandoffSpec`, who is told what waits for :func:`tell`: the runtime calls it
    once the handlers are done, when it has read the duty list's rotation and the customer's
    last lines from the store.
    """
    customer = turn.customer
    if customer.handoff is not None:
        return False
    waiting = turn.now if isinstance(turn.input, (TextMessage, MediaMessage)) else None
    spec = turn.persona.staffing
    assigned = agent or (spec.owner(customer) if spec is not None else None)
    customer.handoff = Handoff(since=turn.now, reason=str(reason), last=turn.now, waiting=waiting, agent=assigned)
    _arm(turn)
    turn.note("handoff", reason=str(reason), text=_text(turn))
    if spec is None:
        script = turn.persona.policy.handoff_script
        if script:
            turn.say(script, category="service")
    else:
        # an agent who took the customer by writing needs no introduction
        turn.handover = Handover(str(reason), quiet=reason == Reason.AGENT)
    return True


@dataclass(slots=True)
class Handover:
    """A handover begun in this turn whose assignment and telling are still to come."""

    reason: str
    quiet: bool  # nobody is to be told (an agent took the customer by writing)


def tell(turn: "Turn", taken: Mapping[str, int], recent: list[str]) -> None:
    """Finish this turn's handover: assign a duty agent when the customer has no owner (``taken``:
    handovers each agent has had, for the round-robin), journal who and whether the desk is open,
    then tell the customer (``ack``, or ``offline`` out of hours) and the staff member (``notify``,
    with ``recent``: the customer's last lines)."""
    pending, turn.handover = turn.handover, None
    spec, held = turn.persona.staffing, turn.customer.handoff
    if pending is None or spec is None or held is None:
        return
    local = datetime.fromtimestamp(turn.now, ZoneInfo(turn.persona.timezone))
    rotated = held.agent is None
    if rotated:
        held.agent = spec.next_on_duty(local, taken)
    open_now = spec.open_at(local)
    note = next(n for n in reversed(turn.notes) if n["k"] == "handoff")
    note.update(assigned=held.agent, open=open_now, **({"rotated": True} if rotated and held.agent else {}))
    if pending.quiet:
        return
    script = spec.ack if open_now else spec.offline
    if script:
        turn.say(script, category="service", agent=held.agent, open=open_now, reason=pending.reason,
                 hours=spec.hours or "")
    if spec.notify and held.agent:
        customer = turn.customer
        turn.say(spec.notify, to=f"staff:{held.agent}", category="service",
                 customer_name=str(customer.attrs.get("name") or customer.id), customer_id=customer.id,
                 state=turn.state, text=_text(turn) or "", recent=recent[-RECENT_LINES:], reason=pending.reason,
                 open=open_now, link=spec.link(type(turn.persona).name, customer.id))


def end(turn: "Turn", why: Release, agent: str | None = None) -> bool:
    """Give the conversation back to the bot; False when no human held it."""
    held = turn.customer.handoff
    if held is None:
        return False
    turn.customer.handoff = None
    turn.cancel(IDLE_TIMER)
    holder = agent or held.agent  # who is told (the assignee, when nobody wrote)
    handled = agent or (held.agent if held.answered else None)  # who handled it, for 质检
    turn.note("handback", why=str(why), agent=agent, held=int(turn.now - held.since),
              **({"holder": handled} if handled else {}))
    spec = turn.persona.staffing
    if spec is not None and spec.back:
        turn.say(spec.back, category="service", why=str(why), agent=holder)
    if spec is not None and spec.back_notify and holder:
        customer = turn.customer
        turn.say(spec.back_notify, to=f"staff:{holder}", category="service", why=str(why),
                 customer_name=str(customer.attrs.get("name") or customer.id), customer_id=customer.id,
                 held_minutes=int((turn.now - held.since) // 60))
    return True


def _arm(turn: "Turn") -> None:
    held = turn.customer.handoff
    assert held is not None
    due = held.last + turn.persona.policy.handoff_idle
    turn.customer.timers[IDLE_TIMER] = Timer(due)  # not bound to a state; the commit stores it
    turn.timers_del.discard(IDLE_TIMER)


def _text(turn: "Turn") -> str | None:
    inp = turn.input
    return inp.text if isinstance(inp, TextMessage) else None


class HandoffRules:
    """The runtime's side of handoff: which inputs belong to the human, and when to hand over.

    Built once per runtime from the persona's policy (the handoff words are normalised once).
    """

    def __init__(self, policy: "Policy") -> None:
        self.idle = policy.handoff_idle
        self.unhandled_text = policy.handoff_unhandled
        self.words = frozenset(plain_word(w) for w in policy.handoff_words)

    def intercept(self, turn: "Turn") -> bool:
        """True when the input was taken here and the persona's handlers must not see it."""
        inp, customer = turn.input, turn.customer
        if inp.door is not Door.CUSTOMER:
            return False  # staff and the platform talk to the bot, never to a human's queue
        held = customer.handoff
        if held is not None and turn.now >= held.last + self.idle - 0.001:
            end(turn, Release.IDLE)  # also when the timer was lost (an opt-out cancels timers)
            held = None
        if isinstance(inp, TimerFired) and inp.name == IDLE_TIMER:
            turn.cancel(IDLE_TIMER)
            if held is not None:
                _arm(turn)  # a message moved the idle clock after this timer was claimed
            return True
        if isinstance(inp, AgentInput):
            self._agent(turn, inp)
            return True
        if held is None:
            if isinstance(inp, TextMessage) and plain_word(inp.text) in self.words:
                turn.note("in", input=inp.describe(), handler=None)
                begin(turn, Reason.WORDS)
                return True
            return False
        if isinstance(inp, (TextMessage, MediaMessage)):
            held.last = turn.now
            if held.waiting is None:
                held.waiting = turn.now
            _arm(turn)
            turn.note("in", input=inp.describe(), handler=None, held=True, text=_text(turn))
            return True
        return False

    def unhandled(self, turn: "Turn") -> None:
        """No handler took the input: hand text over when the policy says so."""
        inp = turn.input
        if (self.unhandled_text and isinstance(inp, TextMessage) and inp.door is Door.CUSTOMER
                and turn.customer.handoff is None):
            begin(turn, Reason.UNHANDLED)

    @staticmethod
    def _agent(turn: "Turn", inp: AgentInput) -> None:
        if inp.action == AgentAction.CLOSE:
            if not end(turn, Release.CLOSED, inp.agent):
                turn.note("handback", why=str(Release.CLOSED), agent=inp.agent, held=0)
            return
        if inp.action == AgentAction.BLOCKED:  # 风控: the attempt is kept, nothing goes out
            turn.note("agent_blocked", agent=inp.agent, words=list(inp.flagged), text=inp.text)
            return
        begin(turn, Reason.AGENT, inp.agent)
        held = turn.customer.handoff
        assert held is not None
        wait = int(turn.now - held.waiting) if held.waiting is not None else None
        first = not held.answered
        held.waiting, held.last, held.agent, held.answered = None, turn.now, inp.agent, True
        _arm(turn)
        turn.send(Message("text", text=inp.text, category="service", script=AGENT_SCRIPT))
        turn.note("agent", agent=inp.agent, candidate=inp.candidate, edits=inp.edits, wait=wait, text=inp.text,
                  first=first, **({"flagged": list(inp.flagged)} if inp.flagged else {}))

    @staticmethod
    def count(notes: list[dict[str, Any]], metrics: "Metrics", persona: str) -> None:
        """Count what a committed turn did (never before the commit: a lost race re-runs it)."""
        for note in notes:
            kind = note["k"]
            if kind == "handoff":
                metrics.inc("handoffs", persona=persona, reason=note["reason"])
            elif kind == "handback":
                metrics.inc("handbacks", persona=persona, why=note["why"])
                if note.get("holder"):
                    metrics.inc("conversations_handled", persona=persona, agent=note["holder"])
            elif kind == "agent_blocked":
                metrics.inc("risk_blocked", persona=persona, by="agent")
            elif kind == "agent":
                metrics.inc("agent_messages", persona=persona)
                metrics.inc("agent_replies", persona=persona, agent=note["agent"])
                if note.get("first") and note.get("wait") is not None:
                    metrics.observe("first_response", note["wait"], buckets=WAIT_BUCKETS, persona=persona,
                                    agent=note["agent"])
                if note.get("flagged"):
                    metrics.inc("risk_flagged", persona=persona, by="agent")
                if note.get("wait") is not None:
                    metrics.observe("handoff_wait", note["wait"], buckets=WAIT_BUCKETS, persona=persona)
                if note.get("candidate"):
                    metrics.inc("suggestions_used", persona=persona)
                    if note.get("edits"):
                        metrics.inc("suggestions_edited", persona=persona)
