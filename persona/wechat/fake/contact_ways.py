"""WeCom's 「联系我」 (contact ways) in the fake: ``externalcontact/add_contact_way``,
``get_contact_way``, ``update_contact_way``, ``del_contact_way``, the QR image each one's
``qr_code`` URL points at, and a person scanning it (:meth:`ContactWaysAPI.scan_contact_way`):
WeCom's ``add_external_contact`` callback, with the contact way's ``State``, the staff member
who was added and a welcome code, encrypted and posted to the app's callback URL.

As WeCom documents it: type 1 names exactly one member in ``user``, type 2 several (a scan of
a multi-member way adds one of them, in turn here); scene 1 (a mini-program plug-in) has no
``qr_code``, scene 2 does; ``state`` is at most 30 characters.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .callbacks import CallbackTarget, post_callback
from .core import WELCOME_CODE_TTL, FakeCore, _error, _ok, _WelcomeCode
from .pictures import qr_png

STATE_LIMIT = 30
MEMBERS_LIMIT = 100
NO_PERMISSION = 84074  # a member without the 客户联系 permission


@dataclass
class ContactWay:
    """One 「联系我」 as WeCom keeps it."""

    config_id: str
    type: int
    scene: int
    state: str
    user: list[str]
    skip_verify: bool = True
    remark: str = ""
    style: int = 0
    qr_code: str = ""
    added: list[str] = field(default_factory=list)  # external_userids who came through it

    def answer(self) -> dict[str, Any]:
        """As ``get_contact_way`` shows it."""
        shown = {"config_id": self.config_id, "type": self.type, "scene": self.scene, "style": self.style,
                 "remark": self.remark, "skip_verify": self.skip_verify, "state": self.state,
                 "user": list(self.user), "party": [], "is_temp": False}
        if self.qr_code:
            shown["qr_code"] = self.qr_code
        return shown


class ContactWaysAPI(FakeCore):
    """``externalcontact/*_contact_way`` and the scan that brings a customer."""

    def __post_init__(self) -> None:
        super().__post_init__()
        #: every contact way made and not deleted, by config_id
        self.contact_ways: dict[str, ContactWay] = {}
        #: members the admin has not given 客户联系: a way naming one is refused
        self.without_contact_permission: set[str] = set()
        self._scans = itertools.count(1)

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/cgi-bin/externalcontact/add_contact_way", self._add_contact_way)
        router.add_post("/cgi-bin/externalcontact/get_contact_way", self._get_contact_way)
        router.add_post("/cgi-bin/externalcontact/update_contact_way", self._update_contact_way)
        router.add_post("/cgi-bin/externalcontact/del_contact_way", self._del_contact_way)
        router.add_get("/fake/contact_way/{config_id}.png", self._contact_way_image)
        super()._routes(router)

    # -- what a test arranges --------------------------------------------------------------
    async def scan_contact_way(self, config_id: str, external_userid: str, target: CallbackTarget, *,
                               created: int | None = None) -> tuple[str, int]:
        """A person scans the contact way's QR code and adds its member: WeCom's
        ``change_external_contact`` / ``add_external_contact`` callback goes to ``target``.
        Returns (the staff member added, the HTTP status the callback got)."""
        way = self.contact_ways.get(config_id)
        if way is None:
            raise KeyError(f"no contact way {config_id!r} (deleted, or never made)")
        staff = way.user[(next(self._scans) - 1) % len(way.user)]
        welcome = f"WELCOME-{secrets.token_hex(6)}"
        self._welcome[welcome] = _WelcomeCode(external_userid, staff, self.clock() + WELCOME_CODE_TTL)
        way.added.append(external_userid)
        xml = ("<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
               "<CreateTime>{t}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
               "<Event><![CDATA[change_external_contact]]></Event>"
               "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
               "<UserID><![CDATA[{staff}]]></UserID><ExternalUserID><![CDATA[{user}]]></ExternalUserID>"
               "<State><![CDATA[{state}]]></State><WelcomeCode><![CDATA[{code}]]></WelcomeCode></xml>").format(
            corp=target.receiver, t=created or int(self.clock()), staff=staff, user=external_userid,
            state=way.state, code=welcome)
        return staff, await post_callback(target, xml, wecom=True)

    # -- the endpoints ---------------------------------------------------------------------
    async def _add_contact_way(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        problem = _check_way(body)
        if problem is not None:
            return problem
        barred = [u for u in body["user"] if u in self.without_contact_permission]
        if barred:
            return _error(NO_PERMISSION, f"user {barred[0]} has no external contact permission")
        config_id = secrets.token_hex(16)
        way = ContactWay(config_id, int(body["type"]), int(body["scene"]), str(body.get("state", "")),
                         list(body["user"]), bool(body.get("skip_verify", True)), str(body.get("remark", "")),
                         int(body.get("style", 0) or 0))
        if way.scene == 2:
            way.qr_code = f"{self.base_url}/fake/contact_way/{config_id}.png"
        self.contact_ways[config_id] = way
        return _ok(config_id=config_id, **({"qr_code": way.qr_code} if way.qr_code else {}))

    async def _get_contact_way(self, request: web.Request) -> web.Response:
        found = await self._way(request)
        if isinstance(found, web.Response):
            return found
        return _ok(contact_way=found[0].answer())

    async def _update_contact_way(self, request: web.Request) -> web.Response:
        found = await self._way(request)
        if isinstance(found, web.Response):
            return found
        way, body = found
        problem = _check_way({"type": way.type, "scene": way.scene, "user": way.user, **body})
        if problem is not None:
            return problem
        if "user" in body:
            way.user = list(body["user"])
        if "state" in body:
            way.state = str(body["state"])
        if "skip_verify" in body:
            way.skip_verify = bool(body["skip_verify"])
        if "remark" in body:
            way.remark = str(body["remark"])
        return _ok()

    async def _del_contact_way(self, request: web.Request) -> web.Response:
        found = await self._way(request)
        if isinstance(found, web.Response):
            return found
        del self.contact_ways[found[0].config_id]
        return _ok()

    async def _contact_way_image(self, request: web.Request) -> web.StreamResponse:
        """The picture ``qr_code`` names: a real QR code (of the way's add-contact address)."""
        way = self.contact_ways.get(request.match_info["config_id"])
        if way is None:
            raise web.HTTPNotFound(text="no such contact way")
        return web.Response(body=qr_png(f"https://work.weixin.qq.com/ca/{way.config_id}"), content_type="image/png")

    async def _way(self, request: web.Request) -> tuple[ContactWay, dict[str, Any]] | web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        way = self.contact_ways.get(str(body.get("config_id", "")))
        if way is None:
            return _error(40058, "invalid config_id")
        return way, body


def _check_way(body: dict[str, Any]) -> web.Response | None:
    """What WeCom refuses in a contact way (errcode 40058, the parameter named)."""
    kind, scene, users = body.get("type"), body.get("scene"), body.get("user")
    if kind not in (1, 2):
        return _error(40058, "invalid type: 1 (one member) or 2 (several)")
    if scene not in (1, 2):
        return _error(40058, "invalid scene: 1 (mini program) or 2 (QR code)")
    if not isinstance(users, list) or not users or not all(isinstance(u, str) and u for u in users):
        return _error(40058, "invalid user: a list of member userids")
    if kind == 1 and len(users) != 1:
        return _error(40058, "invalid user: type 1 takes exactly one member")
    if len(users) > MEMBERS_LIMIT:
        return _error(40058, f"invalid user: at most {MEMBERS_LIMIT} members")
    state = body.get("state", "")
    if not isinstance(state, str) or len(state) > STATE_LIMIT:
        return _error(40058, f"invalid state: at most {STATE_LIMIT} characters")
    if "skip_verify" in body and not isinstance(body["skip_verify"], bool):
        return _error(40058, "invalid skip_verify: true or false")
    return None
