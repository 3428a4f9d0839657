"""``POST /events/{bot}``: business events from the brand's own systems.

One event is a JSON object ``{"id", "user", "event", "data"}``; a batch is a JSON list of
them. The raw body is authenticated with ``X-Persona-Signature: sha256=<hex HMAC-SHA256>``
keyed by ``PERSONA_EVENT_SECRET`` before anything else looks at it. Each event is processed
(committed) before the answer, and ``id`` makes it idempotent: its dedupe key is
``biz:<id>`` for that user, so posting it again answers 200 with the first result and moves
nothing.

Answers::

    202  {"id", "status"[, "state"]}         processed now (status: done | unhandled)
    200  {"id", "status", "duplicate": true} seen before; status is the first result's
    500  {"id", "status": "error", "error"}  the handler raised: nothing it did was kept, the
                                             journal has the error, and the id stays free so
                                             the corrected event can be posted again
    400  {"error"}                           not JSON, nested over 32 deep, or a field missing or
                                             of the wrong type
    401  {"error"}                           signature missing or wrong (or no secret configured)
    408  {"error"}                           the body took over the read timeout (10 s) to arrive
    413  {"error"}                           body over the limit
    422  {"error", "fields"?}                the persona has no handler for this event name, or
                                             data does not match the event's declared fields
                                             (``fields`` names them; no handler ran)
    422  {"id", "status": "refused", "error", "fields"}
                                             the handler refused a value it was given (raised
                                             EventDataError: an empty coupon code, say):
                                             nothing kept, the id stays free
    503  {"error"}                           the store is unreachable; post it again later

A batch is validated whole before any item is processed: if an item is malformed (400) or
names an unknown event or carries data its declaration refuses (422, when every bad item is
one of these), nothing is processed and ``errors`` lists ``{"index", "error", "fields"?}`` per
bad item, so fixing and re-posting the batch is always safe. A valid batch answers
``{"results": [...]}`` in input order: 202 if any item was new, 200 if every item was a
duplicate, 500 if a handler raised for any item, 422 if the only failures are handlers refusing
their item's data (a failed item's result says which: ``"status": "error"`` or ``"refused"``
with ``fields``). Either way the other items are committed, and re-posting the batch after the
fix runs only the failed ones. If the store fails midway the answer is 503
with the results so far; those items are committed, and re-posting the whole batch is safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

from aiohttp import web

from ..errors import EventDataError, ProtocolError, StoreUnavailable
from ..model.inputs import BusinessEvent
from ..engine.outcome import Outcome, Status
from ..model.persona import Persona
from . import jsonguard, logs
from .context import Mounted, ServiceState, mounted_of, read_body, state_of

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Persona-Signature"
MAX_ID = 128
MAX_USER = 128
MAX_EVENT = 64


class Invalid(Exception):
    """One item of the request is unusable; ``status`` is 400 or 422; ``fields`` names the
    data fields that do not match the event's declaration."""

    def __init__(self, message: str, status: int = 400, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.fields = fields or []

    def payload(self) -> dict[str, Any]:
        return {"error": str(self), "fields": self.fields} if self.fields else {"error": str(self)}


def sign(body: bytes, secret: str | bytes) -> str:
    """The header value a sender puts on ``body``: ``sha256=<hex>`` (for clients and tests)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _authentic(mounted: Mounted, body: bytes, header: str | None) -> bool:
    if mounted.event_secret is None or not header:
        return False
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256":
        return False
    expected = hmac.new(mounted.event_secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


def _item(raw: Any, persona: type[Persona]) -> BusinessEvent:
    if not isinstance(raw, dict):
        raise Invalid("an event must be a JSON object")
    ident = raw.get("id")
    if isinstance(ident, int) and not isinstance(ident, bool):
        ident = str(ident)
    for name, value, limit in (("id", ident, MAX_ID), ("user", raw.get("user"), MAX_USER),
                               ("event", raw.get("event"), MAX_EVENT)):
        if not isinstance(value, str) or not value.strip():
            raise Invalid(f"field {name!r} is missing or not a non-empty string")
        if len(value) > limit:
            raise Invalid(f"field {name!r} is longer than {limit} characters")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Invalid("field 'data' must be a JSON object")
    name = raw["event"]
    if name not in persona.event_names():
        raise Invalid(f"this bot has no handler for event {name!r}", 422)
    try:
        persona.check_event(name, data)
    except EventDataError as exc:
        raise Invalid(str(exc), 422, exc.fields) from None
    return BusinessEvent(user=raw["user"], name=name, data=data, dedupe_key=f"biz:{ident}")


#: the answer to an event that did not go through (any other new one is 202)
_STATUS = {Status.DUPLICATE: 200, Status.ERROR: 500, Status.REFUSED: 422}


def _result(event: BusinessEvent, outcome: Outcome) -> dict[str, Any]:
    ident = (event.dedupe_key or "")[len("biz:"):]
    if outcome.status is Status.DUPLICATE:
        return {"id": ident, "status": outcome.first_status or Status.DONE, "duplicate": True}
    result: dict[str, Any] = {"id": ident, "status": outcome.status}
    if outcome.transitions:
        result["state"] = outcome.transitions[-1][2]
    if outcome.error:
        result["error"] = outcome.error
    if outcome.status is Status.REFUSED:
        result["fields"] = outcome.fields
    return result


def _json(status: int, payload: Any) -> web.Response:
    return web.json_response(payload, status=status,
                             dumps=lambda o: json.dumps(o, ensure_ascii=False, separators=(",", ":")))


async def post_event(request: web.Request) -> web.Response:
    """Authenticate, validate, process (commit), then answer with what happened."""
    mounted = mounted_of(request)
    state = state_of(request)
    started = time.perf_counter()
    try:
        status, payload, fields = await _handle(request, mounted, state)
    except Exception as exc:  # nothing answered 2xx, so the sender will post it again
        log.exception("bot=%s business event failed", mounted.bot.name)
        status, payload, fields = 500, {"error": "internal error"}, {
            "outcome": "failed", "reason": type(exc).__name__}
    seconds = time.perf_counter() - started
    outcome = fields.pop("outcome", "ok")
    state.metrics.inc("business_events", persona=mounted.bot.name, outcome=outcome)
    state.metrics.observe("business_event", seconds, persona=mounted.bot.name)
    logs.access("event", level=logging.WARNING if status >= 400 else logging.INFO,
                bot=mounted.bot.name, outcome=outcome, status=status, ms=seconds * 1000, **fields)
    return _json(status, payload)


async def _handle(request: web.Request, mounted: Mounted,
                  state: ServiceState) -> tuple[int, Any, dict[str, Any]]:
    try:
        body = await read_body(request, state.max_event_body, state.read_timeout)
    except ProtocolError as exc:
        return exc.status, {"error": str(exc)}, {"outcome": "too_large" if exc.status == 413 else "too_slow"}
    if mounted.event_secret is None:
        log.warning("bot=%s refused a business event: PERSONA_EVENT_SECRET is not set", mounted.bot.name)
        return 401, {"error": "events are disabled: PERSONA_EVENT_SECRET is not set"}, {
            "outcome": "unauthenticated"}
    if not _authentic(mounted, body, request.headers.get(SIGNATURE_HEADER)):
        return 401, {"error": f"{SIGNATURE_HEADER} is missing or does not match the body"}, {
            "outcome": "unauthenticated"}
    try:
        raw = jsonguard.loads(body)
    except ProtocolError as exc:
        return 400, {"error": str(exc)}, {"outcome": "invalid"}
    persona = type(mounted.bot.persona)
    if isinstance(raw, list):
        return await _batch(raw, persona, mounted, state)
    try:
        event = _item(raw, persona)
    except Invalid as exc:
        refused = "invalid" if exc.status == 400 else "bad_data" if exc.fields else "unknown_event"
        return exc.status, exc.payload(), {"outcome": refused}
    fields = {"customer": event.user, "event": event.name}
    try:
        outcome = await mounted.bot.runtime.handle(event)
    except StoreUnavailable as exc:
        return 503, {"error": "store unavailable; post the event again later"}, {
            **fields, "outcome": "unavailable", "reason": str(exc)}
    result = _result(event, outcome)
    status = _STATUS.get(outcome.status, 202)
    return status, result, {**fields, "outcome": outcome.status}


async def _batch(raw: list[Any], persona: type[Persona], mounted: Mounted,
                 state: ServiceState) -> tuple[int, Any, dict[str, Any]]:
    if not raw:
        return 400, {"error": "an empty batch"}, {"outcome": "invalid"}
    if len(raw) > state.max_batch:
        return 400, {"error": f"a batch holds at most {state.max_batch} events"}, {"outcome": "invalid"}
    items: list[BusinessEvent] = []
    errors: list[dict[str, Any]] = []
    statuses: set[int] = set()
    for index, entry in enumerate(raw):
        try:
            items.append(_item(entry, persona))
        except Invalid as exc:
            errors.append({"index": index, **exc.payload()})
            statuses.add(exc.status)
    if errors:
        status = 422 if statuses == {422} else 400
        return status, {"error": "nothing was processed", "errors": errors}, {
            "outcome": "invalid", "batch": len(raw)}
    results: list[dict[str, Any] | None] = [None] * len(items)
    # one user's events in the order given; different users side by side
    by_user: dict[str, list[int]] = {}
    for index, event in enumerate(items):
        by_user.setdefault(event.user, []).append(index)

    async def run(indexes: list[int]) -> None:
        for index in indexes:
            results[index] = _result(items[index], await mounted.bot.runtime.handle(items[index]))

    outcomes = await asyncio.gather(*(run(ix) for ix in by_user.values()), return_exceptions=True)
    failure = next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failure is not None:
        if not isinstance(failure, StoreUnavailable):
            raise failure
        done = [r for r in results if r is not None]
        return 503, {"error": "store unavailable; post the batch again later", "results": done}, {
            "outcome": "unavailable", "batch": len(items), "reason": str(failure)}
    done = [r for r in results if r is not None]
    failed = {r["status"] for r in done if not r.get("duplicate")} & {Status.ERROR, Status.REFUSED}
    if failed:  # a refusal alone is 422: posting the same batch again would be refused again
        worst = Status.ERROR if Status.ERROR in failed else Status.REFUSED
        return _STATUS[worst], {"results": results}, {"outcome": worst, "batch": len(items)}
    fresh = any(not r.get("duplicate") for r in done)
    return (202 if fresh else 200), {"results": results}, {
        "outcome": "accepted" if fresh else "duplicate", "batch": len(items)}
