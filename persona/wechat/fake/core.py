"""What the fakes of both platforms share: accounts, access tokens (a new one knocks out the
last, as the platforms do), injected faults, the log of accepted messages, the aiohttp app.

Callers that send the ``X-Persona-Messages`` trace header (our channels do, towards any host
but the real ones) are recorded one entry per persona message, with its script and address;
others one entry per bubble the request shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import socket
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Self

from aiohttp import web

TOKEN_TTL = 7200
WELCOME_CODE_TTL = 20.0
CLIENT_MSG_ID_TTL = 600.0  # a template message's client_msg_id: one message per openid within it
STAFF_PER_MINUTE = 30
TEXT_LIMIT_BYTES = 2048

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41051: "externaluser has started chatting",
    41096: "invalid welcome_code",
    42001: "access_token expired",
    44002: "empty post data",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    60020: "not allow to access from your ip",
    82001: "All touser invalid",
    86003: "chat not found",
    95000: "invalid open_kfid",
}

#: Paths whose messages are recorded, and the name a test filters them by.
MESSAGE_APIS = {
    "/cgi-bin/message/custom/send": "custom",
    "/cgi-bin/message/template/send": "template",
    "/cgi-bin/externalcontact/send_welcome_msg": "welcome",
    "/cgi-bin/externalcontact/add_msg_template": "mass",
    "/cgi-bin/kf/send_msg": "kf",
    "/cgi-bin/message/send": "app",
    "/cgi-bin/appchat/send": "appchat",
}
TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/gettoken")


#: The ``via`` a message had, by the API that carried it.
VIA = {"custom": "kf", "template": "template", "welcome": "welcome", "mass": "mass", "kf": "kf", "app": "app",
       "appchat": "group"}
#: Local fakes are told which script and kind each bubble came from (the real hosts are not).
TRACE_HEADER = "X-Persona-Messages"


@dataclass(slots=True)
class Sent:
    """One message the fake accepted, as its recipient sees it.

    ``to`` is the persona address (a customer's bare id, ``staff:<userid>``, ``group:<chat>``
    or ``staff_group:<chat>``); ``target`` the id the platform request named. ``kind`` is the
    persona kind (text, image, news, link, miniprogram; ``template`` for template messages),
    ``fields`` the card's data (title, description, url, picurl, media_id, appid, pagepath;
    template_id and data). A welcome or mass call carrying several messages (a text and two
    cards) is recorded once per message, all sharing one ``msgid`` and ``body`` (the request).
    ``script`` comes from the sender's trace header, when it sent one.
    """

    api: str  # custom | template | welcome | mass | kf | app | appchat
    to: str
    kind: str
    text: str
    fields: dict[str, Any]
    body: dict[str, Any]
    time: float
    msgid: str
    target: str = ""
    pending: bool = False  # a mass message the staff member has not confirmed yet
    script: str = ""
    via: str = ""

    @property
    def at(self) -> float:
        return self.time


class MessageLog(list):  # type: ignore[type-arg]
    """Every accepted message, oldest first; call it to filter: ``fake.messages(api=..., to=...)``."""

    def __call__(self, api: str | None = None, to: str | None = None) -> list[Sent]:
        """Filter by API and by recipient (the persona address or the platform id)."""
        return [s for s in self if (api is None or s.api == api) and (to is None or to in (s.to, s.target))]


@dataclass(slots=True)
class _Fault:
    kind: str  # errcode | http | disconnect | stall
    times: int
    path: str | None
    errcode: int = 0
    errmsg: str = ""
    status: int = 500
    seconds: float = 0.0


@dataclass(slots=True)
class _Token:
    owner: tuple[str, ...]
    expires_at: float


@dataclass(slots=True)
class _WelcomeCode:
    user: str
    staff: str
    expires_at: float
    used: bool = False


@dataclass
class FakeCore:
    """What both platforms' fakes share: accounts, tokens, injected faults, the message log, the
    aiohttp app and its server. :mod:`.official` and :mod:`.wecom` add each platform's endpoints
    through :meth:`_routes`; :class:`~persona.wechat.fake.FakeWeChat` is both.

    ``clock`` is a callable returning epoch seconds: pass a fake clock's ``now`` so token and
    welcome-code expiry follow the test's time.
    """

    clock: Callable[[], float] = field(default=time.time, repr=False)
    appid: str = "wx00000000sim"
    secret: str = "sim-secret"
    corpid: str = "ww00000000sim"
    corpsecret: str = "sim-wecom-secret"
    agentid: int = 1000002
    token_ttl: int = TOKEN_TTL
    staff_per_minute: int = STAFF_PER_MINUTE
    #: False: a welcome code nobody registered counts as issued at its first use (simulations
    #: whose add events never reached the fake); True: it is refused with 41096.
    strict_welcome_codes: bool = False
    #: Called with every message accepted, as it is recorded (``persona fakeapi`` prints them).
    on_message: Callable[[Sent], None] | None = field(default=None, repr=False)

    messages: MessageLog = field(default_factory=MessageLog, repr=False)
    #: staff messages WeCom accepted with errcode 0 but never delivered (over 30 a minute).
    dropped: list[Sent] = field(default_factory=list, repr=False)
    #: every API call: (path, errcode or HTTP status answered); token calls included.
    calls: list[tuple[str, int]] = field(default_factory=list, repr=False)
    #: JS-SDK agent_config tickets granted, by corpid
    tickets: dict[str, str] = field(default_factory=dict, repr=False)
    #: template sends asked for, by (openid, client_msg_id), repeats WeChat sent once included
    template_asks: Counter[tuple[str, str]] = field(default_factory=Counter, repr=False)
    media: dict[str, tuple[str, str, bytes]] = field(default_factory=dict, repr=False)  # id -> (type, name, data)
    token_grants: list[tuple[str, float]] = field(default_factory=list, repr=False)  # (platform, time)

    def __post_init__(self) -> None:
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_Fault] = []
        self._welcome: dict[str, _WelcomeCode] = {}
        self._template_keys: dict[tuple[str, str], tuple[int, float]] = {}  # (openid, client_msg_id)
        #: customer groups (chat_id -> owner's userid) ``groupchat/get`` knows; any other chat
        #: belongs to ``default_group_owner`` (None: errcode 86003, chat not found)
        self.groups: dict[str, str] = {}
        self.default_group_owner: str | None = "owner"
        #: when each mass message was confirmed by its sender (msgid -> time)
        self._confirmed: dict[str, float] = {}
        self._staff_log: dict[str, list[float]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._down = False
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._port = 0
        self._host = "127.0.0.1"
        self.base_url = ""

    # -- what a test reads -----------------------------------------------------------------
    @property
    def sent(self) -> MessageLog:
        """The same list as :attr:`messages`."""
        return self.messages

    def token_requests(self, platform: str | None = None) -> int:
        """How many access tokens were granted (``mp`` or ``wecom``)."""
        return sum(1 for p, _ in self.token_grants if platform is None or p == platform)

    # -- faults ----------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token granted so far answers 42001 from now on."""
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, self.clock() - 1)

    def invalidate_tokens(self) -> None:
        """Every token granted so far answers 40001 (as after a refresh elsewhere)."""
        self._tokens.clear()

    def fail(self, errcode: int, times: int = 1, *, path: str | None = None, errmsg: str = "") -> None:
        """Answer the next ``times`` calls (to ``path``, or any send API) with ``errcode``.

        Token endpoints are only affected when ``path`` names them.
        """
        self._faults.append(_Fault("errcode", times, path, errcode=errcode, errmsg=errmsg or ERRMSG.get(errcode, "")))

    def http_error(self, status: int = 500, times: int = 1, *, path: str | None = None) -> None:
        """Answer the next ``times`` calls with an HTTP error page instead of JSON."""
        self._faults.append(_Fault("http", times, path, status=status))

    def disconnect(self, times: int = 1, *, path: str | None = None) -> None:
        """Close the connection without answering the next ``times`` calls."""
        self._faults.append(_Fault("disconnect", times, path))

    def stall(self, seconds: float, times: int = 1, *, path: str | None = None) -> None:
        """Wait ``seconds`` (real time) before answering the next ``times`` calls (timeouts)."""
        self._faults.append(_Fault("stall", times, path, seconds=seconds))

    def clear_faults(self) -> None:
        self._faults.clear()

    async def down(self) -> None:
        """An outage: stop listening (connection refused) and drop calls on open connections."""
        self._down = True
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def up(self) -> None:
        """The outage is over: listen again on the same port."""
        self._down = False
        if self._runner is not None and self._site is None:
            self._site = web.SockSite(self._runner, _listen(self._port, self._host))
            await self._site.start()

    # -- serving ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        """The aiohttp application (mount it yourself, or use ``async with``)."""
        app = web.Application(middlewares=[self._faults_middleware], client_max_size=20 * 1024 * 1024)
        r = app.router
        r.add_post("/cgi-bin/media/upload", self._upload)
        r.add_get("/fake/messages", self._list_messages)
        self._routes(r)
        return app

    def _routes(self, router: web.UrlDispatcher) -> None:
        """Each platform's fake adds its endpoints here (and calls ``super()._routes``)."""

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve on ``host``:``port`` (default: loopback, a free port); returns the base URL.

        A port already taken raises ``OSError``."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        try:
            sock = _listen(port, host)
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self._host, self._port = host, sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        self.base_url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self._port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = self._site = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- plumbing --------------------------------------------------------------------------
    @web.middleware
    async def _faults_middleware(self, request: web.Request,
                                 handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        path = request.path
        if self._down:
            self.calls.append((path, 0))
            return _hang_up(request)
        for fault in self._faults:
            if fault.times <= 0:
                continue
            if fault.path is None and path not in MESSAGE_APIS and path != "/cgi-bin/media/upload":
                continue
            if fault.path is not None and fault.path != path:
                continue
            fault.times -= 1
            if fault.kind == "stall":
                await asyncio.sleep(fault.seconds)
                break
            if fault.kind == "disconnect":
                self.calls.append((path, 0))
                return _hang_up(request)
            if fault.kind == "http":
                self.calls.append((path, fault.status))
                return web.Response(status=fault.status, text="<html>502 Bad Gateway</html>",
                                    content_type="text/html")
            self.calls.append((path, fault.errcode))
            return _error(fault.errcode, fault.errmsg)
        self._faults = [f for f in self._faults if f.times > 0]
        response = await handler(request)
        code = 0
        if (isinstance(response, web.Response) and isinstance(response.body, bytes)
                and response.content_type == "application/json"):
            code = int(json.loads(response.body).get("errcode", 0))
        self.calls.append((path, code))
        return response

    def _grant(self, owner: tuple[str, ...]) -> web.Response:
        for token, held in list(self._tokens.items()):
            if held.owner == owner:  # the new token replaces the old one at once
                del self._tokens[token]
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Token(owner, self.clock() + self.token_ttl)
        self.token_grants.append((owner[0], self.clock()))
        return _ok(access_token=token, expires_in=self.token_ttl)

    def _check_token(self, request: web.Request, platform: str | None) -> web.Response | None:
        token = request.query.get("access_token")
        if not token:
            return _error(41001)
        held = self._tokens.get(token)
        if held is None or (platform is not None and held.owner[0] != platform):
            return _error(40001)
        if self.clock() >= held.expires_at:
            return _error(42001)
        return None

    async def _json(self, request: web.Request) -> dict[str, Any] | web.Response:
        raw = await request.read()
        if not raw:
            return _error(44002)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(47001)
        if not isinstance(body, dict):
            return _error(47001)
        return body

    async def _guarded(self, request: web.Request, platform: str) -> dict[str, Any] | web.Response:
        denied = self._check_token(request, platform)
        if denied is not None:
            return denied
        return await self._json(request)

    def _record(self, request: web.Request, api: str, target: str, body: dict[str, Any], *,
                pending: bool = False, keep: bool = True) -> list[Sent]:
        msgid = f"{api}-{next(self._ids)}"
        bubbles = _bubbles(api, body)
        traces = _traces(request)
        records = []
        if not traces:  # a caller that does not say which message is which: one record per bubble
            prefix = {"app": "staff:", "appchat": "group:"}.get(api, "")
            traces = [{"parts": [i], "to": prefix + target} for i in range(len(bubbles))]
        for trace in traces:
            parts = [bubbles[i] for i in trace.get("parts", []) if isinstance(i, int) and 0 <= i < len(bubbles)]
            span = trace.get("text")
            if isinstance(span, list) and len(span) == 2 and bubbles and bubbles[0][0] == "text":
                text = bubbles[0][1][span[0]:span[1]]
            else:
                text = parts[0][1] if parts else ""
            kind = "template" if api == "template" else str(trace.get("kind") or (parts[0][0] if parts else "text"))
            fields = dict(parts[0][2]) if parts else {}
            records.append(Sent(api, str(trace.get("to") or target), kind, text, fields, body, self.clock(), msgid,
                                target, pending, str(trace.get("script", "")), VIA[api]))
        if keep:
            self.messages.extend(records)
            if self.on_message is not None:
                for record in records:
                    self.on_message(record)
        return records

    async def _list_messages(self, request: web.Request) -> web.Response:
        """``GET /fake/messages``: what was accepted so far, for a person or a script to read."""
        return web.json_response({"messages": [
            {"api": s.api, "to": s.to, "target": s.target, "kind": s.kind, "text": s.text,
             "fields": s.fields, "time": s.time, "msgid": s.msgid, "pending": s.pending,
             "script": s.script, "via": s.via} for s in self.messages]},
            dumps=lambda o: json.dumps(o, ensure_ascii=False))

    # -- Official Account ------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        denied = self._check_token(request, None)
        if denied is not None:
            return denied
        kind = request.query.get("type", "")
        if kind not in ("image", "voice", "video", "thumb", "file"):
            return _error(40004, "invalid media type")
        post = await request.post()
        media = post.get("media")
        if not isinstance(media, web.FileField):
            return _error(41005, "media data missing")
        data = media.file.read()
        media_id = f"media-{next(self._ids)}-{secrets.token_hex(4)}"
        self.media[media_id] = (kind, media.filename, data)
        return _ok(type=kind, media_id=media_id, created_at=int(self.clock()))


def _ok(**data: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **data},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _error(errcode: int, errmsg: str = "") -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")},
                             dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _hang_up(request: web.Request) -> web.Response:
    """Drop the connection without an answer (the client sees it closed)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=503)  # never written: the transport is gone


def _check_content(kind: Any, body: dict[str, Any], allowed: set[str]) -> web.Response | None:
    if kind not in allowed:
        return _error(40008)
    part = body.get(kind)
    if not isinstance(part, dict):
        return _error(47001, f"data format error: {kind} missing")
    if kind == "text":
        content = part.get("content")
        if not isinstance(content, str) or not content:
            return _error(44002)
        if len(content.encode("utf-8")) > TEXT_LIMIT_BYTES:
            return _error(45002)
    elif kind == "image" and not part.get("media_id"):
        return _error(40007, "invalid media_id")
    elif kind == "news":
        articles = part.get("articles")
        if not isinstance(articles, list) or not articles or not all(a.get("title") for a in articles):
            return _error(47001, "data format error: news.articles")
    elif kind in ("miniprogrampage", "miniprogram"):
        if not part.get("appid") or not (part.get("pagepath") or part.get("page")):
            return _error(47001, "data format error: miniprogram appid/pagepath")
        if not part.get("thumb_media_id"):
            return _error(40007, "invalid media_id: thumb_media_id")
    elif kind == "link":
        if not part.get("title") or not part.get("url"):
            return _error(47001, "data format error: link title/url")
        if not part.get("thumb_media_id"):
            return _error(40007, "invalid media_id: thumb_media_id")
    return None


def _check_attachments(attachments: Any) -> web.Response | None:
    if not isinstance(attachments, list) or len(attachments) > 9:
        return _error(47001, "data format error: at most 9 attachments")
    for a in attachments:
        kind = a.get("msgtype") if isinstance(a, dict) else None
        if kind not in ("image", "link", "miniprogram", "video", "file"):
            return _error(40008)
        part = a.get(kind)
        if not isinstance(part, dict):
            return _error(47001, f"data format error: attachment {kind}")
        if kind == "image" and not (part.get("media_id") or part.get("pic_url")):
            return _error(40007, "invalid media_id")
        if kind == "link" and not (part.get("title") and part.get("url")):
            return _error(47001, "data format error: link title/url")
        if kind == "miniprogram" and not (part.get("appid") and part.get("page") and part.get("title")):
            return _error(47001, "data format error: miniprogram title/appid/page")
        if kind == "miniprogram" and not part.get("pic_media_id"):
            return _error(40007, "invalid media_id: pic_media_id")
    return None


def _traces(request: web.Request) -> list[dict[str, Any]]:
    raw = request.headers.get(TRACE_HEADER)
    if not raw:
        return []
    try:
        traces = json.loads(raw)
    except ValueError:
        return []
    return [t for t in traces if isinstance(t, dict)] if isinstance(traces, list) else []


def _bubbles(api: str, body: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(kind, text, fields)`` for each bubble a request shows its recipient."""
    if api == "template":
        data = {k: v.get("value", "") if isinstance(v, dict) else v for k, v in (body.get("data") or {}).items()}
        fields = {"template_id": body.get("template_id"), "data": data}
        for key in ("url", "miniprogram"):
            if key in body:
                fields[key] = body[key]
        return [("template", "\n".join(str(v) for v in data.values()), fields)]
    if api in ("welcome", "mass"):
        parts: list[tuple[str, str, dict[str, Any]]] = []
        if body.get("text"):
            parts.append(("text", str(body["text"].get("content", "")), {}))
        for a in body.get("attachments") or []:
            parts.append(_bubble(str(a.get("msgtype")), a.get(a.get("msgtype")) or {}))
        return parts
    kind = str(body.get("msgtype"))
    return [_bubble(kind, body.get(kind) or {})]


def _bubble(kind: str, part: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    if kind == "text":
        return "text", str(part.get("content", "")), {}
    if kind == "news":
        first = dict((part.get("articles") or [{}])[0])
        return "news", str(first.get("description", "")), first
    if kind == "link":
        fields = {"title": part.get("title", ""), "description": part.get("desc", ""), "url": part.get("url", ""),
                  "picurl": part.get("picurl", "")}
        return "link", str(part.get("desc", "")), fields
    if kind in ("miniprogrampage", "miniprogram", "miniprogram_notice"):
        fields = dict(part)
        if "page" in fields:
            fields["pagepath"] = fields.pop("page")
        return "miniprogram", str(part.get("title", "")), fields
    if kind == "markdown":
        return "text", str(part.get("content", "")), {"markdown": True}
    return kind, str(part.get("title") or part.get("description") or ""), dict(part)


def _listen(port: int, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


