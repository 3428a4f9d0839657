"""The customer-respect gate: every message a persona sends passes here, and a bot cannot
skip it, because the runtime calls it between the handler and the commit.

Decisions are made on the customer's own record (the budget counters live in it), so they are
as atomic as the rest of the turn: two processes can never both spend the last slot of a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .messages import Message

if TYPE_CHECKING:
    from .customer import Customer
    from .persona import Policy
    from .turn import Turn

SEND, DEFER, DROP = "send", "defer", "drop"


@dataclass(slots=True)
class Decision:
    action: str  # send | defer | drop
    reason: str = ""
    due: float = 0.0


def _hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def quiet_until(policy: "Policy", now: float, tz: str) -> float | None:
    """When quiet hours end, if ``now`` is inside them (customer's local time); else None."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    start, end = _hhmm(policy.quiet_start), _hhmm(policy.quiet_end)
    t = local.time()
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo).timestamp()


class Gate:
    """Decides, for each message of a turn, whether it is sent now, deferred or dropped.

    Caps and quiet hours apply to proactive marketing; service messages (an order confirmation,
    a reminder the customer asked for) skip them but still respect opt-out rules for marketing
    and the platform's own windows, which no message can exceed.
    """

    def review(self, turn: "Turn") -> list[Decision]:
        policy = turn.persona.policy
        customer = turn.customer
        return [self.decide(m, customer, policy, turn.now, turn.tz, turn.is_reply) for m in turn.messages]

    def decide(self, message: Message, customer: "Customer", policy: "Policy", now: float, tz: str,
               replying: bool) -> Decision:
        if message.to is not None:
            return Decision(SEND, "not a customer")
        if customer.opted_out and message.category == "marketing":
            return Decision(DROP, "opted_out")
        due = now
        if message.proactive and message.category == "marketing":
            end = quiet_until(policy, now, tz)
            if end is not None:
                if end - now > policy.stale_after:
                    return Decision(DROP, "stale_after_quiet_hours")
                due = end
            reason = self._spend_cap(customer, policy, due, tz)
            if reason:
                return Decision(DROP, reason)
        if message.via in ("", "kf") and customer.attrs.get("platform", "mp") == "mp":
            reason = self._spend_kf_window(customer, policy, due, replying)
            if reason:
                return Decision(DROP, reason)
        return Decision(SEND if due == now else DEFER, "quiet_hours" if due != now else "", due)

    @staticmethod
    def _spend_cap(customer: "Customer", policy: "Policy", when: float, tz: str) -> str:
        local = datetime.fromtimestamp(when, ZoneInfo(tz))
        day = local.strftime("%Y%m%d")
        week = "%d%02d" % local.isocalendar()[:2]
        budget = customer.budget
        day_count = budget["d"][1] if budget.get("d", [None])[0] == day else 0
        week_count = budget["w"][1] if budget.get("w", [None])[0] == week else 0
        if day_count >= policy.daily_cap:
            return "daily_cap"
        if week_count >= policy.weekly_cap:
            return "weekly_cap"
        budget["d"] = [day, day_count + 1]
        budget["w"] = [week, week_count + 1]
        return ""

    @staticmethod
    def _spend_kf_window(customer: "Customer", policy: "Policy", when: float, replying: bool) -> str:
        """Official Account customer-service messages: 48 h after the customer's last message,
        at most ``kf_window_limit`` of them in that window."""
        last = customer.last_inbound
        if not last or when - last > policy.kf_window:
            return "kf_window_closed"
        window = customer.budget.get("k")
        count = window[1] if window and window[0] == int(last) else 0
        if count >= policy.kf_window_limit:
            return "kf_window_spent"
        customer.budget["k"] = [int(last), count + 1]
        return ""
