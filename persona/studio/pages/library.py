"""内容库: the writers keep the texts, pictures, link cards and mini-program cards agents put into a WeCom
chat from the sidebar (:mod:`persona.content.library`). Everyone who reads scripts sees it;
who publishes scripts changes it, and each change goes into the audit log."""

from __future__ import annotations


from aiohttp import web

from ...content import library
from ...errors import StoreUnavailable
from ...model.wording import ZH
from ..audit import Action
from ..context import STUDIO, back_to, requested_bot
from ..render import render
from ..roles import Permission
from ..security import Route

NOTICES = {"added": "已加入内容库。", "removed": "已从内容库删除。"}
KIND_NAMES = {library.Kind.TEXT: "文字", library.Kind.IMAGE: "图片", library.Kind.LINK: "链接卡片",
              library.Kind.MINIPROGRAM: "小程序卡片"}


async def library_page(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    error = request.query.get("error", "")
    try:
        items = await library.load(bot.store, bot.cls)
    except library.LibraryError as exc:
        items, error = [], exc.text(ZH)
    return render(request, "library.html", bot=bot.name, items=items, kinds=KIND_NAMES, error=error,
                  notice=NOTICES.get(request.query.get("notice", ""), ""))


async def add(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    form = await request.post()
    try:
        new = library.item({k: str(v) for k, v in form.items() if k != "csrf_token"}, bot.cls)
        items = await library.load(bot.store, bot.cls)
        await library.save(bot.store, [*items, new])
    except library.LibraryError as exc:
        raise back_to("library", bot.name, error=f"没有保存：{exc.text(ZH)}") from None
    except StoreUnavailable as exc:
        raise back_to("library", bot.name, error=f"没有保存：存储暂时不可用（{exc}）") from None
    await request.app[STUDIO].audit.record(request["account"].name, Action.LIBRARY, f"{bot.name}/{new.id}",
                                           added=new.title)
    raise back_to("library", bot.name, notice="added")


async def remove(request: web.Request) -> web.StreamResponse:
    bot = requested_bot(request)
    gone = request.match_info["item"]
    items = await library.load(bot.store, bot.cls)
    await library.save(bot.store, [i for i in items if i.id != gone])
    await request.app[STUDIO].audit.record(request["account"].name, Action.LIBRARY, f"{bot.name}/{gone}",
                                           removed=gone)
    raise back_to("library", bot.name, notice="removed")


async def items_api(request: web.Request) -> web.StreamResponse:
    """The library for the sidebar: each item's title and the message ``sendChatMessage`` takes;
    an image's message comes from ``fetch`` when an agent sends it (it is uploaded to WeCom then)."""
    bot = requested_bot(request)
    items = await library.load(bot.store, bot.cls)
    return web.json_response({"items": [
        {"id": i.id, "kind": str(i.kind), "title": i.title,
         **({"fetch": f"/api/sidebar/{bot.name}/content/{i.id}"} if i.kind is library.Kind.IMAGE
            else {"message": i.chat_message()})} for i in items]})




ROUTES = [
    Route("GET", "/library/{bot}", library_page, Permission.VIEW_SCRIPTS),
    Route("POST", "/library/{bot}/add", add, Permission.PUBLISH_SCRIPTS),
    Route("POST", "/library/{bot}/{item}/remove", remove, Permission.PUBLISH_SCRIPTS),
    Route("GET", "/api/library/{bot}", items_api, Permission.VIEW_SCRIPTS),
]
