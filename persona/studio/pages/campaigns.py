"""群发: build an audience (a live count and a sample as it is typed), pick a script or an A/B
split, schedule it (now, a moment in brand time, or a clock time in each customer's own time
zone), cancel it, and watch its progress per gate outcome while ``persona serve`` sends it.

The studio only writes the campaign into the store (:mod:`persona.engine.campaigns`); the
running service sends it, through the gate, once. Creating and cancelling are audited.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ...engine.audience import Selector, plan
from ...engine.campaigns import Book, Campaign, Moment, Progress, Split, Status, When
from ...errors import PersonaError
from ...model.audience import AudienceError, parse_audience
from ..audit import Action
from ..context import STUDIO, StudioBot, requested_bot
from ..render import render
from ..roles import Permission
from ..security import Route
from ..timeline import REASONS

SAMPLE = 8
LISTED = 50
STATUS = {Status.SCHEDULED: "已排期", Status.RUNNING: "发送中", Status.DONE: "已完成", Status.CANCELLED: "已取消"}
TIME = "%Y-%m-%d %H:%M:%S"


def progress_json(progress: Progress, tz: str) -> dict[str, Any]:
    """A campaign as the page draws it (and polls it while it runs)."""
    c, t, run = progress.campaign, progress.tally, progress.run
    return {
        "id": c.id, "audience": c.audience, "scripts": str(c.split), "status": progress.status,
        "status_label": STATUS[progress.status], "when": _when(c.when, tz), "by": c.by,
        "started": _local(run.started, tz), "finished": _local(run.finished, tz),
        "next": _local(run.next, tz) if progress.status is Status.RUNNING else "",
        "cancelled_by": progress.cancelled_by,
        "sent": t.sent, "deferred": t.deferred, "dropped": sum(t.dropped.values()),
        "reasons": [{"reason": r, "label": REASONS.get(r, r), "count": n} for r, n in t.dropped.most_common()],
        "silent": t.silent, "done_before": t.done_before, "errors": sum(t.errors.values()),
        "per_script": [{"script": s, "count": progress.scripts.get(s, 0)} for s in c.split.scripts],
    }


def _local(epoch: float | None, tz: str) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo(tz)).strftime(TIME) if epoch else ""


def _when(when: When, tz: str) -> str:
    if when.moment is Moment.LOCAL:
        return f"{when.day} {when.clock[:5]}（每位客户自己的时区）"
    return f"{_local(when.at, tz)}（{tz}）"


async def campaigns_page(request: web.Request) -> web.StreamResponse:
    return await _page(request, requested_bot(request), {}, "")


async def _page(request: web.Request, bot: StudioBot, form: dict[str, str], error: str,
                status: int = 200) -> web.StreamResponse:
    book = Book(bot.store)
    rows = [progress_json(await book.progress(cid), bot.cls.timezone) for cid in await book.ids(LISTED)]
    now = datetime.fromtimestamp(time.time(), ZoneInfo(bot.cls.timezone))
    defaults = {"audience": "", "mode": "one", "script": "", "split": "", "when": "now",
                "at": now.strftime("%Y-%m-%dT%H:%M"), "day": now.strftime("%Y-%m-%d"), "clock": "10:00"}
    return render(request, "campaigns.html", status=status, bot=bot.name, rows=rows, error=error,
                  form={**defaults, **form}, scripts=bot.persona.scripts.names(), tz=bot.cls.timezone)


async def create(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    posted = await request.post()
    form = {k: str(posted.get(k, "")).strip() for k in ("audience", "mode", "script", "split", "when", "at", "day",
                                                          "clock")}
    book = Book(bot.store)
    try:
        draft = _campaign(bot, form, request["account"].name)  # checked before it takes an id
        campaign = await book.create(dataclasses.replace(draft, id=await book.new_id()))
    except AudienceError as exc:
        return await _page(request, bot, form, f"受众表达式第 {exc.column} 列有误：{exc.reason}", 400)
    except PersonaError as exc:
        return await _page(request, bot, form, str(exc), 400)
    await studio.audit.record(request["account"].name, Action.CAMPAIGN, f"{bot.name}/{campaign.id}",
                              change="scheduled", audience=campaign.audience, scripts=str(campaign.split),
                              when=_when(campaign.when, bot.cls.timezone))
    raise web.HTTPSeeOther(f"/campaigns/{bot.name}/{campaign.id}")


def _campaign(bot: StudioBot, form: dict[str, str], by: str) -> Campaign:
    """The campaign the form describes, or a :class:`PersonaError` saying (in Chinese) what to fix."""
    parse_audience(form["audience"], bot.cls)
    if form["mode"] == "split":
        try:
            split = Split.parse(form["split"])
        except PersonaError:
            raise PersonaError("A/B 分组写作 话术=权重,话术=权重，例如 flash_sale=50,group_invite=50") from None
    elif form["script"]:
        split = Split.one(form["script"])
    else:
        raise PersonaError("请选择要发送的话术")
    missing = [s for s in split.scripts if s not in bot.persona.scripts]
    if missing:
        raise PersonaError(f"没有话术 {'、'.join(missing)}（可用：{'、'.join(bot.persona.scripts.names())}）")
    now = time.time()
    tz = bot.cls.timezone
    try:
        moment = Moment(form["when"])
    except ValueError:
        raise PersonaError("请选择发送时间") from None
    if moment is Moment.NOW:
        when = When.parse(None, tz, now=now)
    else:
        text = form["at"].replace("T", " ") if moment is Moment.AT else f"{form['day']} {form['clock']}"
        try:
            when = When.parse(text, tz, local=moment is Moment.LOCAL, now=now)
        except PersonaError:
            raise PersonaError("请填写发送的日期和时间") from None
        if moment is Moment.AT and when.at < now - 60:
            raise PersonaError("发送时间已经过去了：请选择将来的时间，或选“立即发送”")
    return Campaign("", form["audience"], split, when, {}, now, by)


async def detail(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    progress = await _progress(bot, request.match_info["id"])
    return render(request, "campaign.html", bot=bot.name, c=progress_json(progress, bot.cls.timezone),
                  over=progress.status in (Status.DONE, Status.CANCELLED))


async def detail_json(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    return web.json_response(progress_json(await _progress(bot, request.match_info["id"]), bot.cls.timezone))


async def _progress(bot: StudioBot, campaign_id: str) -> Progress:
    book = Book(bot.store)
    if await book.get(campaign_id) is None:
        raise web.HTTPNotFound(text=f"{bot.name} 没有群发 {campaign_id!r}")
    return await book.progress(campaign_id)


async def cancel(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    campaign_id = request.match_info["id"]
    await _progress(bot, campaign_id)
    try:
        await Book(bot.store).cancel(campaign_id, request["account"].name)
    except PersonaError:
        raise web.HTTPSeeOther(f"/campaigns/{bot.name}/{campaign_id}?notice=done_already")
    await studio.audit.record(request["account"].name, Action.CAMPAIGN, f"{bot.name}/{campaign_id}",
                              change="cancelled")
    raise web.HTTPSeeOther(f"/campaigns/{bot.name}/{campaign_id}")


async def audience(request: web.Request) -> web.StreamResponse:
    """The live count: how many customers the expression reaches now, and a few of them."""
    bot = requested_bot(request)
    text = request.query.get("q", "")
    try:
        node = parse_audience(text, bot.cls)
    except AudienceError as exc:
        return web.json_response({"error": exc.reason, "column": exc.column})
    users = await Selector(bot.store, time.time(), bot.cls.timezone).select(node)
    how = plan(node)
    cost = "逐个读取全部客户记录" if how.reads_everyone and how.reads_records else \
        "先按索引筛选，再读取剩下客户的记录" if how.reads_records else "只用标签和状态索引"
    return web.json_response({"count": len(users), "sample": users[:SAMPLE], "audience": str(node), "cost": cost})


ROUTES = [
    Route("GET", "/campaigns/{bot}", campaigns_page, Permission.VIEW_BOT),
    Route("POST", "/campaigns/{bot}", create, Permission.RUN_CAMPAIGNS),
    Route("GET", "/campaigns/{bot}/{id}", detail, Permission.VIEW_BOT),
    Route("POST", "/campaigns/{bot}/{id}/cancel", cancel, Permission.RUN_CAMPAIGNS),
    Route("GET", "/api/campaigns/{bot}/{id}", detail_json, Permission.VIEW_BOT),
    Route("GET", "/api/audience/{bot}", audience, Permission.RUN_CAMPAIGNS),
]
