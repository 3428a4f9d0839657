"""私教: an online personal trainer in the customer's WeCom.

The customer buys coaching, answers a questionnaire and adds the coach; the coach offers three
plans that fit the goal and level. Once a plan is picked, every training day has its rhythm
(a morning brief, a reminder unless the plan was changed that day, a prep message, a start
signal), every uploaded workout gets a per-move review, a streak and a share card, and missed
sessions or days without training get gentle, escalating, capped nudges. A customer group is
its own record (``group:<chat_id>``, as WeCom reports group changes): it tags members as they
join and posts a weekly leaderboard and a call-out of members who have gone quiet.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time, timedelta
from typing import Any

from persona import Customer, EventDataError, HandoffSpec, Persona, Turn, on
from persona.clock import parse_duration

from . import training as cal
from .card import CardMove, media_dir, render_card, thumbnail
from .catalogue import CATALOGUE
from .questionnaire import QUESTIONNAIRE

S = CATALOGUE.settings
BRIEF_AT: str = S["brief_at"]
BRIEF_MIN_LEAD = parse_duration(S["brief_min_lead"])
REMINDER_BEFORE = parse_duration(S["reminder_before"])
REMINDER_MIN_GAP = parse_duration(S["reminder_min_gap"])
PREP_BEFORE = parse_duration(S["prep_before"])
MISSED_AFTER = parse_duration(S["missed_after"])
IDLE_DAYS: list[int] = sorted(int(d) for d in S["idle_days"])
CUSTOMER_STATES = ["new", "purchased", "choosing", "training", "paused"]
COACHED = ["training", "paused"]
CARD_AFTER = 60.0  # seconds between the welcome message and the mini-program card it mentions
WEEKDAYS_CN = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


# -- when, for one customer (the timers call these with the customer's record) --------------
def session_time(c: Customer) -> str | None:
    """The customer's training time, once they train on a plan."""
    return c.attrs.get("time") if c.attrs.get("plan") else None


def training_days(c: Customer) -> list[int]:
    return c.attrs.get("days") or []


def brief_time(c: Customer) -> str | None:
    """The morning brief, when the session leaves room for one after it (not for early sessions)."""
    at = session_time(c)
    if at and (cal.minutes(at) - cal.minutes(BRIEF_AT)) * 60 >= BRIEF_MIN_LEAD.total_seconds():
        return BRIEF_AT
    return None


def reminder_time(c: Customer) -> str | None:
    """The session time, when its reminder would come well after the morning brief."""
    at = session_time(c)
    if not at:
        return None
    reminder = cal.minutes(at) * 60 - REMINDER_BEFORE.total_seconds()
    return at if reminder >= cal.minutes(BRIEF_AT) * 60 + REMINDER_MIN_GAP.total_seconds() else None


#: a week's board is read on its Sunday; kept a few weeks more, then the store drops it
WEEKLY_BOARD_TTL = timedelta(weeks=5)


def board(chat_id: str, week: str, metric: str) -> str:
    """A group's weekly leaderboard (``minutes`` or ``workouts``)."""
    return f"fitness:{chat_id}:{week}:{metric}"


