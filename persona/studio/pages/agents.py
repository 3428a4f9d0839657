"""客服台: customers a person holds, their conversation, three suggested replies, send, close.

A page over :class:`persona.engine.desk.Desk` on each bot's runtime, and the same desk's JSON API
(``persona.service.agents``) under ``/api/agents/``, both behind the studio's session, CSRF
and role checks: only agents handle conversations (they see customers' messages in clear).
Every message sent here goes through the bot's gate and journal like one from ``persona agent
send``, and into the audit log with the agent's name.
"""

from __future__ import annotations

import logging
import os
import secrets

from aiohttp import web

from ...engine.desk import Desk, DeskError
from ...errors import KnowledgeError
from ...content.knowledge import Candidate
from ...service import agents as api
from ..audit import Action
from ..context import STUDIO, Studio, back_to
from ..render import render
from ..roles import Permission
from ..security import Route
from ..timeline import local

log = logging.getLogger(__name__)

NOTICES = {"sent": "已发送（经发送闸门，记录在客户轨迹中）。", "closed": "已交还机器人。"}


def desks(studio: Studio) -> dict[str, Desk]:
    """A desk per bot, with the bot's knowledge when it reads (a broken faq.yaml: no suggestions)."""
    out = {}
    for name, bot in studio.bots.items():
        try:
            out[name] = Desk.with_knowledge(bot.runtime, os.environ)
        except KnowledgeError as exc:
            log.warning("studio: %s has no suggestions: %s", name, exc)
            out[name] = Desk(bot.runtime)
    return out


def _desk(request: web.Request) -> Desk:
    name = request.match_info["bot"]
    request.app[STUDIO].bot(name)  # 404 for an unknown bot
    return request.app[api.DESKS][name]


async def desk_page(request: web.Request) -> web.StreamResponse:
    desk = _desk(request)
    user = request.query.get("user", "")
    lines: list[dict[str, str]] = []
    candidates: list[Candidate] = []
    error = request.query.get("error", "")
    if user:
        try:
            tz = request.app[STUDIO].bot(desk.name).cls.timezone
            lines = [{"when": local(line.t, tz), "who": line.who, "text": line.text}
                     for line in await desk.conversation(user, 60)]
            candidates = await desk.suggest(user)
        except DeskError as exc:
            error, user = str(exc), ""
    pick = request.query.get("pick", "")
    picked = candidates[int(pick)] if pick.isdigit() and int(pick) < len(candidates) else None
    return render(request, "agents.html", bot=desk.name, queue=await desk.queue(), user=user, lines=lines,
                  candidates=candidates, picked=picked, request_id=secrets.token_hex(8), error=error,
                  notice=NOTICES.get(request.query.get("notice", ""), ""))



async def send(request: web.Request) -> web.StreamResponse:
    desk, user = _desk(request), request.match_info["user"]
    form = await request.post()
    account = request["account"]
    text, faq, base = (str(form.get(k, "")) for k in ("text", "candidate_faq", "candidate_text"))
    try:
        result = await desk.send(user, account.name, text, candidate=(faq or "llm") if base else None,
                                 base=base or None, request_id=str(form.get("request_id", "")) or None)
    except DeskError as exc:
        raise back_to("agents", desk.name, user=user, error=exc.chinese or str(exc)) from None
    await request.app[STUDIO].audit.record(account.name, Action.MESSAGE_SENT, f"{desk.name}/{user}",
                                           gate=result.action, candidate=faq or None, edits=result.edits)
    raise back_to("agents", desk.name, user=user, notice="sent")


async def close(request: web.Request) -> web.StreamResponse:
    desk, user = _desk(request), request.match_info["user"]
    try:
        await desk.close(user, request["account"].name)
    except DeskError as exc:
        raise back_to("agents", desk.name, user=user, error=str(exc)) from None
    raise back_to("agents", desk.name, notice="closed")


def studio_identity(request: web.Request) -> str | None:
    """The signed-in account (the studio's guard has checked its session and role)."""
    account = request.get("account")
    return account.name if account is not None else None


HANDLE = Permission.HANDLE_CONVERSATIONS
ROUTES = [
    Route("GET", "/agents/{bot}", desk_page, HANDLE),
    Route("POST", "/agents/{bot}/{user}/send", send, HANDLE),
    Route("POST", "/agents/{bot}/{user}/close", close, HANDLE),
    *(Route(method, "/api/agents" + path, handler, HANDLE) for method, path, handler in api.ROUTES),
]
