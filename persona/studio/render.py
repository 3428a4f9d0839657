"""Server-rendered pages: one Jinja2 environment (autoescaped) over the package's templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from .roles import LABELS, Permission, allows

TEMPLATES = Path(__file__).parent / "templates"
ENV = web.AppKey("studio_jinja", jinja2.Environment)


def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    """``template`` with the signed-in account, its permissions and the CSRF token in scope."""
    from .context import STUDIO

    account = request.get("account")
    session = request.get("session")
    studio = request.app[STUDIO]
    can = {p.value: bool(account and allows(account.role, p)) for p in Permission}
    html = request.app[ENV].get_template(template).render(
        account=account, role_label=LABELS.get(account.role, "") if account else "",
        csrf=session.csrf if session else "", can=can, bots=list(studio.bots),
        path=request.path, **context)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
