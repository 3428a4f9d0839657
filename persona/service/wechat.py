"""``GET/POST /wechat/{bot}``: URL verification and callbacks from Official Accounts and WeCom.

A callback's turn runs as a task the request waits for up to the deadline (WeChat gives up
after 5 s and retries). If the turn produced exactly one reply by then, the reply rides in
the HTTP answer; otherwise the answer is ``success`` and delivery sends everything through
the send APIs. :class:`~persona.engine.runtime.ReplySlot` makes the two sides agree on which, so a
message is never sent both ways and never neither. Retries are the runtime's business: the
input goes in as parsed, and a duplicate comes back with the first attempt's reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any

from aiohttp import web

from ..errors import ProtocolError, StoreUnavailable
from ..model.inputs import MediaMessage, PlatformEvent
from ..wechat.protocol import Callback, can_reply
from ..engine.outcome import Outcome, ReplySlot, Status
from ..engine.spool import SpoolError
from . import logs
from .context import Mounted, ServiceState, mounted_of, read_body, state_of

log = logging.getLogger(__name__)

#: Message types WeChat and WeCom document; any other is answered ``success`` and skipped.
KNOWN_MESSAGES = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link",
                            "file", "miniprogrampage"})

#: Event names (lower case, as the protocol layer names them) WeChat and WeCom document.
KNOWN_EVENTS = frozenset({
    # Official Account
    "subscribe", "unsubscribe", "scan", "location", "click", "view", "view_miniprogram",
    "scancode_push", "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album", "pic_weixin",
    "location_select", "templatesendjobfinish", "masssendjobfinish", "subscribe_msg_popup_event",
    "subscribe_msg_change_event", "subscribe_msg_sent_event", "subscribe_msg_reject",
    "kf_create_session", "kf_close_session", "kf_switch_session", "user_enter_tempsession",
    # WeCom apps and customer contact
    "enter_agent", "batch_job_result", "change_contact", "change_external_tag",
    "add_external_contact", "add_half_external_contact", "edit_external_contact",
    "del_external_contact", "del_follow_user", "transfer_fail", "customer_refused",
    "msg_audit_approved", "chat_create", "chat_update", "chat_dismiss", "chat_add_member",
    "chat_del_member",
})

SUCCESS_BODY = b"success"


async def verify(request: web.Request) -> web.Response:
    """The platform console's URL check: the echostr back, byte-exact, as text/plain."""
    mounted = mounted_of(request)
    started = time.perf_counter()
    platform = "-"
    try:
        endpoint = mounted.endpoint(request.query)
        platform = endpoint.platform
        echo = endpoint.verify_url(request.query)
    except ProtocolError as exc:
        _done(state_of(request), mounted, platform, "verify", "rejected", exc.status, started,
              reason=str(exc))
        return web.Response(status=exc.status, text=_reason(exc))
    _done(state_of(request), mounted, platform, "verify", "verified", 200, started)
    # body=, not text=: no charset parameter, no re-encoding surprises; exactly the echostr
    return web.Response(body=echo.encode("utf-8"), content_type="text/plain")


async def callback(request: web.Request) -> web.Response:
    """One callback: verify, parse, run the turn against the deadline, answer."""
    mounted = mounted_of(request)
    state = state_of(request)
    started = time.perf_counter()
    platform, kind, customer = "-", "invalid", None
    try:
        body = await read_body(request, state.max_body, state.read_timeout)
        endpoint = mounted.endpoint(request.query)
        platform = endpoint.platform
        parsed = endpoint.parse(request.query, body)
    except ProtocolError as exc:
        _done(state, mounted, platform, kind, "rejected", exc.status, started, reason=str(exc))
        return web.Response(status=exc.status, text=_reason(exc))
    kind, customer = _kind(parsed), parsed.input.user
    if not _known(mounted, parsed):
        _done(state, mounted, platform, kind, "unknown", 200, started, customer=customer,
              msg_type=parsed.msg_type)
        return _success()
    try:
        outcome = await _run(state, mounted, parsed, kind, platform, started)
    except StoreUnavailable as exc:
        _done(state, mounted, platform, kind, "unavailable", 503, started, customer=customer,
              reason=str(exc))
        return web.Response(status=503, text="store unavailable, retry later\n")
    except Exception as exc:  # nothing was committed: a 500 makes WeChat retry
        log.exception("bot=%s customer=%s callback failed", mounted.bot.name, customer)
        _done(state, mounted, platform, kind, "failed", 500, started, customer=customer,
              reason=type(exc).__name__)
        return web.Response(status=500, text="internal error\n")
    if outcome is None:
        _done(state, mounted, platform, kind, "deferred", 200, started, customer=customer)
        return _success()
    passive = outcome.passive is not None and outcome.status is not Status.DUPLICATE
    result = "passive" if passive else outcome.status
    if outcome.passive is None:
        _done(state, mounted, platform, kind, result, 200, started, customer=customer)
        return _success()
    answer = endpoint.reply(parsed, outcome.passive)  # the slot only claims what can_reply accepts
    _done(state, mounted, platform, kind, result, 200, started, customer=customer)
    return web.Response(body=answer.encode("utf-8"), content_type="application/xml")


