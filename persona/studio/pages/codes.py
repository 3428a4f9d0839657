"""渠道活码: the channel codes a bot hands out, each staff member's QR picture, today's adds
against the cap, and the funnel by channel. Everyone who sees the bot reads it; who manages
codes (admins) makes and removes them, on the platform, through the same code as ``persona
codes``, and each change goes into the audit log.

The pictures live on the platform's hosts and the studio's CSP lets a page show only its own
images: the studio fetches a code's picture itself (only a URL the code keeps, never one from
the request) and serves it.
"""

from __future__ import annotations

import os
import time

import aiohttp
from aiohttp import web

from ...clock import parse_duration
from ...engine import acquisition, census, codes
from ...errors import ChannelError, StoreUnavailable
from ...service.context import bot_environ
from ...store import open_store
from ...wechat.channels.router import Router
from ...wechat.channels.tokens import ACCOUNTS_NAMESPACE
from ..audit import Action
from ..context import STUDIO, StudioBot, back_to, requested_bot
from ..render import render
from ..roles import Permission
from ..security import Route

NOTICES = {"added": "活码已生成。", "removed": "活码已删除，企业微信上的「联系我」也一并删除了。"}
RULES = {codes.Rule.ROUND_ROBIN: "轮流分配", codes.Rule.FEWEST: "今天添加最少的优先"}
PICTURE_TIMEOUT = aiohttp.ClientTimeout(total=5)


async def codes_page(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    window = request.query.get("since", "30d")
    try:
        span = parse_duration(window).total_seconds()
    except ValueError:
        raise web.HTTPBadRequest(text=f"since={window!r}: write a span such as 7d or 30d") from None
    now = time.time()
    kept = await codes.load(bot.store)
    today = await acquisition.added_today(bot.store, now, bot.cls.timezone)
    goal = acquisition.goal(bot.cls)
    rows = await acquisition.by_channel(bot.store, goal, census.day_of(now - span, bot.cls.timezone))
    return render(request, "codes.html", bot=bot.name, codes=kept, today=today, rows=rows, goal=goal,
                  rules=RULES, window=window, error=request.query.get("error", ""),
                  notice=NOTICES.get(request.query.get("notice", ""), ""), default_cap=codes.DEFAULT_CAP)


async def create(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    form = await request.post()
    channel = str(form.get("channel", "")).strip()
    official = form.get("platform") == str(codes.Platform.OFFICIAL)
    try:
        cap = int(str(form.get("cap") or codes.DEFAULT_CAP))
        rule = codes.Rule(str(form.get("rule") or codes.Rule.ROUND_ROBIN))
    except ValueError:
        raise back_to("codes", bot.name, error="没有生成：每人每天上限请填一个整数") from None
    account = request["account"].name
    try:
        async with _router(request, bot) as router:
            code = await codes.create(bot.store, router, channel, staff=str(form.get("staff", "")).split(","),
                                      official=official, rule=rule, cap=cap, skip_verify=not form.get("verify"),
                                      by=account, now=time.time())
    except codes.CodeError as exc:
        raise back_to("codes", bot.name, error=f"没有生成：{exc.zh}") from None
    except ChannelError as exc:
        raise back_to("codes", bot.name, error=f"没有生成：平台拒绝了（{exc}）") from None
    except StoreUnavailable as exc:
        raise back_to("codes", bot.name, error=f"没有生成：存储暂时不可用（{exc}）") from None
    await request.app[STUDIO].audit.record(account, Action.CODES, f"{bot.name}/{code.channel}", added=code.channel,
                                           staff=",".join(s.staff for s in code.staff), platform=str(code.platform))
    raise back_to("codes", bot.name, notice="added")


async def remove(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    channel = request.match_info["channel"]
    try:
        async with _router(request, bot) as router:
            await codes.remove(bot.store, router, channel)
    except codes.CodeError as exc:
        raise back_to("codes", bot.name, error=f"没有删除：{exc.zh}") from None
    except (ChannelError, StoreUnavailable) as exc:
        raise back_to("codes", bot.name, error=f"没有删除，活码还在：{exc}") from None
    await request.app[STUDIO].audit.record(request["account"].name, Action.CODES, f"{bot.name}/{channel}",
                                           removed=channel)
    raise back_to("codes", bot.name, notice="removed")


async def picture(request: web.Request) -> web.StreamResponse:
    """A code's QR picture, fetched from the URL the code keeps and served as the studio's own."""
    bot = requested_bot(request)
    code = await codes.find(bot.store, request.match_info["channel"])
    url = code.picture(request.query.get("staff")) if code is not None else ""
    if not url:
        raise web.HTTPNotFound(text="没有这个二维码")
    try:
        async with aiohttp.ClientSession(timeout=PICTURE_TIMEOUT) as http, http.get(url) as answer:
            body, kind = await answer.read(), answer.content_type
            ok = answer.status == 200 and kind.startswith("image/")
    except (aiohttp.ClientError, TimeoutError):
        ok = False
    if not ok:
        raise web.HTTPBadGateway(text="二维码图片暂时取不到，请稍后刷新")
    return web.Response(body=body, content_type=kind, headers={"Cache-Control": "private, max-age=3600"})


class _router:
    """The bot's platform channels for one request, tokens shared with ``persona serve``."""

    def __init__(self, request: web.Request, bot: StudioBot) -> None:
        self.tokens = open_store(request.app[STUDIO].store_url, ACCOUNTS_NAMESPACE)
        self.router = Router.from_env(bot_environ(os.environ, bot.name), bot.store, token_store=self.tokens)

    async def __aenter__(self) -> Router:
        return self.router

    async def __aexit__(self, *exc: object) -> None:
        await self.router.close()
        await self.tokens.close()




ROUTES = [
    Route("GET", "/codes/{bot}", codes_page, Permission.VIEW_BOT),
    Route("GET", "/codes/{bot}/{channel}/qr", picture, Permission.VIEW_BOT),
    Route("POST", "/codes/{bot}/add", create, Permission.MANAGE_CODES),
    Route("POST", "/codes/{bot}/{channel}/remove", remove, Permission.MANAGE_CODES),
]
