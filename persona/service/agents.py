"""The agents' JSON API: the queue, a conversation, suggested replies, send and close.

A sub-application for a web app that authenticates its agents::

    site.add_subapp("/api/agents/", create_agent_app(desks, identify=agent_of_session))

or its handlers (:data:`ROUTES`) registered in the app itself, with ``app[DESKS]`` and
``app[IDENTIFY]`` set, as the studio does. ``identify(request)`` names the agent making a
request (None: 401); the default reads an ``X-Persona-Agent`` header, which only a trusted front
end may set, so ``persona serve`` does not mount this API by itself. Routes (``{bot}`` is the
persona's name)::

    GET  {bot}/queue                                 waiting customers, longest wait first
    GET  {bot}/conversations/{user}                  the customer, the handoff, the lines
    GET  {bot}/conversations/{user}/candidates[?text=]  three suggested replies
    POST {bot}/conversations/{user}/messages         {"text", "candidate": {"faq", "text"}, "id"}
    POST {bot}/conversations/{user}/close            back to the bot
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

from ..engine.desk import Desk, DeskError
from ..errors import ProtocolError
from . import jsonguard

Identify = Callable[[web.Request], str | None]
DESKS: web.AppKey[dict[str, Desk]] = web.AppKey("persona_desks", dict)
IDENTIFY: web.AppKey[Identify] = web.AppKey("persona_identify", object)  # type: ignore[arg-type]
#: the largest request body the API reads (a message is at most 2048 bytes of text)
MAX_BODY = 16 * 1024


def header_identity(request: web.Request) -> str | None:
    """The agent named by the ``X-Persona-Agent`` header (behind a trusted front end only)."""
    return request.headers.get("X-Persona-Agent") or None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_agent_app(desks: Iterable[Desk], *, identify: Identify = header_identity) -> web.Application:
    """The API over ``desks`` (one per bot)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[DESKS] = {desk.name: desk for desk in desks}
    app[IDENTIFY] = identify
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    return app


def _answers(handler: Handler) -> Handler:
    """Every refusal as JSON ``{"error": ...}`` with a status an agent page can act on."""
    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except DeskError as exc:
            return web.json_response({"error": str(exc), **({"zh": exc.chinese} if exc.chinese else {})},
                                     status=exc.status)
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": f"the request is over {MAX_BODY} bytes"}, status=413)
    return answer


def _desk(request: web.Request) -> Desk:
    desk = request.app[DESKS].get(request.match_info["bot"])
    if desk is None:
        raise DeskError(f"no bot named {request.match_info['bot'][:64]!r} here", 404)
    return desk


def _agent(request: web.Request) -> str:
    agent = request.app[IDENTIFY](request)
    if not agent:
        raise DeskError("who is the agent? (not signed in)", 401)
    return agent


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=jsonguard.loads)
    except ProtocolError as exc:  # not JSON, or nested past what json.loads can recurse
        raise DeskError(str(exc)) from None
    if not isinstance(body, dict):
        raise DeskError("the body must be a JSON object")
    return body


@_answers
async def queue(request: web.Request) -> web.Response:
    _agent(request)
    waiting = await _desk(request).queue()
    return web.json_response({"queue": [w.to_dict() for w in waiting]})


@_answers
async def conversation(request: web.Request) -> web.Response:
    _agent(request)
    desk, user = _desk(request), request.match_info["user"]
    customer = await desk.customer(user)
    held = customer.handoff
    lines = await desk.conversation(customer.id)
    return web.json_response({
        "user": customer.id, "state": customer.state, "tags": customer.tags,
        "handoff": None if held is None else {"since": int(held.since), "reason": held.reason,
                                              "agent": held.agent, "waiting": held.waiting is not None},
        "lines": [line.to_dict() for line in lines]})


@_answers
async def candidates(request: web.Request) -> web.Response:
    _agent(request)
    found = await _desk(request).suggest(request.match_info["user"], request.query.get("text"))
    return web.json_response({"candidates": [c.to_dict() for c in found]})


@_answers
async def send(request: web.Request) -> web.Response:
    agent = _agent(request)
    body = await _body(request)
    text, candidate, request_id = body.get("text"), body.get("candidate"), body.get("id")
    if not isinstance(text, str):
        raise DeskError('"text" must be the message (a string)')
    if candidate is not None and not (isinstance(candidate, dict) and isinstance(candidate.get("text"), str)):
        raise DeskError('"candidate" must be {"faq": ..., "text": ...} (the suggestion it started from) or null')
    if request_id is not None and not isinstance(request_id, str):
        raise DeskError('"id" must be a string (it makes a retried request send once)')
    faq = (candidate.get("faq") or "llm") if candidate else None
    result = await _desk(request).send(request.match_info["user"], agent, text, candidate=faq,
                                       base=candidate["text"] if candidate else None, request_id=request_id)
    return web.json_response(result.to_dict(), status=200 if result.action == "duplicate" else 202)


@_answers
async def close(request: web.Request) -> web.Response:
    agent = _agent(request)
    await _desk(request).close(request.match_info["user"], agent)
    return web.json_response({"closed": True})


#: (method, path, handler) of every route, relative to where the API is mounted
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/{bot}/queue", queue),
    ("GET", "/{bot}/conversations/{user}", conversation),
    ("GET", "/{bot}/conversations/{user}/candidates", candidates),
    ("POST", "/{bot}/conversations/{user}/messages", send),
    ("POST", "/{bot}/conversations/{user}/close", close),
]
