"""``GET|POST /forms/{bot}/{form}``: a persona's forms, served to the customer a link is for.

``GET`` checks the link (:mod:`persona.model.formlinks`) and renders the form as a small mobile
page; ``POST`` checks the link and the page's token again, reads the answers, and either
renders the page again with the customer's values and a Chinese message per field, or hands
the runtime the form's business event for that customer (dedupe key ``form:<form>:<nonce>``:
a double submit is one event) and thanks them. Every answer is a Chinese page, never a
traceback::

    200  the form / thank you (also for a submission already received)
    400  the page's token is missing or not ours: the form again, values kept, to submit again
    403  the link is forged or altered          404  no such form
    410  the link has expired                   413  body over the limit
    422  answers that do not pass: the form again, values kept, a message per field
    500 / 503  the submission did not go through: the form again, values kept

There is no session and no cookie: the signed link is the credential, so there is nothing a
cross-site page could ride on (CSRF), and the responses forbid framing, referrers (the link is
in the address), caching and every outside resource (CSP ``default-src 'none'``).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

import jinja2
from aiohttp import web

from ..engine.outcome import Status
from ..errors import EventDataError, FormLinkError, ProtocolError, StoreUnavailable
from ..model.formlinks import FormLinks
from ..model.forms import Answers, Form, form_named
from ..model.inputs import BusinessEvent
from . import logs
from .context import Mounted, read_body, state_of

log = logging.getLogger(__name__)

#: a form's answers are a few hundred bytes; a body past this is not a customer typing
MAX_FORM_BODY = 16 * 1024
#: form fields a body may carry (the parser stops there)
MAX_FIELDS = 200

_PAGES = jinja2.Environment(loader=jinja2.PackageLoader("persona.service", "templates"),
                            autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _headers(style_nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (f"default-src 'none'; style-src 'nonce-{style_nonce}'; form-action 'self'; "
                                    "base-uri 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _page(template: str, status: int, **variables: Any) -> web.Response:
    nonce = secrets.token_urlsafe(12)
    html = _PAGES.get_template(template).render(style_nonce=nonce, **variables)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8",
                        headers=_headers(nonce))


def _notice(status: int, heading: str, text: str, mark: str = "⚠️") -> web.Response:
    return _page("notice.html", status, title=heading, heading=heading, text=text, mark=mark)


def _form_page(status: int, form: Form, links: FormLinks, mounted: Mounted, user: str,
               request: web.Request, values: dict[str, list[str]] | None = None,
               errors: dict[str, str] | None = None, banner: str = "") -> web.Response:
    return _page("form.html", status, title=form.title, form=form, action=request.path_qs,
                 token=links.token(mounted.bot.name, form.name, user), values=values or {},
                 errors=errors or {}, banner=banner)


def _refused(exc: FormLinkError) -> web.Response:
    if exc.expired:
        return _notice(410, "链接已过期", "这个链接已经过期了。请回到聊天里，向我们要一个新的链接。", "⌛")
    return _notice(403, "链接无效", "这个链接不完整或被改动过，无法打开。请回到聊天里，点我们发给你的链接。")


def _opened(request: web.Request) -> tuple[Mounted, Form, FormLinks, str] | web.Response:
    """The bot, form, signer and customer of a request's link, or the page refusing it."""
    mounted = state_of(request).bots.get(request.match_info["bot"])
    form = form_named(type(mounted.bot.persona), request.match_info["form"]) if mounted else None
    if mounted is None or form is None:
        return _notice(404, "没有这个表单", "这个链接指向的表单不存在。请回到聊天里，点我们发给你的链接。")
    links = mounted.bot.persona.form_links
    if links is None or not links.secret:
        log.warning("bot=%s form=%s refused: PERSONA_PUBLIC_URL and PERSONA_FORM_SECRET are not set",
                    mounted.bot.name, form.name)
        return _notice(403, "暂时无法填写", "这个表单暂时无法打开，请稍后再试。")
    try:
        user = links.verify(mounted.bot.name, form.name, request.query, mounted.bot.clock.now())
    except FormLinkError as exc:
        _count(request, mounted, form, "expired" if exc.expired else "forged")
        return _refused(exc)
    return mounted, form, links, user


