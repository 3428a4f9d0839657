"""Bot: the state diagram drawn from the code (the same graph as ``persona graph``), the events
the brand's systems may send, the timers, the policy, and the dead letters with a way to put
them back in the outbox (through the same atomic step as ``persona dead-letters --retry``).
"""

from __future__ import annotations

import dataclasses
import inspect

from aiohttp import web

from ...engine import quality
from ..charts import bars
from ...engine.dead_letters import recipient, requeue, summary
from ...content.graph import Graph, describe
from ..audit import Action
from ..context import STUDIO, StudioBot
from ..masking import mask_text
from ..render import render
from ..roles import Permission, allows
from ..security import Route

POLICY_LABELS = {
    "daily_cap": "每日主动消息上限", "weekly_cap": "每周主动消息上限", "quiet_start": "免打扰开始",
    "quiet_end": "免打扰结束", "stale_after": "免打扰后过期（秒）", "opt_out_words": "退订词",
    "opt_in_words": "恢复订阅词", "kf_window": "客服消息窗口（秒）", "kf_window_limit": "窗口内条数上限",
    "kf_burst_limit": "点击/关注后一分钟内上限", "wecom_mass_per_month": "企业微信群发每月上限",
    "wecom_mass_per_day": "企业微信群发每日上限", "fallback_template": "窗口外改用的模板消息",
    "handoff_words": "转人工词", "handoff_unhandled": "无人处理的消息转人工",
    "handoff_idle": "人工会话闲置后交还机器人（秒）", "handoff_script": "转人工时的话术",
}


def events(bot: StudioBot) -> list[dict[str, object]]:
    """Every business event the bot handles: the contract with the brand's systems."""
    out: list[dict[str, object]] = []
    for name, routes in sorted(bot.cls.routes.event.items()):
        if name.startswith("persona:"):
            continue
        for route, attr in routes:
            doc = inspect.getdoc(getattr(bot.cls, attr)) or ""
            out.append({"name": name, "handler": attr, "states": sorted(route.states) if route.states else [],
                        "doc": doc.split("\n\n")[0].replace("\n", " ")})
    return out


def timers(bot: StudioBot) -> list[dict[str, object]]:
    return [{"name": name, "handler": attr, "when": describe(route.timer, "zh"),
             "states": sorted(route.states) if route.states else []}
            for name, (route, attr) in sorted(bot.cls.routes.timer.items())]


def policy(bot: StudioBot) -> list[tuple[str, str, str]]:
    rows = []
    for f in dataclasses.fields(bot.cls.policy):
        value = getattr(bot.cls.policy, f.name)
        if isinstance(value, bool):
            shown = "是" if value else "否"
        else:
            shown = "、".join(value) if isinstance(value, tuple) else ("-" if value is None else str(value))
        rows.append((f.name, POLICY_LABELS.get(f.name, f.name), shown))
    return rows


async def bot_page(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    personal = allows(request["account"].role, Permission.SEE_PERSONAL)
    letters = [{"id": item.id, "user": item.user, "to": recipient(item), "attempts": item.attempts,
                "reason": reason, "what": summary(item) if personal else mask_text(summary(item))}
               for item, reason in await bot.store.dead_letters()]
    doc = inspect.cleandoc(bot.cls.__dict__.get("__doc__") or "")  # its own, not Persona's
    desk = await quality.figures(bot.store, bot.cls.initial)
    return render(request, "bot.html", bot=bot.name, title=bot.cls.__name__, doc=doc,
                  mermaid=Graph.of(bot.cls, "zh").mermaid(), states=bot.cls.states, events=events(bot),
                  timers=timers(bot), policy=policy(bot), letters=letters, desk=desk,
                  desk_chart=bars(desk.by_day, "每天转人工次数"), notice=request.query.get("notice", ""))


async def requeue_letter(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    item_id = request.match_info["item"]
    ok, _ = await requeue(bot.store, item_id)
    if ok:
        await studio.audit.record(request["account"].name, Action.REQUEUE, f"{bot.name}/{item_id}")
    raise web.HTTPSeeOther(f"/bots/{bot.name}?notice={'requeued' if ok else 'gone'}#dead-letters")


ROUTES = [
    Route("GET", "/bots/{bot}", bot_page, Permission.VIEW_BOT),
    Route("POST", "/bots/{bot}/dead-letters/{item}/requeue", requeue_letter, Permission.REQUEUE),
]
