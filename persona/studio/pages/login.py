"""Signing in and out. Failed attempts count towards the lockout in :mod:`..accounts`."""

from __future__ import annotations

import secrets

from aiohttp import web

from ..accounts import LOCK_SECONDS, LoginResult
from ..audit import Action
from ..context import STUDIO
from ..render import render
from ..roles import Permission, allows
from ..security import LOGIN_CSRF_COOKIE, Route
from ..sessions import COOKIE, TTL


def _next(request: web.Request, raw: str | None) -> str:
    """Only a path on this site: never an open redirect."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


async def login_page(request: web.Request, *, message: str = "", status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status, login_csrf=token, message=message,
                      next=_next(request, request.query.get("next")))
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login",
                        secure=request.secure)
    return response


async def login_get(request: web.Request) -> web.Response:
    return await login_page(request)


async def login_post(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    result, account = await studio.accounts.authenticate(name, password)
    if result is LoginResult.LOCKED:
        await studio.audit.record(name or "?", Action.LOCKED, name, ip=request.remote or "")
        return await login_page(request, status=429,
                                message=f"登录失败次数过多，账户已锁定 {LOCK_SECONDS // 60} 分钟，请稍后再试")
    if result is LoginResult.WRONG or account is None:
        await studio.audit.record(name or "?", Action.LOGIN_FAILED, name, ip=request.remote or "")
        return await login_page(request, status=401, message="用户名或密码不正确")
    session = await studio.sessions.start(account.name)
    await studio.audit.record(account.name, Action.LOGIN, account.name, ip=request.remote or "")
    response = web.HTTPSeeOther(_next(request, str(form.get("next", ""))))
    response.set_cookie(COOKIE, session.token, httponly=True, samesite="Strict", path="/", max_age=TTL,
                        secure=request.secure)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    session = request["session"]
    await studio.sessions.end(session.token)
    await studio.audit.record(request["account"].name, Action.LOGOUT, request["account"].name)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    return response


async def home(request: web.Request) -> web.StreamResponse:
    """The first page this role uses, for the first bot."""
    studio = request.app[STUDIO]
    bot = next(iter(studio.bots))
    role = request["account"].role
    if allows(role, Permission.PUBLISH_SCRIPTS):
        raise web.HTTPFound(f"/scripts/{bot}")
    if allows(role, Permission.VIEW_CUSTOMERS):
        raise web.HTTPFound(f"/customers/{bot}")
    raise web.HTTPFound(f"/bots/{bot}")


ROUTES = [
    Route("GET", "/login", login_get, public=True),
    Route("POST", "/login", login_post, public=True, login_form=True),
    Route("POST", "/logout", logout),
    Route("GET", "/", home),
]