async def show(request: web.Request) -> web.StreamResponse:
    """GET: the empty form for the customer the link names."""
    opened = _opened(request)
    if isinstance(opened, web.Response):
        return opened
    mounted, form, links, user = opened
    return _form_page(200, form, links, mounted, user, request)


async def submit(request: web.Request) -> web.StreamResponse:
    """POST: the answers, checked; a valid set becomes the form's event for the customer."""
    opened = _opened(request)
    if isinstance(opened, web.Response):
        return opened
    mounted, form, links, user = opened
    state = state_of(request)
    try:
        body = await read_body(request, MAX_FORM_BODY, state.read_timeout)
        posted = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ProtocolError as exc:
        _count(request, mounted, form, "too_large" if exc.status == 413 else "too_slow")
        return _notice(exc.status, "提交的内容太多了" if exc.status == 413 else "提交超时",
                       "请精简一下填写的内容，再提交一次。" if exc.status == 413 else "网络有点慢，请再提交一次。")
    except (UnicodeDecodeError, ValueError):
        _count(request, mounted, form, "invalid")
        return _notice(400, "无法读取提交的内容", "请重新打开链接，再填写一次。")
    nonce = links.nonce(mounted.bot.name, form.name, user, (posted.get("_token") or [""])[0])
    if nonce is None:
        _count(request, mounted, form, "stale")
        return _form_page(400, form, links, mounted, user, request, posted,
                          banner="页面已经过期，请确认填写的内容后再提交一次。")
    answers = form.read(posted)
    if not answers.valid:
        _count(request, mounted, form, "invalid")
        return _form_page(422, form, links, mounted, user, request, posted, answers.errors,
                          banner="有几项需要修改，请看标红的地方。")
    return await _deliver(request, mounted, form, links, user, posted, answers, nonce)


async def _deliver(request: web.Request, mounted: Mounted, form: Form, links: FormLinks, user: str,
                   posted: dict[str, list[str]], answers: Answers, nonce: str) -> web.StreamResponse:
    started = time.perf_counter()
    event = BusinessEvent(user=user, name=form.event, data=answers.data, dedupe_key=f"form:{form.name}:{nonce}")
    try:
        type(mounted.bot.persona).check_event(form.event, answers.data)
        outcome = await mounted.bot.runtime.handle(event)
    except EventDataError as exc:  # a declaration check at import makes this a bug in persona
        log.error("bot=%s form=%s: answers do not fit event %s: %s", mounted.bot.name, form.name, form.event, exc)
        outcome = None
    except StoreUnavailable as exc:
        log.warning("bot=%s form=%s: store unavailable: %s", mounted.bot.name, form.name, exc)
        _count(request, mounted, form, "unavailable")
        return _form_page(503, form, links, mounted, user, request, posted,
                          banner="系统有点忙，没能提交。你填写的内容还在，请稍后再点一次提交。")
    except Exception:  # the customer still gets a page, with what they typed
        log.exception("bot=%s form=%s: the submission failed", mounted.bot.name, form.name)
        outcome = None
    status = outcome.status if outcome is not None else Status.ERROR
    logs.access("form", bot=mounted.bot.name, form=form.name, customer=user, outcome=status,
                ms=(time.perf_counter() - started) * 1000)
    _count(request, mounted, form, str(status))
    if outcome is not None and outcome.status is Status.REFUSED:
        asked = {f.name for f in form.fields}
        errors = {name: "这一项的内容我们无法使用，请检查后再提交" for name in outcome.fields if name in asked}
        return _form_page(422, form, links, mounted, user, request, posted, errors,
                          banner="有几项需要修改，请看标红的地方。" if errors else "提交的内容我们暂时无法使用，请检查后再提交。")
    if outcome is None or outcome.status is Status.ERROR:
        return _form_page(500, form, links, mounted, user, request, posted,
                          banner="提交没有成功。你填写的内容还在，请稍后再点一次提交。")
    return _notice(200, "提交成功", form.thanks, "✅")


def _count(request: web.Request, mounted: Mounted, form: Form, outcome: str) -> None:
    state_of(request).metrics.inc("form_requests", persona=mounted.bot.name, form=form.name, outcome=outcome)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/forms/{bot}/{form}", show, allow_head=False)
    app.router.add_post("/forms/{bot}/{form}", submit)