class FitnessCoach(Persona):
    name = "fitness_coach"
    voice = "阿杰教练：专业、耐心、鼓励为主，说话简短直接，先讲安全再讲效果，有伤痛时建议就医。"
    agent_scripts = frozenset({"agent_rest_advice"})  # 话术库: offered to agents in the WeCom sidebar
    handoff = HandoffSpec(  # 转人工: the coach who added the trainee, else the duty coach
        agents=("coach_duty",), hours="08:00-22:00",
        ack="handoff_ack", offline="handoff_offline", notify="handoff_notify",
        back="handoff_back", back_notify="handoff_back_notify",
        desk_url="https://studio.example.com/agents/{bot}?user={user}")
    forms = [QUESTIONNAIRE]  # 信息采集: {{ form_link("questionnaire") }} in the scripts
    states = [*CUSTOMER_STATES, "group", "group_closed"]
    converted = "training"  # the funnel by channel counts a customer who starts training
    initial = "new"
    transitions = [
        ["buy", "new", "purchased"],
        ["submit_questionnaire", CUSTOMER_STATES, "choosing"],
        ["pick", "choosing", "training"],
        ["pause", "training", "paused"],
        ["resume", "paused", "training"],
        ["open_group", "new", "group"],
        ["close_group", "group", "group_closed"],
    ]

    def context(self, turn: Turn) -> dict[str, Any]:
        attrs, tags = turn.customer.attrs, turn.customer.tags
        plan = CATALOGUE.plans.get(attrs.get("plan", ""))
        return {
            "coach": CATALOGUE.coach,
            "mp": CATALOGUE.miniprogram,
            "plan": plan.as_dict() if plan else None,
            "goal_name": CATALOGUE.goals.get(tags.get("goal", ""), {}).get("name", ""),
            "level_name": CATALOGUE.levels.get(tags.get("level", ""), {}).get("name", ""),
            "days_cn": "、".join(WEEKDAYS_CN[d - 1] for d in attrs.get("days", [])),
            "time": attrs.get("time", ""),
        }

    # -- buying, the questionnaire and adding the coach ------------------------------------------
    @on.event("purchased", states=CUSTOMER_STATES, data={"name?": str, "nickname?": str})
    async def purchased(self, turn: Turn) -> None:
        turn.tag("paid")
        self._remember_name(turn)
        await turn.trigger("buy")

    @on.event("questionnaire_submitted", states=CUSTOMER_STATES,
              data={"goal": str, "level": str, "days": list, "time": str, "name?": str,
                    "nickname?": str, "injured?": bool, "injuries?": str, "weight_kg?": float})
    async def questionnaire(self, turn: Turn) -> None:
        data = turn.data
        goal, level = CATALOGUE.goal(data.get("goal")), CATALOGUE.level(data.get("level"))
        turn.set("days", cal.parse_days(data.get("days")))
        turn.set("time", cal.parse_time(data.get("time")))
        turn.tag("goal", goal)
        turn.tag("level", level)
        if data.get("injured") is not None:  # the coach's plans and words go easy on an injury
            if data["injured"]:
                turn.tag("injury")
            else:
                turn.untag("injury")
            turn.set("injuries", (data.get("injuries") or "").strip() if data["injured"] else None)
        if data.get("weight_kg") is not None:
            turn.set("weight_kg", data["weight_kg"])
        self._remember_name(turn)
        turn.set("offered", CATALOGUE.recommend(goal, level))
        await turn.trigger("submit_questionnaire")
        if turn.customer.has("coach_added"):
            self._offer(turn)

    @on.wechat("add_external_contact", "add_half_external_contact", states=CUSTOMER_STATES)
    def coach_added(self, turn: Turn) -> None:
        """One welcome message answers the add (the welcome code is single-use); the
        mini-program card it points to follows a minute later."""
        turn.tag("coach_added")
        if turn.data.get("staff"):
            turn.set("coach_staff", turn.data["staff"])
        if turn.state == "choosing":
            turn.say("welcome", plans=self._plans(turn))
            turn.schedule("card", after=CARD_AFTER, data={"script": "plans_card"})
        elif turn.state in COACHED:
            turn.say("welcome", next_day=self._next_day(turn))
        else:
            turn.say("welcome")
            turn.schedule("card", after=CARD_AFTER, data={"script": "questionnaire_card"})

    @on.keyword("问卷", "填问卷", "重新填问卷", states=CUSTOMER_STATES)
    def questionnaire_asked(self, turn: Turn) -> None:
        turn.say("questionnaire_link")

    @on.timer("card", service=True)
    def card(self, turn: Turn) -> None:
        if turn.timer_data.get("script") == "plans_card":
            turn.say("plans_card", offered=turn.customer.attrs["offered"], cover=str(thumbnail()))
        else:
            turn.say("questionnaire_card", cover=str(thumbnail()))

    def _offer(self, turn: Turn) -> None:
        turn.say("plans", plans=self._plans(turn))
        turn.say("plans_card", offered=turn.customer.attrs["offered"], cover=str(thumbnail()))

    @staticmethod
    def _plans(turn: Turn) -> list[dict[str, Any]]:
        return [CATALOGUE.plans[p].as_dict() for p in turn.customer.attrs["offered"]]

    # -- picking and changing the plan -------------------------------------------------------------
    @on.event("plan_selected", states=CUSTOMER_STATES, data={"plan_id?": str, "choice?": int})
    async def plan_selected(self, turn: Turn) -> None:
        plan_id = self._chosen(turn.customer, turn.data)
        if turn.state in COACHED:
            await self._change(turn, {"plan": plan_id})
        elif turn.state == "choosing":
            await self._start_plan(turn, plan_id)
        else:
            raise ValueError(f"plan_selected before questionnaire_submitted (customer is {turn.state!r})")

    @on.regex(r"^\s*([1-3])\s*$", states="choosing")
    async def choice_by_text(self, turn: Turn) -> None:
        assert turn.match is not None
        await self._start_plan(turn, self._chosen(turn.customer, {"choice": int(turn.match.group(1))}))

    @on.event("plan_changed", states=CUSTOMER_STATES, data={"plan_id?": str, "days?": list, "time?": str})
    async def plan_changed(self, turn: Turn) -> None:
        data, changes = turn.data, {}
        if data.get("plan_id"):
            changes["plan"] = self._chosen(turn.customer, {"plan_id": data["plan_id"]})
        if data.get("days") is not None:
            changes["days"] = cal.parse_days(data["days"])
        if data.get("time"):
            changes["time"] = cal.parse_time(data["time"])
        if turn.state in COACHED:
            await self._change(turn, changes)
            return
        for key in ("days", "time"):
            if key in changes:
                turn.set(key, changes[key])
        if "plan" in changes and turn.state == "choosing":
            await self._start_plan(turn, changes["plan"])

    @staticmethod
    def _chosen(customer: Customer, data: dict[str, Any]) -> str:
        offered = customer.attrs.get("offered") or []
        if data.get("plan_id"):
            plan_id = str(data["plan_id"])
            if plan_id not in CATALOGUE.plans:
                raise EventDataError(f"unknown plan_id {plan_id!r} (known: {', '.join(CATALOGUE.plans)})",
                                     fields=["plan_id"])
            return plan_id
        try:
            choice = int(data.get("choice"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise EventDataError(f"plan_selected needs plan_id or choice 1-3, got {data!r}",
                                 fields=["plan_id", "choice"]) from None
        if not 1 <= choice <= len(offered):
            raise EventDataError(f"choice {choice} is not one of the {len(offered)} plans offered", fields=["choice"])
        return offered[choice - 1]

    async def _start_plan(self, turn: Turn, plan_id: str) -> None:
        today = turn.local.date()
        turn.set("plan", plan_id)
        turn.set("plan_start", today.isoformat())
        turn.tag("plan", plan_id)
        await turn.trigger("pick")
        self._fresh_start(turn, today)
        turn.say("plan_confirmed", next_day=self._next_day(turn))

    async def _change(self, turn: Turn, changes: dict[str, Any]) -> None:
        today = turn.local.date()
        if turn.state == "paused":
            await turn.trigger("resume")
            self._fresh_start(turn, today)
        if "plan" in changes and changes["plan"] != turn.customer.attrs.get("plan"):
            turn.set("plan", changes["plan"])
            turn.set("plan_start", today.isoformat())
            turn.tag("plan", changes["plan"])
        for key in ("days", "time"):
            if key in changes:
                turn.set(key, changes[key])
        turn.set("plan_changed_on", today.isoformat())  # the training-day timers follow the new schedule
        turn.say("plan_changed", changed=sorted(changes), next_day=self._next_day(turn))

    def _fresh_start(self, turn: Turn, today: date) -> None:
        """Count idleness from today (a new plan, a comeback)."""
        turn.set("active_on", today.isoformat())
        turn.set("missed", None)
        turn.cancel("idle")
        self._schedule_idle(turn, today, IDLE_DAYS[0])

    # -- a training day ----------------------------------------------------------------------------
    @on.timer("brief", daily=brief_time, weekdays=training_days, state="training", service=True)
    def brief(self, turn: Turn) -> None:
        turn.say("brief", **self._session(turn, turn.local.date()))

    @on.timer("reminder", daily=reminder_time, offset=-REMINDER_BEFORE, weekdays=training_days,
              state="training", when="plan_unchanged_today", service=True)
    def reminder(self, turn: Turn) -> None:
        turn.say("reminder", **self._session(turn, (turn.local + REMINDER_BEFORE).date()))

    @on.timer("prep", daily=session_time, offset=-PREP_BEFORE, weekdays=training_days,
              state="training", service=True)
    def prep(self, turn: Turn) -> None:
        turn.say("prep", briefed=brief_time(turn.customer) is not None,
                 lead=int(PREP_BEFORE.total_seconds() // 60),
                 **self._session(turn, (turn.local + PREP_BEFORE).date()))

    @on.timer("start", daily=session_time, weekdays=training_days, state="training", service=True)
    def start(self, turn: Turn) -> None:
        turn.say("start", cover=str(thumbnail()), **self._session(turn, turn.local.date()))

    def plan_unchanged_today(self, turn: Turn) -> bool:
        """The reminder's guard: a customer who just changed the plan knows what is on."""
        session_day = (turn.local + REMINDER_BEFORE).date()
        return turn.customer.attrs.get("plan_changed_on") != session_day.isoformat()

    def _session(self, turn: Turn, day: date) -> dict[str, Any]:
        attrs = turn.customer.attrs
        start = date.fromisoformat(attrs.get("plan_start") or day.isoformat())
        index = cal.session_index(start, day, attrs.get("days", []))
        moves = CATALOGUE.session(attrs["plan"], index)
        return {"day": day, "index": index, "moves": [m.as_dict() for m in moves],
                "names": "、".join(m.name for m in moves), "bring": CATALOGUE.bring(moves),
                "evening": cal.minutes(attrs.get("time", "20:00")) >= 18 * 60}

    def _next_day(self, turn: Turn) -> date | None:
        """The next training day (today if the session is still ahead)."""
        attrs = turn.customer.attrs
        if not attrs.get("days"):
            return None
        today = turn.local.date()
        later = attrs.get("time", "23:59") > turn.local.strftime("%H:%M")
        return cal.next_training_day(today if later else today + timedelta(days=1), attrs["days"])

    # -- no show, no training ----------------------------------------------------------------------
    @on.timer("missed", daily=session_time, offset=MISSED_AFTER, weekdays=training_days,
              state="training", when="no_workout_that_day")
    def missed(self, turn: Turn) -> None:
        count = int(turn.customer.attrs.get("missed", 0)) + 1
        turn.set("missed", count)
        if count <= int(S["missed_nudges"]) and self._claim_nudge(turn):
            turn.say("missed", level=count, day=(turn.local - MISSED_AFTER).date())

    def no_workout_that_day(self, turn: Turn) -> bool:
        session_day = (turn.local - MISSED_AFTER).date()
        return turn.customer.attrs.get("last_workout") != session_day.isoformat()

    @on.timer("idle", state="training")
    async def idle(self, turn: Turn) -> None:
        days = int(turn.timer_data.get("days", IDLE_DAYS[0]))
        if days >= IDLE_DAYS[-1]:
            # telling a customer their plan is paused is a service notice, not marketing:
            # a spent mass-message budget must not leave them paused without a word
            turn.say("idle", days=days, pausing=True, category="service")
            turn.set("last_nudge", turn.local.date().isoformat())
            await turn.trigger("pause")
            return
        if self._claim_nudge(turn):
            turn.say("idle", days=days, pausing=False)
        since = date.fromisoformat(turn.customer.attrs.get("active_on") or turn.local.date().isoformat())
        self._schedule_idle(turn, since, next(d for d in IDLE_DAYS if d > days))

    def _schedule_idle(self, turn: Turn, since: date, days: int) -> None:
        when = datetime.combine(since + timedelta(days=days), time.fromisoformat(S["idle_at"]),
                                tzinfo=turn.local.tzinfo)
        turn.schedule("idle", at=when, data={"days": days})

    def _claim_nudge(self, turn: Turn) -> bool:
        """At most one nudge a day, whichever comes first: True (and today's slot is taken) or False."""
        today = turn.local.date().isoformat()
        if turn.customer.attrs.get("last_nudge") == today:
            return False
        turn.set("last_nudge", today)
        return True

    @on.text("继续", "继续训练", "恢复训练", states="paused")
    async def comeback(self, turn: Turn) -> None:
        await turn.trigger("resume")
        self._fresh_start(turn, turn.local.date())
        turn.say("resumed", next_day=self._next_day(turn))

    @on.text("计划", "我的计划", "今天练什么", "练什么", states=COACHED)
    def my_plan(self, turn: Turn) -> None:
        next_day = self._next_day(turn)
        session = self._session(turn, next_day) if next_day else {}
        turn.say("my_plan", next_day=next_day, session=session)

    # -- after a workout ---------------------------------------------------------------------------
    @on.event("workout_uploaded", states=COACHED, data={"moves": list, "duration_min?": float})
    async def workout(self, turn: Turn) -> None:
        if turn.state == "paused":
            await turn.trigger("resume")
        attrs, today = turn.customer.attrs, turn.local.date()
        last = date.fromisoformat(attrs["last_workout"]) if attrs.get("last_workout") else None
        streak = cal.streak_after(last, today, int(attrs.get("streak", 0)), attrs.get("days", []))
        duration = max(0, int(turn.data.get("duration_min") or 0))
        turn.set("streak", streak)
        turn.set("last_workout", today.isoformat())
        count = turn.incr("workouts")
        turn.incr("minutes", duration)
        self._fresh_start(turn, today)

        review = CATALOGUE.review(turn.data.get("moves") or [])
        turn.say("review", good=review.good, fine=review.fine, poor=review.poor, streak=streak,
                 duration=duration, restarted=streak == 1 and count > 1)
        plan = CATALOGUE.plans.get(attrs.get("plan", ""))
        card = media_dir() / f"{_safe(turn.customer.id)}-{today:%Y%m%d}-{count}.png"
        moves = [CardMove(m["name"], m["en"], m["score"]) for m in review.moves]
        await asyncio.to_thread(render_card, card, streak=streak, day=today, minutes=duration, moves=moves,
                                plan=plan.name if plan else "", coach=CATALOGUE.coach)
        turn.say("share_card", card=str(card), streak=streak)

        chat_id = turn.customer.tags.get("group")
        if chat_id:
            week = cal.week_label(today)
            turn.leaderboard(board(chat_id, week, "minutes"), turn.customer.id, duration, ttl=WEEKLY_BOARD_TTL)
            turn.leaderboard(board(chat_id, week, "workouts"), turn.customer.id, 1, ttl=WEEKLY_BOARD_TTL)

    # -- real-time tags ----------------------------------------------------------------------------
    @on.rule
    def activity(self, turn: Turn) -> None:
        """``activity``: active / slipping (a few days off) / dormant (weeks off)."""
        since = turn.customer.attrs.get("active_on")
        if turn.state not in COACHED or not since:
            return
        idle = (turn.local.date() - date.fromisoformat(since)).days
        level = "active" if idle < IDLE_DAYS[0] else "dormant" if idle >= IDLE_DAYS[-1] else "slipping"
        if turn.customer.tags.get("activity") != level:
            turn.tag("activity", level)

    @staticmethod
    def _remember_name(turn: Turn) -> None:
        name = turn.data.get("name") or turn.data.get("nickname")
        if name:
            turn.set("name", str(name)[:20])

    # -- the group: its own record, group:<chat_id> ------------------------------------------------
    @on.wechat("chat_create", "chat_add_member", states=["new", "group"])
    async def group_changed(self, turn: Turn) -> None:
        chat_id = self._chat_id(turn)
        if turn.state == "new":
            await turn.trigger("open_group")
            turn.set("chat_id", chat_id)
        if turn.input.name == "chat_add_member":  # type: ignore[attr-defined]
            for member in _ids(turn.data.get("mem_change_list")):
                turn.dispatch(member, "group_joined", {"chat_id": chat_id})

    @on.wechat("chat_del_member", states="group")
    def group_member_left(self, turn: Turn) -> None:
        chat_id = self._chat_id(turn)
        for member in _ids(turn.data.get("mem_change_list")):
            turn.dispatch(member, "group_left", {"chat_id": chat_id})

    @on.wechat("chat_dismiss", states="group")
    async def group_dismissed(self, turn: Turn) -> None:
        chat_id = self._chat_id(turn)
        for member in sorted(await turn.members(f"tag:group={chat_id}")):
            turn.dispatch(member, "group_left", {"chat_id": chat_id})
        await turn.trigger("close_group")

    @on.event("group_joined", states=CUSTOMER_STATES, data={"chat_id": str})
    def group_joined(self, turn: Turn) -> None:
        turn.tag("group", str(turn.data["chat_id"]))

    @on.event("group_left", states=CUSTOMER_STATES, data={"chat_id": str})
    def group_left(self, turn: Turn) -> None:
        if turn.customer.tags.get("group") == str(turn.data.get("chat_id")):
            turn.untag("group")

    @on.timer("weekly_board", daily=S["leaderboard_at"], weekdays=[int(S["leaderboard_weekday"])], state="group")
    async def weekly_board(self, turn: Turn) -> None:
        chat_id = turn.customer.attrs["chat_id"]
        to = f"group:{chat_id}"
        today = turn.local.date()
        week = cal.week_label(today)
        profiles: dict[str, Customer | None] = {}

        async def profile(member: str) -> Customer | None:
            if member not in profiles:
                profiles[member] = await turn.profile(member)
            return profiles[member]

        counts = dict(await turn.top(board(chat_id, week, "workouts"), 500))
        rows = []
        for rank, (member, minutes) in enumerate(await turn.top(board(chat_id, week, "minutes"),
                                                               int(S["leaderboard_top"])), 1):
            rows.append({"rank": rank, "name": _display(await profile(member), member),
                         "minutes": int(minutes), "workouts": int(counts.get(member, 0))})
        turn.say("group_leaderboard", to=to, rows=rows, week_start=today - timedelta(days=today.weekday()),
                 week_end=today)

        members = await turn.members(f"tag:group={chat_id}")
        called: dict[str, list[Any]] = dict(turn.customer.attrs.get("callouts") or {})
        called_out = []
        for member in sorted(members):
            p = await profile(member)
            since = p.attrs.get("active_on") if p else None
            if p is None or p.state not in COACHED or p.opted_out or not since:
                called.pop(member, None)
                continue
            idle = (today - date.fromisoformat(since)).days
            if idle < int(S["callout_after_days"]):
                called.pop(member, None)
                continue
            spell, times = called.get(member, [since, 0])
            times = times if spell == since else 0
            if times >= int(S["callout_times"]) or len(called_out) >= int(S["callout_names"]):
                continue
            called_out.append({"name": _display(p, member), "days": idle})
            called[member] = [since, times + 1]
        turn.set("callouts", {m: v for m, v in called.items() if m in members} or None)
        if called_out:
            turn.say("group_callout", to=to, members=called_out)

    @staticmethod
    def _chat_id(turn: Turn) -> str:
        return str(turn.data.get("chat_id") or turn.customer.id.removeprefix("group:"))


def _ids(raw: Any) -> list[str]:
    """Member ids from ``mem_change_list``: a list, or the same written out as text."""
    if isinstance(raw, str):
        return [x for x in re.split(r"[\s,;\[\]'\"]+", raw) if x]
    return [str(x) for x in raw or [] if x]


def _display(customer: Customer | None, member: str) -> str:
    name = customer.attrs.get("name") if customer else None
    return str(name) if name else f"学员{member[-4:]}"


def _safe(user: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", user)[:64]
