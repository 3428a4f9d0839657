"""The rules every studio request passes before its handler runs, in one place.

1. Who: the session cookie names a server-side session; no session means 401 for ``/api/``
   and a redirect to the login page for pages.
2. CSRF: every state-changing request (not GET/HEAD/OPTIONS) carries the session's token, in
   the ``csrf_token`` form field or the ``X-CSRF-Token`` header; the login form, which comes
   before any session, carries a token bound to a cookie of its own.
3. May they: each route names the permission it needs; a role without it gets 403 and the
   refusal goes to the audit log.

Handlers are registered through :func:`add_routes` with that permission, so a route cannot be
added without saying who may use it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from .audit import Action
from .context import STUDIO
from .roles import Permission, allows

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
LOGIN_CSRF_COOKIE = "persona_studio_login"


@dataclass(frozen=True, slots=True)
class Route:
    """One URL of the studio and who may use it (``permission=None``: any signed-in account)."""

    method: str
    path: str
    handler: Handler
    permission: Permission | None = None
    public: bool = False     # reachable without a session (the login page)
    login_form: bool = False  # CSRF-checked against the login cookie, not a session


ROUTES = web.AppKey("studio_routes", dict)


def add_routes(app: web.Application, routes: Sequence[Route]) -> None:
    table: dict[Handler, Route] = app.setdefault(ROUTES, {})
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        table[route.handler] = route


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    """A refusal the caller can read: JSON for the API, a page for people."""
    if is_api(request):
        return web.json_response({"error": message}, status=status)
    from .render import render

    return render(request, "error.html", status=status, status_code=status, message=message)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    studio = request.app[STUDIO]
    route = request.app[ROUTES].get(request.match_info.handler)
    session = await studio.sessions.get(request.cookies.get("persona_studio"))
    account = await studio.accounts.get(session.user) if session else None
    if account is not None:
        request["session"], request["account"] = session, account
    if route is None:  # static files, 404s; nothing under /api/ is told apart without a session
        if is_api(request) and account is None:
            return web.json_response({"error": "not signed in"}, status=401)
        return await handler(request)
    if not route.public and account is None:
        if is_api(request):
            return web.json_response({"error": "not signed in"}, status=401)
        raise web.HTTPFound("/login?next=" + quote(request.path_qs, safe=""))
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, route):
        log.warning("studio: CSRF token missing or wrong for %s %s", request.method, request.path)
        return refuse(request, 403, "请求缺少有效的 CSRF 令牌，请刷新页面后重试")
    if route.permission is not None and account is not None and not allows(account.role, route.permission):
        await studio.audit.record(account.name, Action.DENIED, request.path, method=request.method,
                                  needs=str(route.permission))
        return refuse(request, 403, "你的角色没有这个权限")
    return await handler(request)


async def _csrf_ok(request: web.Request, route: Route) -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if route.login_form:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    else:
        session = request.get("session")
        expected = session.csrf if session else None
    return bool(sent and expected and hmac.compare_digest(sent.encode(), expected.encode()))


CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'; object-src 'none'")


@web.middleware
async def headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Browser-side hardening on every answer; pages are never cached (they hold customer data)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _harden(request, response)
        raise
    _harden(request, response)
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
