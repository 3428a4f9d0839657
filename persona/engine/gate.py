"""The customer-respect gate: every message a persona sends passes here, and a bot cannot
skip it, because the runtime calls it between the handler and the commit.

Decisions are made on the customer's own record (the budget counters live in
``customer.budget``), so they are as atomic as the rest of the turn: two processes can never
both spend the last slot of a cap. A message is sent, deferred (to the end of the customer's
quiet hours: the outbox item's due time) or dropped, always with a reason; the runtime counts
every decision (``gate_decisions``) and writes it to the customer's journal.

What is checked, in order:

1. messages to staff and groups pass (they are not this customer's inbox);
2. an opted-out customer gets no marketing (service messages still answer), nor does one a
   human agent holds (:mod:`persona.model.handoff`: the bot's automatic replies pause);
3. template messages (``via="template"``) are for service notices, never marketing;
4. a WeCom welcome message (``via="welcome"``, or no door named in the turn of an add event
   carrying a welcome code) only within 20 s of that event, and once: the code is single-use;
5. proactive marketing waits for the end of quiet hours (or is dropped when it would be
   stale by then) and spends the daily and weekly caps of the day it goes out;
6. WeCom customer mass messages (``via="mass"``, and proactive marketing to a WeCom customer
   with no door named, which the router sends as one) are capped per customer per day and
   per month, both, whichever is stricter;
7. Official Account customer-service messages (``via`` empty or ``"kf"``) only within 48 h
   of the customer's last message, at most 5 of them, or 3 within a minute after a menu
   click, a follow or a QR scan; outside, a service message becomes the
   ``Policy.fallback_template`` template message when the persona names one.

Answers to the customer's own action (a message, a photo, a click, a follow, adding the staff
member) are replies, not proactive, whatever door they take. Who opted out is decided here too
(:class:`OptOut`), on every input before its handler runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from ..clock import DEFAULT_TZ
from ..errors import PersonaError
from ..model.inputs import (ADD_EVENTS, BURST_EVENTS, BusinessEvent, MediaMessage, Platform, PlatformEvent,
                           TextMessage, plain_word)
from ..model.messages import Message
from ..model.timers import zone

if TYPE_CHECKING:
    from ..model.customer import Customer
    from ..model.persona import Policy
    from ..model.turn import Turn

log = logging.getLogger(__name__)



class Action(StrEnum):
    """What happens to a message (the ``action`` of a journal line and of ``gate_decisions``)."""

    SEND = "send"  # now
    DEFER = "defer"  # at the decision's due time (the end of quiet hours)
    DROP = "drop"  # never, for the decision's reason


SEND, DEFER, DROP = Action.SEND, Action.DEFER, Action.DROP

#: Official Account: after a menu click, a follow or a scan, 3 messages within this many seconds.
KF_BURST_WINDOW = 60.0
#: WeCom: a welcome code is valid this many seconds after the add-contact event.
WELCOME_WINDOW = 20.0
#: The platform counts its days and months in China time, wherever the customer is.
PLATFORM_TZ = DEFAULT_TZ

#: Events that open the Official Account's one-minute burst window.
#: Events that are the customer's own doing: what the persona says in answer is a reply.
#: Doors that are the Official Account's customer-service API.
KF_VIAS = frozenset({"", "kf"})
#: How WeCom external contact ids begin.
WECOM_ID_PREFIXES = ("wm", "wo")


class Budget(StrEnum):
    """The keys of ``customer.budget``; each holds ``[period or opening time, count]``. Short,
    because every customer record carries them."""

    DAY = "d"  # proactive marketing on one local day
    WEEK = "w"  # ... in one ISO week
    KF_CHAT = "km"  # the 48 h customer-service window opened by the customer's last message
    KF_BURST = "kb"  # the one-minute window after a click, a follow or a scan
    WELCOME = "wc"  # the 20 s a WeCom welcome code is valid
    MASS_DAY = "md"  # WeCom mass messages on one platform day
    MASS_MONTH = "mm"  # ... in one platform month


@dataclass(slots=True)
class Decision:
    """What happens to one message: ``send`` now, ``defer`` to ``due``, or ``drop``."""

    action: Action
    reason: str = ""
    due: float = 0.0


def _hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def quiet_until(policy: "Policy", now: float, tz: str) -> float | None:
    """When quiet hours end, if ``now`` is inside them (customer's local time); else None."""
    local = datetime.fromtimestamp(now, zone(tz))
    start, end = _hhmm(policy.quiet_start), _hhmm(policy.quiet_end)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo).timestamp()


