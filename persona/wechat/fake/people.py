"""Who the fake's customers are: the read APIs that give a unionid for a platform id.

An Official Account's ``GET /cgi-bin/user/info?openid=`` answers a follower's profile with
their ``unionid`` (when the account is bound to an Open Platform); WeCom's ``GET
/cgi-bin/externalcontact/get?external_userid=`` answers ``external_contact.unionid``. A test
says who is who with :meth:`PeopleAPI.person`; any other openid or external_userid is a
follower or contact without a unionid (an account not bound to an Open Platform), and an id of
the wrong kind is refused (errcode 40003 / 84061), as the platforms refuse an id that is not theirs.
"""

from __future__ import annotations

from aiohttp import web

from .core import FakeCore, _error, _ok

INVALID_OPENID = 40003
NOT_EXTERNAL_CONTACT = 84061
#: how WeCom external contact ids begin
WECOM_PREFIXES = ("wm", "wo")


class PeopleAPI(FakeCore):
    """``user/info`` (Official Account) and ``externalcontact/get`` (WeCom)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        #: platform id (openid or external_userid) -> unionid ("" : the platform gives none)
        self.unionids: dict[str, str] = {}

    def person(self, unionid: str = "", *, openid: str | None = None, external_userid: str | None = None) -> None:
        """The platform knows ``openid`` (a follower) and/or ``external_userid`` (an external
        contact) as the person ``unionid`` ("" : ids with no unionid, an unbound account)."""
        for user in (openid, external_userid):
            if user:
                self.unionids[user] = unionid

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/cgi-bin/user/info", self._user_info)
        router.add_get("/cgi-bin/externalcontact/get", self._external_contact)
        super()._routes(router)

    async def _user_info(self, request: web.Request) -> web.Response:
        denied = self._check_token(request, "mp")
        if denied is not None:
            return denied
        openid = request.query.get("openid", "")
        if not openid or openid.startswith(WECOM_PREFIXES):
            return _error(INVALID_OPENID)
        profile: dict[str, object] = {"subscribe": 1, "openid": openid, "language": "zh_CN",
                                      "subscribe_time": int(self.clock()), "remark": "", "groupid": 0,
                                      "tagid_list": [], "subscribe_scene": "ADD_SCENE_QR_CODE"}
        if self.unionids.get(openid):
            profile["unionid"] = self.unionids[openid]
        return web.json_response(profile)

    async def _external_contact(self, request: web.Request) -> web.Response:
        denied = self._check_token(request, "wecom")
        if denied is not None:
            return denied
        user = request.query.get("external_userid", "")
        if not user.startswith(WECOM_PREFIXES):
            return _error(NOT_EXTERNAL_CONTACT, "not external contact")
        contact: dict[str, object] = {"external_userid": user, "name": user[-6:], "type": 1, "gender": 0}
        if self.unionids.get(user):
            contact["unionid"] = self.unionids[user]
        return _ok(external_contact=contact, follow_user=[], next_cursor="")
