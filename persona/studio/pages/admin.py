"""Admin: accounts (add one, or give an existing name a new role or password) and the audit log."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from ...errors import AccountError
from ..audit import LABELS as ACTION_LABELS
from ..audit import Action
from ..context import STUDIO
from ..render import render
from ..roles import LABELS, Permission, Role
from ..security import Route


async def admin_page(request: web.Request, *, message: str = "", status: int = 200) -> web.Response:
    studio = request.app[STUDIO]
    accounts = await studio.accounts.all()
    entries = await studio.audit.recent(300)
    audit = [{"when": datetime.fromtimestamp(e.when).strftime("%Y-%m-%d %H:%M:%S"), "actor": e.actor,
              "action": str(e.action), "label": ACTION_LABELS[e.action], "target": e.target,
              "detail": ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))} for e in entries]
    return render(request, "admin.html", status=status, accounts=accounts, audit=audit, roles=list(Role),
                  labels=LABELS, message=message,
                  locked={a.name for a in accounts if await studio.accounts.locked(a.name)})


async def admin_get(request: web.Request) -> web.Response:
    return await admin_page(request)


async def add_account(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    form = await request.post()
    name, role, password = (str(form.get(k, "")).strip() if k != "password" else str(form.get(k, ""))
                            for k in ("name", "role", "password"))
    try:
        account = await studio.accounts.add(name, role, password)
    except AccountError as exc:
        return await admin_page(request, message=str(exc), status=400)
    await studio.audit.record(request["account"].name, Action.ADD_ACCOUNT, account.name, role=str(account.role))
    raise web.HTTPSeeOther("/admin")


ROUTES = [
    Route("GET", "/admin", admin_get, Permission.ADMIN),
    Route("POST", "/admin/accounts", add_account, Permission.ADMIN),
]