def platform(customer: "Customer") -> str:
    """``mp`` (an Official Account follower) or ``wecom`` (an external contact): for a customer
    known by ids on both, the platform of the current conversation (where delivery sends);
    else the ``platform`` attribute when known, else by the id (WeCom external ids start
    ``wm``/``wo``, as the channel router reads them), else ``mp``."""
    current = customer.address()[1]
    if current is not None:
        return current
    known = customer.attrs.get("platform")
    if known:
        return str(known)
    return "wecom" if customer.id.startswith(WECOM_ID_PREFIXES) else "mp"


def door_of(message: Message, customer: "Customer", welcome_code: bool = False) -> str:
    """The platform API a message to this customer goes through, as the channel router picks
    it: ``template``, ``welcome``, ``mass``, ``kf`` (Official Account customer service), or
    ``wecom`` (a WeCom customer without a door named: the channel's choice). ``welcome_code``:
    the turn's input carried one, so an unnamed door to a WeCom customer is the welcome."""
    via = message.via
    if via in ("template", "welcome", "mass"):
        return via
    if platform(customer) == "wecom":
        return "welcome" if (welcome_code and via == "") else "wecom"
    return "kf" if via in KF_VIAS else via


class Gate:
    """Decides, for each message of a turn, whether it is sent now, deferred or dropped.

    Caps and quiet hours apply to proactive marketing; service messages (an order confirmation,
    a reminder the customer asked for) skip them and reach opted-out customers, but no message
    exceeds the platform's own windows and budgets.
    """

    def review(self, turn: "Turn") -> list[Decision]:
        """Note the windows this input opens, then decide every message of the turn in order."""
        policy = turn.persona.policy
        customer = turn.customer
        self.observe(turn)
        replying = turn.is_reply
        code = _welcome_code(turn)
        decisions = []
        welcomed = False  # this turn's messages through the welcome door travel as one welcome
        for message in turn.messages:
            door = door_of(message, customer, code)
            if door == "welcome" and welcomed and message.to is None:
                decisions.append(Decision(SEND, "welcome_attachment", turn.now))
                continue
            decision = self.decide(message, customer, policy, turn.now, turn.tz, replying, door=door)
            welcomed = welcomed or (door == "welcome" and decision.action == SEND and code)
            if (decision.action == DROP and decision.reason in ("kf_window_closed", "kf_window_spent")
                    and policy.fallback_template and message.category == "service"):
                decision = self._fallback(turn, message, decision)
            decisions.append(decision)
        return decisions

    @staticmethod
    def observe(turn: "Turn") -> None:
        """Open the platform windows the input opens, and forget expired ones (the record
        stays small)."""
        inp, budget, now = turn.input, turn.customer.budget, int(turn.now)
        # the Official Account's windows open on what the customer does there, not in WeCom
        official = inp.platform is not Platform.WECOM
        if isinstance(inp, (TextMessage, MediaMessage)):
            if official:
                budget[Budget.KF_CHAT] = [now, 0]
        elif isinstance(inp, PlatformEvent):
            if inp.name in BURST_EVENTS:
                if official:
                    budget[Budget.KF_BURST] = [now, 0]
            elif inp.name in ADD_EVENTS and inp.data.get("welcome_code"):
                budget[Budget.WELCOME] = [now, 0]
        policy = turn.persona.policy
        windows = ((Budget.KF_BURST, KF_BURST_WINDOW), (Budget.WELCOME, WELCOME_WINDOW),
                   (Budget.KF_CHAT, policy.kf_window))
        for key, ttl in windows:
            opened = budget.get(key)
            if opened and now - opened[0] > ttl:
                del budget[key]

    def decide(self, message: Message, customer: "Customer", policy: "Policy", now: float, tz: str,
               replying: bool = False, *, door: str | None = None) -> Decision:
        """One message. Spends the budgets it uses only when it is sent or deferred.

        ``replying``: the turn answers the customer's own action; ``door``: the platform API
        (see :func:`door_of`), worked out from the message and customer when not given.
        """
        if message.to is not None:
            return Decision(SEND, "other_recipient", now)
        marketing = message.category != "service"  # an unknown category is the stricter one
        if customer.opted_out and marketing:
            return Decision(DROP, "opted_out")
        if customer.handoff is not None and marketing:
            return Decision(DROP, "handoff")
        via = door if door is not None else door_of(message, customer)
        if via == "template" and marketing:
            return Decision(DROP, "template_is_for_service")
        spend: list[tuple[Budget, str]] = []
        if via == "welcome":
            window = customer.budget.get(Budget.WELCOME)
            if not window or now - window[0] > WELCOME_WINDOW:
                return Decision(DROP, "welcome_window_closed")
            if window[1]:
                return Decision(DROP, "welcome_code_used")
            window[1] = 1
            return Decision(SEND, "", now)  # it answers the customer's add: no quiet hours, no caps
        due = now
        if marketing and message.proactive and not replying:
            end = quiet_until(policy, now, tz)
            if end is not None:
                if end - now > policy.stale_after:
                    return Decision(DROP, "stale_after_quiet_hours")
                due = end
            local = datetime.fromtimestamp(due, zone(tz))
            day, week = local.strftime("%Y%m%d"), "%d%02d" % local.isocalendar()[:2]
            if _count(customer, Budget.DAY, day) >= policy.daily_cap:
                return Decision(DROP, "daily_cap")
            if _count(customer, Budget.WEEK, week) >= policy.weekly_cap:
                return Decision(DROP, "weekly_cap")
            spend += [(Budget.DAY, day), (Budget.WEEK, week)]
        # a WeCom customer reached through no named door goes out as a mass message unless a
        # customer-service account is set up: proactive marketing there spends the mass caps too
        if via == "mass" or (via == "wecom" and marketing and message.proactive and not replying):
            local = datetime.fromtimestamp(due, zone(PLATFORM_TZ))
            day, month = local.strftime("%Y%m%d"), local.strftime("%Y%m")
            if _count(customer, Budget.MASS_DAY, day) >= policy.wecom_mass_per_day:
                return Decision(DROP, "mass_daily_cap")
            if _count(customer, Budget.MASS_MONTH, month) >= policy.wecom_mass_per_month:
                return Decision(DROP, "mass_monthly_cap")
            spend += [(Budget.MASS_DAY, day), (Budget.MASS_MONTH, month)]
        if via == "kf":
            reason, window = self._kf_window(customer, policy, due)
            if window is None:
                return Decision(DROP, reason)
            customer.budget[window][1] += 1
        for key, period in spend:
            customer.budget[key] = [period, _count(customer, key, period) + 1]
        if due > now:
            return Decision(DEFER, "quiet_hours", due)
        return Decision(SEND, "", now)

    @staticmethod
    def _kf_window(customer: "Customer", policy: "Policy", when: float) -> tuple[str, Budget | None]:
        """Which customer-service window a message sent at ``when`` uses: ("", key) or
        (reason, None). The burst window after a click/follow/scan is spent first, it is the
        shorter one; a click does not open the 48 h window, only the customer's message does."""
        budget = customer.budget
        burst, chat = budget.get(Budget.KF_BURST), budget.get(Budget.KF_CHAT)
        burst_open = when - burst[0] <= KF_BURST_WINDOW if burst else False
        chat_open = when - chat[0] <= policy.kf_window if chat else False
        if burst and burst_open and burst[1] < policy.kf_burst_limit:
            return "", Budget.KF_BURST
        if chat and chat_open and chat[1] < policy.kf_window_limit:
            return "", Budget.KF_CHAT
        return ("kf_window_spent" if burst_open or chat_open else "kf_window_closed"), None

    def _fallback(self, turn: "Turn", message: Message, dropped: Decision) -> Decision:
        """Outside the window, a service message becomes the persona's fallback template
        message (rendered for this customer, the original message given as ``original``)."""
        policy = turn.persona.policy
        try:
            substitute = turn.render(policy.fallback_template or "", original=message.to_dict())
        except PersonaError as exc:
            log.warning("persona=%s: fallback template %r failed: %s", type(turn.persona).name,
                        policy.fallback_template, exc)
            return dropped
        substitute.via, substitute.category = "template", "service"
        substitute.to, substitute.proactive = message.to, message.proactive
        decision = self.decide(substitute, turn.customer, policy, turn.now, turn.tz, turn.is_reply,
                               door="template")
        if decision.action == DROP:
            return dropped
        for name in Message.__slots__:  # the outbox, the outcome and the journal see the substitute
            setattr(message, name, getattr(substitute, name))
        return Decision(decision.action, "fallback_template", decision.due)


