"""``GET /c/{bot}/{channel}``: a channel code's landing, the one address a brand prints.

Each visit is handed the QR picture of the staff member whose turn it is (a redirect to it:
:func:`persona.engine.acquisition.pick` reads the store, so every process agrees on the turn
and on the daily caps). When every member of the channel is at the cap for today, the visitor
reads, in Chinese, that today's places are taken and when to come back; nobody is overloaded
and the refusal is logged and counted (``persona_channel_full_total{persona,channel}``). An
Official Account code leads to its QR picture. A channel without a code answers 404.
"""

from __future__ import annotations

import html
import logging

from aiohttp import web

from ..engine import acquisition, codes
from ..errors import StoreUnavailable
from .context import mounted_of

log = logging.getLogger(__name__)

PAGE = ("<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>"
        "<body style=\"font-family: sans-serif; text-align: center; padding: 3em 1em\"><h1>{title}</h1>"
        "<p>{text}</p></body></html>")


def _page(status: int, title: str, text: str) -> web.Response:
    return web.Response(status=status, text=PAGE.format(title=html.escape(title), text=html.escape(text)),
                        content_type="text/html", headers={"Cache-Control": "no-store"})


async def landing(request: web.Request) -> web.StreamResponse:
    mounted = mounted_of(request)
    bot, channel = mounted.bot, request.match_info["channel"]
    try:
        code = await codes.find(bot.store, channel)
        if code is None:
            return _page(404, "二维码已失效", "这个渠道码已经停用了，请向店员或客服索取新的二维码。")
        if code.platform is codes.Platform.OFFICIAL:
            raise web.HTTPFound(code.image, headers={"Cache-Control": "no-store"})
        staff = await acquisition.pick(bot.store, code, bot.clock.now(), bot.persona.timezone)
    except StoreUnavailable as exc:
        log.warning("bot=%s channel=%s landing: the store is unavailable: %s", bot.name, channel, exc)
        return _page(503, "请稍后再试", "系统有点忙，请过一分钟再扫一次。")
    if staff is None:
        log.warning("bot=%s channel=%s: every staff member is at today's cap of %d adds", bot.name, channel, code.cap)
        bot.metrics.inc("channel_full", persona=bot.name, channel=channel)
        return _page(200, "今天的名额已满", "今天添加的朋友太多啦，请明天再来扫码，我们等你。")
    raise web.HTTPFound(code.picture(staff), headers={"Cache-Control": "no-store"})
