"""侧边栏: the agents' desk inside WeCom's chat toolbar.

WeCom opens this page beside a chat with an external contact. The page signs itself in to the
JS-SDK (``wx.agentConfig``, signed here with the app's agent_config ticket), asks WeCom which
customer the chat is with (``getCurExternalContact``) and shows that customer: state, tags,
the last lines of their conversation, the three suggested replies and the bot's 话术库 (the
scripts ``Persona.agent_scripts`` names, rendered for this customer) and the 内容库 (a picture
is uploaded to WeCom the first time an agent sends it). A reply goes into the
chat with ``sendChatMessage`` once 风控 has looked at it: a forbidden word stops it here, as it
would a message sent through persona. The page needs the studio's session like every other.
"""

from __future__ import annotations

import os
import time

from aiohttp import web

from ...content import library as library_items
from ...content.risk import RiskError, risk_list
from ...errors import ChannelError, PersonaError, StoreUnavailable, TemplateError
from ...engine.identity import find
from ...model.inputs import BusinessEvent
from ...model.turn import Turn
from ...service.context import bot_environ
from ...wechat.channels.wecom import WeComChannel
from ..context import StudioBot, requested_bot
from ..render import render
from ..roles import Permission
from ..security import Route

#: the page loads WeCom's JS-SDK from WeCom's host, and nothing else from outside
CSP = ("default-src 'self'; script-src 'self' https://res.wx.qq.com; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
CHANNELS: web.AppKey[dict[str, WeComChannel]] = web.AppKey("sidebar_channels", dict)


async def sidebar_page(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    response = render(request, "sidebar.html", bot=bot.name)
    response.headers["Content-Security-Policy"] = CSP
    return response


async def config(request: web.Request) -> web.StreamResponse:
    """``wx.agentConfig``'s parameters for the page at ``?url=``."""
    bot = requested_bot(request)
    url = request.query.get("url", "")
    if not url.startswith(("https://", "http://")):
        return web.json_response({"error": "url: the page's own address (location.href)"}, status=400)
    try:
        return web.json_response(await _channel(request, bot).agent_config(url))
    except (ChannelError, StoreUnavailable) as exc:
        return web.json_response({"error": f"企业微信 JS-SDK 签名失败：{exc}"}, status=503)


async def library(request: web.Request) -> web.StreamResponse:
    """话术库: each of the bot's agent scripts, rendered for this customer."""
    bot = requested_bot(request)
    user = request.match_info["user"]
    customer = await find(bot.store, user)  # the contact's own record, or the customer it is linked to
    if customer is None:
        return web.json_response({"error": f"找不到客户 {user}"}, status=404)
    turn = Turn(bot.persona, customer, BusinessEvent(user=customer.id, name="sidebar"), time.time())
    items = []
    for script in sorted(bot.cls.agent_scripts):
        try:
            items.append({"script": script, "text": turn.render(script).text})
        except TemplateError as exc:
            items.append({"script": script, "error": exc.text("zh")})
    return web.json_response({"items": items})


async def content(request: web.Request) -> web.StreamResponse:
    """One 内容库 item as ``sendChatMessage`` takes it; a picture is uploaded to WeCom for its
    media_id (once: the channel's media cache keeps it for days)."""
    bot = requested_bot(request)
    wanted = request.match_info["item"]
    found = next((i for i in await library_items.load(bot.store, bot.cls) if i.id == wanted), None)
    if found is None:
        return web.json_response({"error": f"内容库里没有这条内容（{wanted}），请刷新侧边栏"}, status=404)
    if found.kind is not library_items.Kind.IMAGE:
        return web.json_response({"message": found.chat_message()})
    try:
        media_id = await _channel(request, bot).media.media_id(library_items.source(found, bot.cls))
    except (ChannelError, StoreUnavailable) as exc:
        return web.json_response({"error": f"图片没有传到企业微信：{exc}"}, status=503)
    return web.json_response({"message": found.chat_message(media_id)})


async def check(request: web.Request) -> web.StreamResponse:
    """风控 before ``sendChatMessage``: ``{"text"}`` → the forbidden words, and whether they stop it."""
    bot = requested_bot(request)
    try:
        body = await request.json()
        text = str(body["text"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": 'send {"text": "..."}'}, status=400)
    try:
        risk = risk_list(bot.cls)
    except RiskError as exc:
        return web.json_response({"error": f"风控词表读不出来：{exc}"}, status=503)
    words, blocked = risk.verdict(text)
    return web.json_response({"words": list(words), "blocked": blocked})



def _channel(request: web.Request, bot: StudioBot) -> WeComChannel:
    channels = request.app[CHANNELS]
    if bot.name not in channels:
        env = bot_environ(os.environ, bot.name)
        if not env.get("WECOM_CORPID") or not env.get("WECOM_SECRET"):
            raise ChannelError("WECOM_CORPID and WECOM_SECRET are not set for this bot", retryable=False)
        try:
            channels[bot.name] = WeComChannel(env.get("WECOM_API_BASE"), env["WECOM_CORPID"], env["WECOM_SECRET"],
                                              env.get("WECOM_AGENTID"), bot.store)
        except PersonaError as exc:
            raise ChannelError(str(exc), retryable=False) from None
    channel: WeComChannel = channels[bot.name]
    return channel


HANDLE = Permission.HANDLE_CONVERSATIONS
ROUTES = [
    Route("GET", "/sidebar/{bot}", sidebar_page, HANDLE),
    Route("GET", "/api/sidebar/{bot}/config", config, HANDLE),
    Route("GET", "/api/sidebar/{bot}/library/{user}", library, HANDLE),
    Route("GET", "/api/sidebar/{bot}/content/{item}", content, HANDLE),
    Route("POST", "/api/sidebar/{bot}/check", check, HANDLE),
]