#: Platform events that mean the customer does not want to hear from the brand any more.
OPT_OUT_EVENTS = frozenset({"unsubscribe", "del_follow_user", "subscribe_msg_reject"})
#: Platform events that bring an opted-out customer back.
OPT_IN_EVENTS = frozenset({"subscribe", *ADD_EVENTS})
#: Business events a member of staff sends to opt a customer out or back in by hand (the
#: studio); ``data["by"]`` names them in the journal.
STAFF_OPT_OUT, STAFF_OPT_IN = "persona:opt_out", "persona:opt_in"
STAFF_EVENTS = frozenset({STAFF_OPT_OUT, STAFF_OPT_IN})


class OptOut:
    """Refusing must be as easy as one word: the framework does it, not each bot.

    One of the policy's opt-out words (trimmed, punctuation and case aside), an unfollow, a
    refused subscription or a member of staff's opt-out tags the customer ``opted_out`` and
    cancels their timers except ``service`` ones; the gate then drops marketing to them. An
    opt-in word, a follow, an add or staff's opt-in brings them back. Runs on every input
    before the handler, so the handler sees it.
    """

    def __init__(self, policy: "Policy") -> None:
        self.out_words = frozenset(plain_word(w) for w in policy.opt_out_words)
        self.in_words = frozenset(plain_word(w) for w in policy.opt_in_words)

    def apply(self, turn: "Turn") -> None:
        inp, customer = turn.input, turn.customer
        word = plain_word(inp.text) if isinstance(inp, TextMessage) else None
        event = inp.name if isinstance(inp, PlatformEvent) else None
        staff = inp.name if isinstance(inp, BusinessEvent) and inp.name in STAFF_EVENTS else None
        by = inp.data.get("by") if isinstance(inp, BusinessEvent) else None
        out = word in self.out_words or event in OPT_OUT_EVENTS or staff == STAFF_OPT_OUT
        back = word in self.in_words or event in OPT_IN_EVENTS or staff == STAFF_OPT_IN
        if out and not customer.opted_out:
            turn.tag("opted_out")
            turn.note("opt_out", input=inp.describe(), by=by)
            for name in list(customer.timers):
                spec = turn.persona.routes.timer_spec(name)
                if not (spec and spec.service):
                    turn.cancel(name)
        elif back and customer.opted_out:
            turn.untag("opted_out")
            turn.note("opt_in", input=inp.describe(), by=by)


def _welcome_code(turn: "Turn") -> bool:
    inp = turn.input
    return isinstance(inp, PlatformEvent) and inp.name in ADD_EVENTS and bool(inp.data.get("welcome_code"))


def _count(customer: "Customer", key: Budget, period: str) -> int:
    slot = customer.budget.get(key)
    return int(slot[1]) if slot and slot[0] == period else 0


#: what a bot author can do about a drop, for the reasons that surprise them
_HINTS = {
    "kf_window_closed": "an Official Account customer who has not written within 48 h; "
                        "Policy(fallback_template=...) sends service messages as a template message instead",
    "kf_window_spent": "the customer-service messages this window allows are spent; "
                       "Policy(fallback_template=...) sends service messages as a template message instead",
    "mass_monthly_cap": "a WeCom customer's mass messages for the month are spent; "
                        "a message the customer asked for should be category=\"service\"",
    "mass_daily_cap": "a WeCom customer gets one mass message a day",
}


def explain(reason: str) -> str:
    """``reason``, with what to do about it when a bot author would ask (for chat and tests)."""
    hint = _HINTS.get(reason)
    return f"{reason} ({hint})" if hint else reason
