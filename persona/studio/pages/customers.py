"""Customers: find one by id or a segment expression, read their timeline, opt them out or in.

Personal fields (phone numbers, names, addresses...) are masked for roles without
``see_personal``. Opting out by hand is a turn of its own through the runtime (a staff
business event), so it is journaled with the staff member's name and cancels marketing timers
exactly as the customer's own "退订" would; it also goes to the audit log.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web

from ...model.segments import parse_segment
from ...model.customer import Customer
from ...errors import PersonaError
from ...model.inputs import BusinessEvent
from ...engine.gate import STAFF_OPT_IN, STAFF_OPT_OUT
from ...engine.identity import find
from ...engine.merge import journal as merged_journal
from ..audit import Action
from ..context import STUDIO, StudioBot
from ..masking import mask_fields, mask_value
from ..render import render
from ..roles import Permission, allows
from ..security import Route
from ..timeline import local, rows

MAX_RESULTS = 200
#: how the page names the platforms a linked customer's ids are on
PLATFORM_NAMES = {"mp": "公众号", "wecom": "企业微信"}


async def search(request: web.Request) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    query = request.query.get("q", "").strip()
    found: list[Customer] = []
    error, total = "", 0
    if query and ":" not in query:
        known = await find(bot.store, query)  # any of a linked customer's ids finds them
        if known is not None:
            raise web.HTTPFound(f"/customers/{bot.name}/{known.id}")
        error = f"找不到客户 {query}（按标签查找请写 tag:名称=值 或 state:状态）"
    elif query:
        try:
            segments = parse_segment(query, bot.cls)
        except PersonaError as exc:
            error = str(exc)
        else:
            users = sorted(await bot.store.users() if segments == ["all"] else await bot.store.segment(*segments))
            total = len(users)
            for user in users[:MAX_RESULTS]:
                customer = await _load(bot, user)
                if customer is not None:
                    found.append(customer)
    personal = allows(request["account"].role, Permission.SEE_PERSONAL)
    results = [{"id": c.id, "state": c.state, "opted_out": c.opted_out,
                "tags": c.tags if personal else mask_fields(c.tags)} for c in found]
    return render(request, "customers.html", bot=bot.name, query=query, results=results, error=error,
                  total=total, limit=MAX_RESULTS, states=bot.cls.states)


async def customer_page(request: web.Request) -> web.StreamResponse:
    return render(request, "customer.html", **await _view(request), notice=request.query.get("notice", ""))


async def customer_json(request: web.Request) -> web.StreamResponse:
    """The same view as JSON, for scripts and other tools."""
    view = await _view(request)
    customer = view["customer"]
    return web.json_response({
        "bot": view["bot"], "id": customer.id, "state": customer.state, "opted_out": customer.opted_out,
        "tags": dict(view["tags"]), "attrs": dict(view["attrs"]), "timers": view["timers"], "tz": view["tz"],
        "ids": view["ids"], "unionid": customer.unionid or None,
        "timeline": [{"when": r.when, "kind": str(r.kind), "text": r.text, "decision": r.decision,
                      "detail": r.detail} for r in view["rows"]]}, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def _view(request: web.Request) -> dict[str, Any]:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    user = request.match_info["user"]
    customer = await find(bot.store, user)
    if customer is None:
        raise web.HTTPNotFound(text=f"no customer {user!r} in {bot.name}")
    if customer.id != user:  # an id linked to another customer: theirs is the page
        raise web.HTTPFound(f"{request.path.rsplit('/', 1)[0]}/{customer.id}")
    personal = allows(request["account"].role, Permission.SEE_PERSONAL)
    tz = str(customer.attrs.get("tz") or bot.cls.timezone)
    pending = await bot.store.pending_timers(user)
    journal = await merged_journal(bot.store, customer, bot.cls.journal_cap)
    timers = []
    for name in sorted(set(pending) | set(customer.timers), key=lambda n: pending.get(n, 0)):
        timer = customer.timers.get(name)
        due = pending.get(name, timer.due if timer else None)
        timers.append({"name": name, "due": local(due, tz), "state": timer.state if timer else None})
    attrs = customer.attrs if personal else {k: mask_value(k, v) for k, v in customer.attrs.items()}
    attrs = {k: local(v, tz) if k.endswith("_at") and isinstance(v, (int, float)) else v for k, v in attrs.items()}
    tags = customer.tags if personal else mask_fields(customer.tags)
    return {"bot": bot.name, "customer": customer, "tz": tz, "timers": timers, "attrs": sorted(attrs.items()),
            "tags": sorted(tags.items()), "personal": personal, "first_seen": local(customer.first_seen, tz),
            "last_seen": local(customer.last_seen, tz), "rows": rows(journal, tz, personal=personal),
            "ids": _ids(customer)}


def _ids(customer: Customer) -> list[dict[str, Any]]:
    """A linked customer's ids, the current conversation's first (empty: known by one id)."""
    current = customer.address()[0]
    return [{"id": i, "platform": PLATFORM_NAMES.get(p, p), "current": i == current}
            for i, p in sorted(customer.ids.items(), key=lambda pair: (pair[0] != current, pair[0]))]


async def opt_out(request: web.Request) -> web.StreamResponse:
    return await _opt(request, out=True)


async def opt_in(request: web.Request) -> web.StreamResponse:
    return await _opt(request, out=False)


async def _opt(request: web.Request, *, out: bool) -> web.StreamResponse:
    studio = request.app[STUDIO]
    bot = studio.bot(request.match_info["bot"])
    user = request.match_info["user"]
    staff = request["account"].name
    before = await _load(bot, user)
    if before is None:
        raise web.HTTPNotFound(text=f"no customer {user!r} in {bot.name}")
    if before.opted_out == out:
        notice = "already_out" if out else "already_in"
    else:
        event = BusinessEvent(user=user, name=STAFF_OPT_OUT if out else STAFF_OPT_IN, data={"by": staff},
                              dedupe_key=f"staff:{secrets.token_hex(8)}")
        await bot.runtime.handle(event)
        await studio.audit.record(staff, Action.OPT_OUT if out else Action.OPT_IN, f"{bot.name}/{user}")
        notice = "opted_out" if out else "opted_in"
    raise web.HTTPSeeOther(f"/customers/{bot.name}/{user}?notice={notice}")


async def _load(bot: StudioBot, user: str) -> Customer | None:
    loaded = await bot.store.load(user)
    if loaded.record is None:
        return None
    return Customer.load(user, loaded.record, loaded.version)


ROUTES = [
    Route("GET", "/customers/{bot}", search, Permission.VIEW_CUSTOMERS),
    Route("GET", "/customers/{bot}/{user}", customer_page, Permission.VIEW_CUSTOMERS),
    Route("GET", "/api/customers/{bot}/{user}", customer_json, Permission.VIEW_CUSTOMERS),
    Route("POST", "/customers/{bot}/{user}/opt-out", opt_out, Permission.OPT_OUT),
    Route("POST", "/customers/{bot}/{user}/opt-in", opt_in, Permission.OPT_OUT),
]
