"""The Official Account's side of the fake: its access token, customer-service messages and
template messages (one per openid and ``client_msg_id`` within 10 minutes, as WeChat sends)."""

from __future__ import annotations

from aiohttp import web

from .core import CLIENT_MSG_ID_TTL, FakeCore, _check_content, _error, _ok


class OfficialAccountAPI(FakeCore):
    """The Official Account endpoints (``/cgi-bin/token``, ``message/custom/send``,
    ``message/template/send``)."""

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/cgi-bin/token", self._token_mp)
        router.add_post("/cgi-bin/message/custom/send", self._custom_send)
        router.add_post("/cgi-bin/message/template/send", self._template_send)
        super()._routes(router)

    async def _token_mp(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if q.get("appid") != self.appid:
            return _error(40013)
        if q.get("secret") != self.secret:
            return _error(40125)
        return self._grant(("mp", self.appid))

    async def _custom_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "mp")
        if isinstance(body, web.Response):
            return body
        to, kind = body.get("touser"), body.get("msgtype")
        if not isinstance(to, str) or not to:
            return _error(40003)
        problem = _check_content(kind, body, {"text", "image", "voice", "video", "music", "news", "mpnews",
                                              "mpnewsarticle", "msgmenu", "wxcard", "miniprogrampage"})
        if problem is not None:
            return problem
        self._record(request, "custom", to, body)
        return _ok()

    async def _template_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "mp")
        if isinstance(body, web.Response):
            return body
        to = body.get("touser")
        if not isinstance(to, str) or not to:
            return _error(40003)
        if not body.get("template_id"):
            return _error(40037, "invalid template_id")
        if not isinstance(body.get("data", {}), dict):
            return _error(47001)
        key = body.get("client_msg_id")
        if key:  # WeChat sends one message per openid + client_msg_id within 10 minutes
            self.template_asks[(to, str(key))] += 1
            seen = self._template_keys.get((to, str(key)))
            if seen is not None and self.clock() - seen[1] < CLIENT_MSG_ID_TTL:
                return _ok(msgid=seen[0])
        [sent] = self._record(request, "template", to, body)
        msgid = int(sent.msgid.rsplit("-", 1)[1])
        if key:
            self._template_keys[(to, str(key))] = (msgid, self.clock())
        return _ok(msgid=msgid)