async def _run(state: ServiceState, mounted: Mounted, parsed: Callback, kind: str, platform: str,
               started: float) -> Outcome | None:
    """The turn's outcome, or None when the deadline passed and delivery takes over."""
    runtime = mounted.bot.runtime
    # a system sender (WeCom contact events) cannot be answered passively: no slot at all
    slot = ReplySlot(accepts=partial(can_reply, parsed)) if parsed.replyable else None
    task = asyncio.ensure_future(runtime.handle(parsed.input, slot))
    try:
        done, _ = await asyncio.wait({task}, timeout=state.deadline)
    except asyncio.CancelledError:
        # the client went away: whatever the turn decides, nothing answers this request
        if slot is not None:
            slot.abandon()
        _detach(state, mounted, task, parsed, kind, platform, started)
        raise
    if done:
        return task.result()
    if slot is None or slot.abandon():
        # "success" ends WeChat's retries: keep the input on disk first, until the turn commits
        try:
            entry = state.spool.add(mounted.bot.name, parsed.input) if state.spool else None
        except SpoolError as exc:
            _detach(state, mounted, task, parsed, kind, platform, started, None)
            raise StoreUnavailable(f"{exc}; answering 503 so WeChat retries") from None
        _detach(state, mounted, task, parsed, kind, platform, started, entry)
        return None
    # the turn claimed the passive reply just before committing: its answer is on the way
    return await task


def _detach(state: ServiceState, mounted: Mounted, task: asyncio.Future[Outcome], parsed: Callback,
            kind: str, platform: str, started: float, entry: int | None = None) -> None:
    """Let a turn finish after its request was answered; report how it ended.

    ``entry`` is the input's place in the spool: cleared when the turn commits, handed to the
    replayer when it fails or is cancelled at shutdown.
    """
    state.background.add(task)  # type: ignore[arg-type]
    mounted.bot.metrics.inc("callbacks_deferred", persona=mounted.bot.name)
    spool = state.spool

    def finished(t: asyncio.Future[Outcome]) -> None:
        state.background.discard(t)
        ms = (time.perf_counter() - started) * 1000
        fields: dict[str, Any] = {"bot": mounted.bot.name, "platform": platform, "customer": parsed.input.user,
                                  "type": kind, "ms": ms}
        if t.cancelled():
            if spool is not None and entry is not None:
                spool.failed(entry, "cancelled at shutdown", 0.0)
            logs.access("turn", level=logging.WARNING, outcome="cancelled", spooled=entry, **fields)
            return
        exc = t.exception()
        if exc is not None:
            mounted.bot.metrics.inc("late_turn_failures", persona=mounted.bot.name)
            if spool is not None and entry is not None:
                spool.failed(entry, f"{type(exc).__name__}: {exc}", 0.0)
            logs.access("turn", level=logging.ERROR, outcome="failed", spooled=entry,
                        reason=f"{type(exc).__name__}: {exc}", **fields)
            return
        if spool is not None and entry is not None:
            spool.done(entry)
        logs.access("turn", outcome=t.result().status, **fields)

    task.add_done_callback(finished)


def _known(mounted: Mounted, parsed: Callback) -> bool:
    """False for message and event types neither the platform documents nor the bot routes."""
    inp = parsed.input
    routes = type(mounted.bot.persona).routes
    if isinstance(inp, PlatformEvent):
        return inp.name in KNOWN_EVENTS or inp.name in routes.wechat
    if isinstance(inp, MediaMessage):
        return inp.media_type in KNOWN_MESSAGES or any(
            inp.media_type in route.values for route, _ in routes.media)
    return True


def _kind(parsed: Callback) -> str:
    inp = parsed.input
    if isinstance(inp, PlatformEvent):
        return f"event:{inp.name}"
    return parsed.msg_type or inp.kind


def _success() -> web.Response:
    return web.Response(body=SUCCESS_BODY, content_type="text/plain")


def _reason(exc: ProtocolError) -> str:
    """What the caller is told: the status's meaning, never our internals."""
    return {400: "bad request", 403: "forbidden", 404: "not found", 408: "request timeout",
            413: "request body too large"}.get(exc.status, "refused") + "\n"


def _done(state: ServiceState, mounted: Mounted, platform: str, kind: str, outcome: str,
          status: int, started: float, *, customer: str | None = None,
          level: int | None = None, **extra: Any) -> None:
    """Count, time and log one callback, in one place so every path does all three."""
    seconds = time.perf_counter() - started
    name = mounted.bot.name
    label = kind if outcome not in ("unknown",) else "unknown"
    state.metrics.inc("callbacks", persona=name, platform=platform, type=label, outcome=outcome)
    state.metrics.observe("callback", seconds, persona=name, platform=platform)
    if level is None:
        level = logging.WARNING if status >= 400 else logging.INFO
    logs.access("callback", level=level, bot=name, platform=platform, customer=customer,
                type=kind, outcome=outcome, status=status, ms=seconds * 1000, **extra)
