"""WeCom's side of the fake: its access token, welcome messages (single-use codes, 20 s),
customer mass messages waiting for their sender's confirmation, customer groups and their
owners, customer-service (kf), app messages to staff (paced as WeCom paces them) and app chats."""

from __future__ import annotations

import secrets

from aiohttp import web

from .core import (WELCOME_CODE_TTL, FakeCore, Sent, _check_attachments, _check_content, _error, _ok, _traces,
                   _WelcomeCode)


class WeComAPI(FakeCore):
    """The WeCom endpoints (``/cgi-bin/gettoken``, ``externalcontact/*``, ``kf/send_msg``,
    ``message/send``, ``appchat/send``) and what a test tells WeCom's side (a welcome code
    issued, a mass message confirmed, a group's owner)."""

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/cgi-bin/gettoken", self._token_wecom)
        router.add_get("/cgi-bin/ticket/get", self._agent_ticket)
        router.add_post("/cgi-bin/externalcontact/send_welcome_msg", self._welcome_send)
        router.add_post("/cgi-bin/externalcontact/add_msg_template", self._mass_send)
        router.add_post("/cgi-bin/externalcontact/groupchat/get", self._groupchat_get)
        router.add_post("/cgi-bin/externalcontact/get_groupmsg_send_result", self._groupmsg_send_result)
        router.add_post("/cgi-bin/kf/send_msg", self._kf_send)
        router.add_post("/cgi-bin/message/send", self._app_send)
        router.add_post("/cgi-bin/appchat/send", self._appchat_send)
        super()._routes(router)

    # -- what a test arranges --------------------------------------------------------------
    def register_welcome_code(self, code: str, user: str, staff: str = "staff") -> None:
        """WeCom pushed an add-contact event carrying ``code`` for ``user``: valid once, for 20 s
        from now."""
        self._welcome[code] = _WelcomeCode(user, staff, self.clock() + WELCOME_CODE_TTL)

    def confirm(self, msgid: str) -> Sent:
        """The staff member confirms a pending mass message in their WeCom app."""
        found: list[Sent] = [s for s in self.messages if s.msgid == msgid and s.api == "mass"]
        if not found:
            raise KeyError(msgid)
        for s in found:
            s.pending = False
        self._confirmed[msgid] = self.clock()
        return found[0]

    def add_group(self, chat_id: str, owner: str) -> None:
        """A customer group ``owner`` (a staff member's userid) owns."""
        self.groups[chat_id] = owner

    async def _token_wecom(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("corpid") != self.corpid:
            return _error(40013, "invalid corpid")
        if q.get("corpsecret") != self.corpsecret:
            return _error(40001, "invalid secret")
        return self._grant(("wecom", self.corpid))

    async def _agent_ticket(self, request: web.Request) -> web.Response:
        """The JS-SDK's ticket for ``wx.agentConfig`` (``type=agent_config``): one per app, the
        same to every caller while it lasts, as WeCom gives it."""
        denied = self._check_token(request, "wecom")
        if denied is not None:
            return denied
        if request.query.get("type") != "agent_config":
            return _error(40097, "invalid args: type must be agent_config")
        self.tickets.setdefault(self.corpid, secrets.token_urlsafe(32))
        return _ok(ticket=self.tickets[self.corpid], expires_in=7200)

    # -- WeCom -----------------------------------------------------------------------------
    async def _welcome_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        raw_code = str(body.get("welcome_code", ""))
        code = self._welcome.get(raw_code)
        if code is None and raw_code and not self.strict_welcome_codes:
            traces = _traces(request)  # a code the test never registered: taken as issued just now
            code = self._welcome[raw_code] = _WelcomeCode(str(traces[0].get("to", "")) if traces else "", "",
                                                          self.clock() + WELCOME_CODE_TTL)
        if code is None or self.clock() > code.expires_at:
            return _error(41096)
        if code.used:
            return _error(41051)
        if not body.get("text") and not body.get("attachments"):
            return _error(44002)
        problem = _check_attachments(body.get("attachments", []))
        if problem is not None:
            return problem
        code.used = True
        self._record(request, "welcome", code.user, body)
        return _ok()

    async def _mass_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        chat_type = body.get("chat_type", "single")
        targets = body.get("external_userid") or []
        if chat_type == "group" and not body.get("sender"):
            return _error(40003, "sender required for group mass messages")
        if chat_type == "single" and not (isinstance(targets, list) and targets):
            return _error(40003, "invalid external_userid")
        if not body.get("text") and not body.get("attachments"):
            return _error(44002)
        problem = _check_attachments(body.get("attachments", []))
        if problem is not None:
            return problem
        chats = body.get("chat_id_list") or []
        if chat_type == "group" and not (isinstance(chats, list) and all(isinstance(c, str) and c for c in chats)):
            return _error(40003, "invalid chat_id_list")
        to = ",".join(targets) if targets else ",".join(f"group:{c}" for c in chats) or str(body.get("sender"))
        sent = self._record(request, "mass", to, body, pending=True)
        return _ok(fail_list=[], msgid=sent[0].msgid)

    async def _groupchat_get(self, request: web.Request) -> web.Response:
        """``externalcontact/groupchat/get``: a customer group's details, its owner among them."""
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        chat = body.get("chat_id")
        owner = self.groups.get(chat, self.default_group_owner) if isinstance(chat, str) and chat else None
        if owner is None:
            return _error(86003)
        return _ok(group_chat={"chat_id": chat, "name": "", "owner": owner, "create_time": 0,
                               "member_list": [], "admin_list": []})

    async def _groupmsg_send_result(self, request: web.Request) -> web.Response:
        """``externalcontact/get_groupmsg_send_result``: per customer (or customer group) of one
        mass message sent by ``userid``, status 0 (not sent: the member has not confirmed) or
        1 (sent, with ``send_time``)."""
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        msgid, userid = body.get("msgid"), body.get("userid")
        found = [s for s in self.messages if s.api == "mass" and s.msgid == msgid]
        if not found or not isinstance(userid, str) or not userid:
            return _error(40003, "invalid msgid or userid")
        request_body = found[0].body
        if request_body.get("sender") and request_body["sender"] != userid:
            return _ok(next_cursor="", send_list=[])
        confirmed = self._confirmed.get(str(msgid))
        state = {"status": 1, "send_time": int(confirmed)} if confirmed is not None else {"status": 0}
        if request_body.get("chat_type") == "group":
            rows = [{"chat_id": c, "userid": userid, **state} for c in request_body.get("chat_id_list") or []]
        else:
            rows = [{"external_userid": u, "userid": userid, **state}
                    for u in request_body.get("external_userid") or []]
        return _ok(next_cursor="", send_list=rows)

    async def _kf_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        if not body.get("open_kfid"):
            return _error(95000)
        to, kind = body.get("touser"), body.get("msgtype")
        if not isinstance(to, str) or not to:
            return _error(40003)
        problem = _check_content(kind, body, {"text", "image", "voice", "video", "file", "link",
                                              "miniprogram", "msgmenu", "location"})
        if problem is not None:
            return problem
        [sent] = self._record(request, "kf", to, body)
        return _ok(msgid=body.get("msgid") or sent.msgid)

    async def _app_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        if str(body.get("agentid")) != str(self.agentid):
            return _error(40056, "invalid agentid")
        kind = body.get("msgtype")
        problem = _check_content(kind, body, {"text", "image", "voice", "video", "file", "textcard", "news",
                                              "mpnews", "markdown", "miniprogram_notice", "template_card"})
        if problem is not None:
            return problem
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        if not users:
            return _error(82001)
        now = self.clock()
        for user in users:
            log = self._staff_log[user] = [t for t in self._staff_log[user] if now - t < 60]
            over = len(log) >= self.staff_per_minute  # WeCom says ok and delivers nothing
            sent = self._record(request, "app", user, body, keep=not over)
            if over:
                self.dropped.extend(sent)
                continue
            log.append(now)
        return _ok(invaliduser="", invalidparty="", invalidtag="", msgid=f"app-{next(self._ids)}")

    async def _appchat_send(self, request: web.Request) -> web.Response:
        body = await self._guarded(request, "wecom")
        if isinstance(body, web.Response):
            return body
        chat = body.get("chatid")
        if not isinstance(chat, str) or not chat:
            return _error(86003)
        kind = body.get("msgtype")
        problem = _check_content(kind, body, {"text", "image", "voice", "video", "file", "textcard", "news",
                                              "mpnews", "markdown"})
        if problem is not None:
            return problem
        self._record(request, "appchat", chat, body)
        return _ok()
