"""理财秘书: a fixed-investment secretary on WeCom, for customers and for the sales team.

Customers add the secretary, set fixed-investment plans in the brand's app (``schedule_set``)
and are reminded when an instalment is due and not made; they meet other investors in a
group, where one member's large purchase earns every member points; birthdays and holidays
bring offers matched to their activity preference and risk level.

Besides customers, two kinds of records live in this persona (their ids cannot collide with
WeCom external user ids):

* ``group:<chat_id>`` — a customer group; WeCom's ``chat_add_member`` / ``chat_del_member``
  arrive on it and are passed on to each member as ``joined_group`` / ``left_group``.
* ``staff_group:<chat_id>`` — the sales team's internal group (``staff_group`` in the
  catalogue). It enters state ``desk`` the first time a ``sales_assigned`` or ``sale_closed``
  event arrives for any customer, and from then on owns the daily 18:00 leaderboard timer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from persona import EventDataError, HandoffSpec, Persona, Policy, Turn, on

from . import plans as P
from .catalogue import CATALOGUE, normalise_risk

CUSTOMER_STATES = ("new", "contact", "investing")
REACHABLE = ("contact", "investing")
LEADERBOARD_AT = "18:00"
#: a day's sales board is read at LEADERBOARD_AT; a week later the store drops it
DAILY_BOARD_TTL = timedelta(days=7)
EXTERNAL_PREFIXES = ("wm", "wo")  # WeCom external user ids; staff ids in a group are skipped
POINT_BANDS = ((1000, "1000+"), (500, "500-999"), (100, "100-499"), (0, "0-99"))


class FinanceSecretary(Persona):
    name = "finance_secretary"
    voice = "小盈：理财秘书，稳重礼貌，用“您”，讲清规则和风险，不承诺收益，涉及风险时提醒基金有风险、投资需谨慎。"
    states = ["new", "contact", "investing", "group", "desk"]
    converted = "investing"  # the funnel by channel counts a customer who starts investing
    initial = "new"
    transitions = [
        ["added", "new", "contact"],
        ["plan_started", ["new", "contact"], "investing"],
        {"trigger": "plans_ended", "source": "investing", "dest": "contact", "conditions": "is_contact"},
        {"trigger": "plans_ended", "source": "investing", "dest": "new", "unless": "is_contact"},
        ["open_group", "new", "group"],
        ["open_desk", "new", "desk"],
    ]
    policy = Policy(daily_cap=2, weekly_cap=5)
    agent_scripts = frozenset({"agent_plan_change"})  # 话术库: offered to agents in the WeCom sidebar
    handoff = HandoffSpec(  # 转人工: who answers, when, and what the customer and the staff member hear
        agents=("fund_service",), weekdays=(0, 1, 2, 3, 4), hours='09:00-17:30',
        ack="handoff_ack", offline="handoff_offline", notify="handoff_notify",
        back="handoff_back", back_notify="handoff_back_notify",
        desk_url="https://studio.example.com/agents/{bot}?user={user}")

    def context(self, turn: Turn) -> dict[str, Any]:
        return {"secretary": CATALOGUE.secretary, "name": turn.customer.attrs.get("name", "")}

    # -- conditions ------------------------------------------------------------------------
    def is_contact(self, turn: Turn) -> bool:
        return "contact_since" in turn.customer.attrs

    def reachable(self, turn: Turn) -> bool:
        return turn.state in REACHABLE

    # -- the customer adds the secretary -----------------------------------------------------
    @on.wechat("add_external_contact", "add_half_external_contact", states=CUSTOMER_STATES)
    async def added(self, turn: Turn) -> None:
        turn.set("contact_since", turn.local.date().isoformat())
        turn.set("staff", turn.data.get("staff") or None)
        await turn.trigger("added")
        invite = not turn.customer.tags.get("group")
        turn.say("welcome", plans=self._plan_rows(turn), invite=invite, group=CATALOGUE.group)
        if invite:  # the welcome promises it: the invitation rides in the same welcome message
            turn.say("group_invite", group=CATALOGUE.group)
            turn.set("group_invited", turn.local.date().isoformat())

    @on.keyword("积分", states=REACHABLE)
    def points_balance(self, turn: Turn) -> None:
        turn.say("points_balance", points=turn.customer.counters.get("points", 0))

    @on.keyword("定投", "计划", states=REACHABLE)
    def my_plans(self, turn: Turn) -> None:
        turn.say("my_plans", plans=self._plan_rows(turn))

    @on.text("帮助", "菜单", "?", "？", states=REACHABLE)
    def help(self, turn: Turn) -> None:
        turn.say("help")

    # -- the brand's data --------------------------------------------------------------------
    @on.event("profile_updated", data={"birthday?": str, "risk?": (str, int), "products?": list, "group?": str,
                                        "activity?": str, "points?": int, "name?": str})
    def profile_updated(self, turn: Turn) -> None:
        data, attrs = turn.data, turn.customer.attrs
        if data.get("name"):
            turn.set("name", str(data["name"]))
        if "birthday" in data:
            birthday = _month_day(data["birthday"])
            if birthday != attrs.get("birthday"):
                turn.set("birthday", birthday)  # the yearly timer follows the attribute
                if birthday:
                    turn.tag("birthday", birthday)
                else:
                    turn.untag("birthday")
        if data.get("risk"):
            turn.tag("risk", normalise_risk(data["risk"]))
        if data.get("activity"):
            turn.tag("activity", str(data["activity"]))
        if "products" in data:
            held = {_product(p, "products") for p in data["products"] or ()}
            for tag in [t for t in turn.customer.tags if t.startswith("holds_")]:
                if tag[len("holds_"):] not in held:
                    turn.untag(tag)
            for product in held:
                turn.tag(f"holds_{product}")
        if "points" in data:
            turn.customer.counters["points"] = int(data["points"])
        if "group" in data:
            if data["group"]:
                turn.tag("group", str(data["group"]))
            else:
                turn.untag("group")

    # -- fixed-investment plans ----------------------------------------------------------------
    @on.event("schedule_set", data={"product": str, "amount": float, "day_of_month?": int})
    async def schedule_set(self, turn: Turn) -> None:
        product = _product(turn.data["product"], "product")
        amount = float(turn.data.get("amount") or 0)
        day = int(turn.data.get("day_of_month") or 0)
        plans = dict(turn.customer.attrs.get("plans", {}))
        if amount <= 0:
            if plans.pop(product, None) is not None:
                turn.say("plan_stopped", product=CATALOGUE.product_name(product))
            turn.set("plans", plans or None)
            if not plans:
                await turn.trigger("plans_ended")
            return
        if not 1 <= day <= 31:
            raise EventDataError(f"schedule_set for {product}: day_of_month must be 1-31, got "
                                 f"{turn.data.get('day_of_month')!r}", fields=["day_of_month"])
        old = plans.get(product, {})
        today = turn.local.date().isoformat()
        plan = {"amount": amount, "day": day, "since": old.get("since", today) if old.get("day") == day else today}
        for kept in ("paid", "reminded"):
            if old.get(kept):
                plan[kept] = old[kept]
        plans[product] = plan
        turn.set("plans", plans)
        turn.tag(f"holds_{product}")
        await turn.trigger("plan_started")
        first = P.upcoming(plan, turn.local.date() + timedelta(days=1))
        turn.say("plan_confirmed", product=CATALOGUE.product_name(product), amount=amount, day=day, first=first)

    @on.event("investment_made", data={"product": str, "amount": float})
    def investment_made(self, turn: Turn) -> None:
        product = _product(turn.data["product"], "product")
        turn.tag(f"holds_{product}")
        turn.incr("investments")
        plans = dict(turn.customer.attrs.get("plans", {}))
        plan = plans.get(product)
        if plan is None:
            return
        cycle = P.settled_cycle(plan, turn.local.date())
        plan = {**plan, "paid": max(cycle, plan.get("paid") or "")}
        plans[product] = plan
        turn.set("plans", plans)
        if plan.get("reminded") == cycle:
            turn.say("instalment_made", product=CATALOGUE.product_name(product),
                     amount=float(turn.data.get("amount") or plan["amount"]))
        if not any(p.get("reminded", "") > (p.get("paid") or "") for p in plans.values()):
            turn.untag("instalment_overdue")

    @on.timer("instalment", service=True, grace="12h")
    def instalment_due(self, turn: Turn) -> None:
        plans = dict(turn.customer.attrs.get("plans", {}))
        checks = P.checks_on(plans, turn.local.date())
        for round_, script in ((1, "instalment_due"), (2, "instalment_second")):
            items = [self._check_row(c) for c in checks if c.round == round_]
            if items:
                turn.say(script, items=items)
        for check in checks:
            plans[check.product] = {**plans[check.product], "reminded": check.cycle}
            turn.tag("instalment_overdue")
            if check.round == 2:
                turn.incr("instalments_missed")
        turn.set("plans", plans)

    # -- the customer group --------------------------------------------------------------------
    @on.wechat("chat_create", "chat_update", "chat_add_member", "chat_del_member", states=["new", "group"])
    async def group_changed(self, turn: Turn) -> None:
        await turn.trigger("open_group")
        chat_id = str(turn.data.get("chat_id") or turn.customer.id.removeprefix("group:"))
        turn.set("chat_id", chat_id)
        name = turn.input.name
        if name in ("chat_add_member", "chat_del_member"):
            event = "joined_group" if name == "chat_add_member" else "left_group"
            for member in _ids(turn.data.get("mem_change_list")):
                if member.startswith(EXTERNAL_PREFIXES):
                    turn.dispatch(member, event, {"chat_id": chat_id})

    @on.event("joined_group", data={"chat_id": str})
    def joined_group(self, turn: Turn) -> None:
        turn.tag("group", turn.data["chat_id"])

    @on.event("left_group", data={"chat_id": str})
    def left_group(self, turn: Turn) -> None:
        if turn.customer.tags.get("group") == turn.data["chat_id"]:
            turn.untag("group")

    @on.event("large_purchase", data={"amount": float})
    async def large_purchase(self, turn: Turn) -> None:
        amount = float(turn.data["amount"])
        turn.incr("large_purchases")
        chat_id = turn.customer.tags.get("group")
        if not chat_id:
            turn.note("group_points", skipped="not in a group")
            return
        points = CATALOGUE.group_points(amount)
        members = sorted(await turn.members(f"tag:group={chat_id}"))
        for member in members:
            turn.dispatch(member, "group_points", {"points": points, "chat_id": chat_id, "from": turn.customer.id})
        turn.say("group_points", to=f"group:{chat_id}", points=points, members=len(members),
                 buyer=_masked(turn.customer.attrs.get("name")), amount=amount)

    @on.event("group_points", data={"points": int, "chat_id": str, "from?": str})
    def group_points(self, turn: Turn) -> None:
        turn.incr("points", int(turn.data["points"]))
        turn.note("points", source=turn.data.get("from"), points=int(turn.data["points"]))

    # -- birthdays and holidays ------------------------------------------------------------
    @on.timer("birthday", yearly="birthday", at="09:00", when="reachable")
    def birthday(self, turn: Turn) -> None:
        gift = CATALOGUE.birthday
        turn.incr("points", int(gift.get("points", 0)))
        turn.say("birthday", gift=gift, pick=CATALOGUE.pick_for(turn.customer.tags.get("risk")),
                 valid_until=turn.local + timedelta(days=int(gift.get("valid_days", 7)) - 1))

    @on.timer("holiday", when="reachable", grace="6h")
    def holiday(self, turn: Turn) -> None:
        holiday = CATALOGUE.holiday(turn.timer_data.get("key", ""))
        if holiday is None:  # taken out of the catalogue since it was armed
            return
        kind, offer = holiday.offer_for(turn.customer.tags.get("activity"))
        turn.say("holiday", holiday=holiday, day=holiday.day, offer=offer, offer_kind=kind,
                 pick=CATALOGUE.pick_for(turn.customer.tags.get("risk")), plans=self._plan_rows(turn))

    # -- the sales team ----------------------------------------------------------------------
    @on.event("sales_assigned", data={"sales": str, "leader": str})
    async def sales_assigned(self, turn: Turn) -> None:
        sales, leader = str(turn.data["sales"]), str(turn.data["leader"])
        turn.set("sales", sales)
        turn.set("leader", leader)
        turn.set("assigned_at", turn.now)
        turn.tag("sales", sales)
        turn.tag("follow_up", "pending")
        turn.schedule("follow_up", after=CATALOGUE.follow_up_hours * 3600, bound=False,
                      data={"sales": sales, "leader": leader, "round": 1})
        await self._open_desk(turn)

    @on.event("followed_up", data={"sales?": str})
    def followed_up(self, turn: Turn) -> None:
        self._followed(turn, str(turn.data.get("sales", "")))

    @on.event("sale_closed", data={"sales": str, "amount": float})
    async def sale_closed(self, turn: Turn) -> None:
        sales, amount = str(turn.data["sales"]), float(turn.data["amount"])
        day = self._board_day(turn)
        turn.leaderboard(f"sales:{day}", sales, amount, ttl=DAILY_BOARD_TTL)
        turn.leaderboard(f"deals:{day}", sales, 1, ttl=DAILY_BOARD_TTL)
        turn.incr("deals")
        self._followed(turn, sales)  # a closed sale was followed up
        await self._open_desk(turn)

    @on.timer("follow_up", service=True, grace="6h")
    def follow_up_overdue(self, turn: Turn) -> None:
        data = turn.timer_data
        sales, leader, round_ = data["sales"], data["leader"], int(data.get("round", 1))
        hours = round_ * CATALOGUE.follow_up_hours
        common = dict(category="service", hours=int(hours), customer_name=turn.customer.attrs.get("name") or turn.customer.id,
                      sales_name=CATALOGUE.staff_name(sales), plans=self._plan_rows(turn))
        turn.say("follow_up_overdue", to=f"staff:{sales}", escalated=round_ > 1, **common)
        turn.tag("follow_up", "overdue")
        if round_ == 1:
            turn.schedule("follow_up", after=CATALOGUE.follow_up_hours * 3600, bound=False,
                          data={**data, "round": 2})
        else:
            turn.say("follow_up_escalated", to=f"staff:{leader}", leader_name=CATALOGUE.staff_name(leader), **common)

    @on.event("desk_open", data={"chat_id": str})
    async def desk_open(self, turn: Turn) -> None:
        await turn.trigger("open_desk")
        turn.set("chat_id", turn.data["chat_id"])

    @on.timer("leaderboard", daily=LEADERBOARD_AT, state="desk", service=True)
    async def leaderboard(self, turn: Turn) -> None:
        day = turn.local.date().isoformat()
        top = await turn.top(f"sales:{day}", CATALOGUE.leaderboard_size)
        if not top:
            return
        deals = dict(await turn.top(f"deals:{day}", 1000))
        rows = [{"rank": i, "name": CATALOGUE.staff_name(sales), "amount": amount, "deals": int(deals.get(sales, 0))}
                for i, (sales, amount) in enumerate(top, 1)]
        turn.say("leaderboard", to=f"staff_group:{turn.customer.attrs['chat_id']}", category="service",
                 rows=rows, total=sum(r["amount"] for r in rows), day=turn.local)

    # -- real-time bookkeeping, after every input ------------------------------------------
    @on.rule
    def keep_tags_and_timers(self, turn: Turn) -> None:
        customer = turn.customer
        if turn.state not in CUSTOMER_STATES:
            return
        if "points" in customer.counters:
            points = customer.counters["points"]
            turn.tag("points", next(band for floor, band in POINT_BANDS if points >= floor))
        self._arm_instalment(turn)
        if turn.state in REACHABLE and not customer.opted_out and "holiday" not in customer.timers:
            upcoming = CATALOGUE.next_holiday(turn.local, CATALOGUE.reminder_at)
            if upcoming:
                holiday, at = upcoming
                turn.schedule("holiday", at=at, bound=False, data={"key": holiday.key})

    # -- helpers ---------------------------------------------------------------------------
    def _arm_instalment(self, turn: Turn) -> None:
        """Keep the one ``instalment`` timer at the next moment any plan needs a look."""
        plans = turn.customer.attrs.get("plans") or {}
        at = P.next_check(plans, turn.local, CATALOGUE.reminder_at) if plans else None
        current = turn.customer.timers.get("instalment")
        if at is None:
            turn.cancel("instalment")
        elif current is None or abs(current.due - at.timestamp()) > 1:
            turn.schedule("instalment", at=at, bound=False)

    def _plan_rows(self, turn: Turn) -> list[dict[str, Any]]:
        today = turn.local.date()
        return [{"code": code, "product": CATALOGUE.product_name(code), "amount": plan["amount"],
                 "day": plan["day"], "next": P.upcoming(plan, today)}
                for code, plan in sorted((turn.customer.attrs.get("plans") or {}).items())]

    @staticmethod
    def _check_row(check: P.Check) -> dict[str, Any]:
        return {"code": check.product, "product": CATALOGUE.product_name(check.product),
                "amount": check.amount, "due": check.due}

    def _followed(self, turn: Turn, sales: str) -> None:
        if "follow_up" in turn.customer.tags:
            turn.tag("follow_up", "done")
        turn.cancel("follow_up")
        if sales:
            turn.set("followed_by", sales)

    @staticmethod
    def _board_day(turn: Turn) -> str:
        """Sales closed after the 18:00 report count towards the next day's board."""
        local = turn.local
        day: date = local.date()
        if local.strftime("%H:%M") >= LEADERBOARD_AT:
            day += timedelta(days=1)
        return day.isoformat()

    async def _open_desk(self, turn: Turn) -> None:
        """Wake the staff group's record once, so it starts its daily leaderboard timer."""
        desk = f"staff_group:{CATALOGUE.staff_group}"
        record = await turn.profile(desk)
        if record is None or record.state != "desk":
            turn.dispatch(desk, "desk_open", {"chat_id": CATALOGUE.staff_group})


def _product(value: Any, field: str) -> str:
    """A product code from the brand's systems; it names a tag (``holds_<code>``), so it is
    refused when empty or holding ``=``."""
    code = str(value).strip()
    if not code or "=" in code:
        raise EventDataError(f"{field}: product code {value!r} is empty or holds '='", fields=[field])
    return code


def _month_day(value: Any) -> str | None:
    """``"03-15"``, ``"1990-03-15"``, ``"3-15"`` → ``"03-15"``; empty → None."""
    if not value:
        return None
    parts = str(value).strip().replace("/", "-").split("-")
    try:
        month, day = int(parts[-2]), int(parts[-1])
        date(2000, month, day)  # a leap year, so 02-29 is allowed
    except (ValueError, IndexError):
        raise EventDataError(f"profile_updated: birthday {value!r} is not MM-DD", fields=["birthday"]) from None
    return f"{month:02d}-{day:02d}"


def _ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, dict):  # {"item": [...]} from some XML parsers
        return _ids(next(iter(value.values()), []))
    return []


def _masked(name: Any) -> str:
    """"王小明" → "王**": the group hears that someone invested, not who exactly."""
    text = str(name or "").strip()
    return f"{text[0]}**" if text else ""
