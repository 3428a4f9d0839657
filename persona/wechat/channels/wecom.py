"""WeCom's send APIs: welcome messages and mass messages to external contacts (customers),
WeChat customer service (kf), app messages to staff and messages to internal group chats.

Each has its own rule: a welcome code works once, within 20 s of the add event; a mass
message waits for the staff member to confirm it in their app; app messages to one staff
member beyond 30 a minute are accepted and silently dropped by WeCom, so we pace them here.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from typing import Any, Sequence

from wechatpy.utils import WeChatSigner

from ...clock import Clock
from ...errors import ChannelError
from ...model.messages import Message
from ...store.base import KeyValue
from .base import Channel, HttpSession, Paced, SendResult, client_id, need, trace_entry
from .tokens import TokenCache
from .wechat import article

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://qyapi.weixin.qq.com"
STAFF_PER_MINUTE = 30
MASS_RECORD_TTL = 7 * 86400
#: how long a customer group's owner is remembered (groups rarely change hands)
GROUP_OWNER_TTL = 86400
MAX_ATTACHMENTS = 9


class WeComChannel(Channel):
    """One WeCom self-built app (``corpid`` + the app's ``secret`` + ``agentid``).

    ``kf_id`` is the default open_kfid for WeChat customer-service messages (``$WECOM_KF_ID``).
    ``staff_per_minute`` paces app messages to each staff member.
    """

    platform = "wecom"
    thumb_fields = ("thumb_media_id", "pic_media_id")

    def __init__(self, base_url: str | None, corpid: str, secret: str, agentid: int | str | None, store: KeyValue, *,
                 clock: Clock | None = None, http: HttpSession | None = None, kf_id: str | None = None,
                 staff_per_minute: int = STAFF_PER_MINUTE, timeout: float = 10.0, token_margin: float = 300.0,
                 trace: bool | None = None, token_store: KeyValue | None = None) -> None:
        if not corpid or not secret:
            raise ChannelError("the WeCom channel needs WECOM_CORPID and WECOM_SECRET", retryable=False)
        self.corpid = corpid
        self._secret = secret
        self.agentid = int(agentid) if agentid not in (None, "") else None
        self.kf_id = kf_id
        self.staff_per_minute = staff_per_minute
        account = f"{corpid}:{self.agentid or 0}"
        super().__init__(f"WeCom {corpid}/{self.agentid}",
                         base_url or os.environ.get("WECOM_API_BASE") or DEFAULT_BASE, DEFAULT_BASE, store,
                         f"wecom:{account}", clock=clock, http=http, timeout=timeout,
                         token_margin=token_margin, trace=trace, token_store=token_store)
        self._pace_prefix = f"pace:wecom:{account}"
        # the JS-SDK's agent_config ticket, shared by every process like the access token
        self.agent_ticket = TokenCache(token_store or store, f"ticket:agent_config:wecom:{account}",
                                       self._fetch_agent_ticket, clock=clock, margin=token_margin)

    def _token_request(self) -> tuple[str, dict[str, str]]:
        return "/cgi-bin/gettoken", {"corpid": self.corpid, "corpsecret": self._secret}

    # -- the JS-SDK (a page in WeCom's chat toolbar) ---------------------------------------
    async def agent_config(self, url: str, *, nonce: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
        """What ``wx.agentConfig`` needs for the page at ``url`` (without its ``#`` part): the
        app's ids and a signature over the agent_config ticket, WeCom's documented algorithm."""
        if self.agentid is None:
            raise ChannelError("the WeCom JS-SDK needs WECOM_AGENTID (the app the page belongs to)", retryable=False)
        ticket = await self.agent_ticket.get()
        nonce = nonce or secrets.token_hex(8)
        timestamp = int(self.clock.now()) if timestamp is None else timestamp
        return {"corpid": self.corpid, "agentid": self.agentid, "timestamp": timestamp, "nonceStr": nonce,
                "signature": jsapi_signature(ticket, nonce, timestamp, url)}

    async def _fetch_agent_ticket(self) -> tuple[str, float]:
        data = await self.api.fetch("/cgi-bin/ticket/get", {"access_token": await self.tokens.get(),
                                                            "type": "agent_config"})
        return str(data["ticket"]), float(data.get("expires_in", 7200))

    # -- customers -------------------------------------------------------------------------
    async def send_welcome(self, welcome_code: str, messages: Message | Sequence[Message], *,
                           external_userid: str | None = None) -> SendResult:
        """The welcome message for a customer who just added a staff member: one text plus up
        to nine attachments, so several messages of one turn travel together. The code alone
        names the customer; ``external_userid`` is only for logs and local fakes.

        A code already used (41051: another app welcomed them first, or a retry after a lost
        answer) is not a failure: the result's ``note`` is ``welcome_code_used``.
        """
        content, trace = await self.compose(_as_list(messages), external_userid)
        body = {"welcome_code": welcome_code, **content}
        answer = await self.api.call("/cgi-bin/externalcontact/send_welcome_msg", body, trace=trace)
        if answer.get("errcode") == 41051:
            log.warning("welcome code %s… for %s was already used; the welcome message was not sent again",
                        welcome_code[:6], external_userid or "a customer")
            return SendResult("wecom_welcome", note="welcome_code_used")
        return SendResult("wecom_welcome")

    async def add_msg_template(self, external_userid: str | Sequence[str], messages: Message | Sequence[Message], *,
                               sender: str | None = None, chat_type: str = "single",
                               chat_ids: Sequence[str] = ()) -> SendResult:
        """A mass message to customers (or, with ``chat_type="group"``, to the ``chat_ids``
        customer groups ``sender`` owns). It reaches them only after ``sender`` (or each staff
        member the customer added) confirms it in the WeCom app: the result is ``pending`` and
        the msgid is recorded in the store as ``mass:<msgid>``; :meth:`mass_result` tells later
        whether it went out."""
        targets = [external_userid] if isinstance(external_userid, str) else list(external_userid)
        content, trace = await self.compose(_as_list(messages), ",".join(targets) or None)
        body: dict[str, Any] = {"chat_type": chat_type, **content}
        if chat_type == "single":
            body["external_userid"] = targets
        elif chat_ids:
            body["chat_id_list"] = list(chat_ids)  # the owner need not pick the groups again
        if sender:
            body["sender"] = sender
        answer = await self.api.call("/cgi-bin/externalcontact/add_msg_template", body, trace=trace)
        failed = answer.get("fail_list") or []
        if failed and set(failed) >= set(targets):
            raise ChannelError(f"WeCom refused the mass message for {', '.join(map(str, failed))} (not a customer "
                               "of the sender, or their mass-message cap is reached)", retryable=False)
        msgid = str(answer.get("msgid", ""))
        if msgid:
            await self.store.put(f"mass:{msgid}", json.dumps({"to": targets, "chats": list(chat_ids), "sender": sender,
                                                              "at": self.clock.now(), "status": "pending"}),
                                 ttl=MASS_RECORD_TTL)
        return SendResult("wecom_mass", msgid or None, pending=True)

    async def unionid(self, external_userid: str) -> str:
        """The external contact's unionid (``externalcontact/get``); "" when WeCom gives none
        (not a WeChat user, or the corp is not bound to the Official Account's Open Platform)."""
        answer = await self.api.query("/cgi-bin/externalcontact/get", {"external_userid": external_userid})
        return str((answer.get("external_contact") or {}).get("unionid") or "")

    async def group_owner(self, chat_id: str) -> str:
        """The staff member who owns customer group ``chat_id`` (``groupchat/get``), remembered
        for a day: a customer-group mass message must be sent, and confirmed, by them."""
        cached = await self.store.get(f"groupowner:{chat_id}")
        if cached:
            return cached
        answer = await self.api.call("/cgi-bin/externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 0})
        owner = str((answer.get("group_chat") or {}).get("owner") or "")
        if not owner:
            raise ChannelError(f"WeCom names no owner for customer group {chat_id}", retryable=False)
        await self.store.put(f"groupowner:{chat_id}", owner, ttl=GROUP_OWNER_TTL)
        return owner

    async def mass_result(self, msgid: str) -> list[dict[str, Any]]:
        """Per customer or customer group of mass message ``msgid``, what its sender did
        (``get_groupmsg_send_result``): ``status`` 0 not sent yet (not confirmed), 1 sent (with
        ``send_time``), 2 not a contact any more, 3 already got a mass message that day."""
        raw = await self.store.get(f"mass:{msgid}")
        record = json.loads(raw) if raw else {}
        sender = record.get("sender")
        if not sender:
            raise ChannelError(f"mass message {msgid}: no sender on record to ask about", retryable=False)
        rows: list[dict[str, Any]] = []
        cursor = ""
        while True:
            answer = await self.api.call("/cgi-bin/externalcontact/get_groupmsg_send_result",
                                         {"msgid": msgid, "userid": sender, "limit": 1000, "cursor": cursor})
            rows += [r for r in answer.get("send_list") or [] if isinstance(r, dict)]
            cursor = str(answer.get("next_cursor") or "")
            if not cursor:
                return rows

    async def send_kf(self, external_userid: str, message: Message, *, open_kfid: str | None = None,
                      key: str | None = None) -> SendResult:
        """A WeChat customer-service message (``/cgi-bin/kf/send_msg``)."""
        kfid = open_kfid or message.fields.get("open_kfid") or self.kf_id
        if not kfid:
            raise ChannelError("a WeCom customer-service message needs an open_kfid: set WECOM_KF_ID or the "
                               "field 'open_kfid'", retryable=False)
        body: dict[str, Any] = {"touser": external_userid, "open_kfid": kfid, **await self._kf_content(message)}
        msgid = client_id(key)
        if msgid:
            body["msgid"] = msgid
        answer = await self.api.call("/cgi-bin/kf/send_msg", body, trace=[trace_entry(message, external_userid)])
        return SendResult("wecom_kf", str(answer.get("msgid") or msgid or "") or None)

    # -- staff -----------------------------------------------------------------------------
    async def send_app(self, userid: str, message: Message) -> SendResult:
        """An app message to one staff member, paced to ``staff_per_minute``.

        Raises :class:`Paced` (retryable, with ``until``) instead of letting WeCom drop it.
        """
        if self.agentid is None:
            raise ChannelError("app messages to staff need WECOM_AGENTID (the app's AgentId)", retryable=False)
        content = await self._app_content(message, group=False)
        await self._pace(userid)
        body = {"touser": userid, "agentid": self.agentid, **content}
        answer = await self.api.call("/cgi-bin/message/send", body, trace=[trace_entry(message, f"staff:{userid}")])
        if answer.get("invaliduser"):
            raise ChannelError(f"WeCom: {answer['invaliduser']} is not a member the app can reach (check the "
                               "app's visible range)", code=81013, retryable=False)
        return SendResult("wecom_app", str(answer.get("msgid") or "") or None)

    async def send_appchat(self, chatid: str, message: Message) -> SendResult:
        """A message to a group chat the app created (``/cgi-bin/appchat/send``)."""
        body = {"chatid": chatid, **await self._app_content(message, group=True)}
        await self.api.call("/cgi-bin/appchat/send", body, trace=[trace_entry(message, f"group:{chatid}")])
        return SendResult("wecom_appchat")

    async def _pace(self, userid: str) -> None:
        """At most ``staff_per_minute`` messages in any 60 s: counted in minute buckets, a
        message goes only if this minute and the previous one together stay within the limit."""
        now = self.clock.now()
        bucket = int(now // 60)
        current = f"{self._pace_prefix}:{userid}:{bucket}"
        count = await self.store.incr(current, 1, ttl=600)
        previous = await self.store.count(f"{self._pace_prefix}:{userid}:{bucket - 1}")
        if count + previous <= self.staff_per_minute:
            return
        await self.store.incr(current, -1)
        skip = 2 if count > self.staff_per_minute else 1  # a full minute also blocks the next one
        raise Paced(f"staff {userid} already got {self.staff_per_minute} app messages within a minute "
                    "(WeCom would drop more)", until=(bucket + skip) * 60.0)

    # -- content ---------------------------------------------------------------------------
    async def compose(self, messages: list[Message], recipient: str | None = None
                      ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Messages as one welcome / mass message: their words joined in one text, cards and
        pictures attached (at most nine). Returns the body and the trace of which bubble came
        from which message."""
        words: list[str] = []
        length = 0
        attachments: list[dict[str, Any]] = []
        placed: list[tuple[Message, tuple[int, int] | None, list[int]]] = []
        for m in messages:
            f = m.fields
            says = m.text.strip() and (m.kind in ("text", "image") or (m.kind == "miniprogram" and f.get("title")))
            span = None
            if says:
                start = length + (2 if words else 0)
                words.append(m.text)
                length = start + len(m.text)
                span = (start, length)
            parts: list[int] = []
            if m.kind == "image":
                if f.get("picurl") and not f.get("media_id") and not f.get("media"):
                    attachments.append({"msgtype": "image", "image": {"pic_url": f["picurl"]}})
                else:
                    attachments.append({"msgtype": "image", "image": {"media_id": await self.image_id(m)}})
                parts.append(len(attachments))
            elif m.kind in ("link", "news"):
                a = article(m)
                attachments.append({"msgtype": "link", "link": {"title": a["title"], "picurl": a["picurl"],
                                                                "desc": a["description"], "url": a["url"]}})
                parts.append(len(attachments))
            elif m.kind == "miniprogram":
                attachments.append({"msgtype": "miniprogram", "miniprogram": {
                    "title": f.get("title") or m.text or need(f, "title", m.kind, "the card title"),
                    "pic_media_id": await self.thumb_id(m),
                    "appid": need(f, "appid", m.kind, "the mini program's appid"),
                    "page": f.get("page") or need(f, "pagepath", m.kind, "the page path")}})
                parts.append(len(attachments))
            elif m.kind != "text":
                raise ChannelError(f"message kind {m.kind!r} cannot be sent to a WeCom customer", retryable=False)
            placed.append((m, span, parts))
        if len(attachments) > MAX_ATTACHMENTS:
            raise ChannelError(f"{len(attachments)} attachments in one WeCom message; at most {MAX_ATTACHMENTS}",
                               retryable=False)
        body: dict[str, Any] = {}
        if words:
            body["text"] = {"content": "\n\n".join(words)}
        if attachments:
            body["attachments"] = attachments
        if not body:
            raise ChannelError("an empty message cannot be sent", retryable=False)
        shift = 0 if words else -1  # bubble 0 is the text when there is one
        trace = [trace_entry(m, recipient, parts=[p + shift for p in parts], text=span)
                 for m, span, parts in placed]
        return body, trace

    async def _plain_content(self, m: Message) -> dict[str, Any] | None:
        """A text or an image, the same in every WeCom API; None for a card."""
        if m.kind == "text":
            return {"msgtype": "text", "text": {"content": _text(m)}}
        if m.kind == "image":
            return {"msgtype": "image", "image": {"media_id": await self.image_id(m)}}
        return None

    async def _kf_content(self, m: Message) -> dict[str, Any]:
        f = m.fields
        plain = await self._plain_content(m)
        if plain is not None:
            return plain
        if m.kind in ("link", "news"):
            a = article(m)
            return {"msgtype": "link", "link": {"title": a["title"], "desc": a["description"], "url": a["url"],
                                                "thumb_media_id": await self.thumb_id(m)}}
        if m.kind == "miniprogram":
            return {"msgtype": "miniprogram", "miniprogram": {
                "appid": need(f, "appid", m.kind, "the mini program's appid"),
                "title": f.get("title") or m.text,
                "thumb_media_id": await self.thumb_id(m),
                "pagepath": f.get("pagepath") or need(f, "page", m.kind, "the page path")}}
        raise ChannelError(f"message kind {m.kind!r} cannot be sent as a WeCom customer-service message",
                           retryable=False)

    async def _app_content(self, m: Message, *, group: bool) -> dict[str, Any]:
        f = m.fields
        plain = await self._plain_content(m)
        if plain is not None:
            return plain
        if m.kind in ("link", "news"):
            given = f.get("articles")
            articles = given if isinstance(given, list) else [article(m)]
            return {"msgtype": "news", "news": {"articles": articles[:8]}}
        if m.kind == "miniprogram" and not group:
            return {"msgtype": "miniprogram_notice", "miniprogram_notice": {
                "appid": need(f, "appid", m.kind, "the mini program's appid"),
                "page": f.get("page") or f.get("pagepath") or "",
                "title": f.get("title") or m.text, "description": f.get("description", "")}}
        where = "a group chat" if group else "a staff member"
        raise ChannelError(f"message kind {m.kind!r} cannot be sent to {where} by a WeCom app; "
                           "use a news (link) card instead", retryable=False)



def jsapi_signature(ticket: str, nonce: str, timestamp: int, url: str) -> str:
    """The JS-SDK signature: SHA-1 over ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` (wechatpy's signer)."""
    signer = WeChatSigner(delimiter=b"&")
    signer.add_data(f"jsapi_ticket={ticket}", f"noncestr={nonce}", f"timestamp={timestamp}", f"url={url.split('#')[0]}")
    return str(signer.signature)


def _as_list(messages: Message | Sequence[Message]) -> list[Message]:
    return [messages] if isinstance(messages, Message) else list(messages)


def _text(m: Message) -> str:
    if not m.text.strip():
        raise ChannelError("an empty text message cannot be sent", retryable=False)
    return m.text
