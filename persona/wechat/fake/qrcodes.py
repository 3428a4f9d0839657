"""The Official Account's parametric QR codes in the fake: ``qrcode/create`` (temporary
``QR_SCENE`` / ``QR_STR_SCENE``, 60 s by default and at most 30 days; permanent
``QR_LIMIT_SCENE`` / ``QR_LIMIT_STR_SCENE``), ``showqrcode?ticket=`` answering the code as a
PNG, and a person scanning it (:meth:`QrCodesAPI.scan_qrcode`): a ``subscribe`` event whose
EventKey is ``qrscene_<scene>`` for someone new, ``SCAN`` with the bare scene for a follower,
both carrying the ticket, posted to the account's callback URL (signed, sealed in safe mode).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web

from .callbacks import CallbackTarget, post_callback
from .core import FakeCore, _error, _ok
from .pictures import qr_png

DEFAULT_EXPIRY = 60
MAX_EXPIRY = 30 * 86400
SCENE_ID_LIMIT = 100_000  # permanent integer scenes: 1..100000
SCENE_STR_LIMIT = 64
TEMPORARY = {"QR_SCENE": "scene_id", "QR_STR_SCENE": "scene_str"}
PERMANENT = {"QR_LIMIT_SCENE": "scene_id", "QR_LIMIT_STR_SCENE": "scene_str"}


@dataclass
class QrCode:
    ticket: str
    scene: str
    expires_at: float | None  # None: permanent
    url: str  # what the picture encodes


class QrCodesAPI(FakeCore):
    """``/cgi-bin/qrcode/create``, ``/cgi-bin/showqrcode`` and the scan that follows."""

    def __post_init__(self) -> None:
        super().__post_init__()
        #: every QR code made, by ticket
        self.qrcodes: dict[str, QrCode] = {}

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/cgi-bin/qrcode/create", self._qrcode_create)
        router.add_get("/cgi-bin/showqrcode", self._showqrcode)
        super()._routes(router)

    async def scan_qrcode(self, ticket: str, openid: str, target: CallbackTarget, *,
                          following: bool = False, created: int | None = None) -> int:
        """A person scans the code: ``subscribe`` (or ``SCAN``, already ``following``) goes to
        ``target``; returns the HTTP status the callback got."""
        code = self.qrcodes.get(ticket)
        if code is None or (code.expires_at is not None and self.clock() >= code.expires_at):
            raise KeyError(f"QR code {ticket!r} unknown or expired: WeChat would not open it")
        event, key = ("SCAN", code.scene) if following else ("subscribe", f"qrscene_{code.scene}")
        xml = (f"<xml><ToUserName><![CDATA[gh_{target.receiver[-12:]}]]></ToUserName>"
               f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{created or int(self.clock())}"
               f"</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
               f"<EventKey><![CDATA[{key}]]></EventKey><Ticket><![CDATA[{ticket}]]></Ticket></xml>")
        return await post_callback(target, xml, wecom=False)

    async def _qrcode_create(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "mp")
        if isinstance(body, web.Response):
            return body
        action = body.get("action_name")
        if action not in TEMPORARY and action not in PERMANENT:
            return _error(40003 if action else 41001, "invalid action_name")
        want = {**TEMPORARY, **PERMANENT}[str(action)]
        info = body.get("action_info")
        scene = (info.get("scene") if isinstance(info, dict) else None) or {}
        value = scene.get(want) if isinstance(scene, dict) else None
        if want == "scene_id":
            limit = SCENE_ID_LIMIT if action in PERMANENT else 2**32 - 1
            if not isinstance(value, int) or not 0 < value <= limit:
                return _error(40053, f"invalid action_info: scene_id 1..{limit}")
        elif not isinstance(value, str) or not 0 < len(value) <= SCENE_STR_LIMIT:
            return _error(40053, f"invalid action_info: scene_str of 1..{SCENE_STR_LIMIT} characters")
        expires: int | None = None
        if action in TEMPORARY:
            expires = body.get("expire_seconds", DEFAULT_EXPIRY)
            if not isinstance(expires, int) or expires <= 0:
                return _error(40009, "invalid expire_seconds")
            expires = min(expires, MAX_EXPIRY)
        ticket = secrets.token_urlsafe(36)
        code = QrCode(ticket, str(value), None if expires is None else self.clock() + expires,
                      f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}")
        self.qrcodes[ticket] = code
        return _ok(ticket=ticket, url=code.url, **({} if expires is None else {"expire_seconds": expires}))

    async def _showqrcode(self, request: web.Request) -> web.StreamResponse:
        """The code's picture (no access token: anyone with the ticket may show it)."""
        code = self.qrcodes.get(request.query.get("ticket", ""))
        if code is None or (code.expires_at is not None and self.clock() >= code.expires_at):
            raise web.HTTPNotFound(text="invalid ticket")
        return web.Response(body=qr_png(code.url), content_type="image/png")
