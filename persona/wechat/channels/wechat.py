"""The Official Account's send APIs: customer-service messages and template messages.

Customer-service messages reach a customer only within 48 h of their last message (and only a
few of them: the gate keeps count); template messages are for service notices. Both go over
the shared async HTTP session; the access token comes from the store-backed cache.
"""

from __future__ import annotations

import os
from typing import Any

from ...clock import Clock
from ...errors import ChannelError
from ...model.messages import Message
from ...store.base import KeyValue
from .base import Channel, HttpSession, SendResult, client_id, need, trace_entry

DEFAULT_BASE = "https://api.weixin.qq.com"


class OfficialAccountChannel(Channel):
    """One Official Account (``appid`` + ``secret``).

    ``base_url`` defaults to ``$WECHAT_API_BASE`` or the real host. Pass ``http`` to share one
    session with other channels; otherwise the channel opens its own. ``trace`` (on for any
    host but the real one) names each call's script and kind in a header for local fakes.
    """

    platform = "mp"

    def __init__(self, base_url: str | None, appid: str, secret: str, store: KeyValue, *,
                 clock: Clock | None = None, http: HttpSession | None = None, timeout: float = 10.0,
                 token_margin: float = 300.0, trace: bool | None = None, token_store: KeyValue | None = None) -> None:
        if not appid or not secret:
            raise ChannelError("the Official Account channel needs WECHAT_APPID and WECHAT_APPSECRET",
                               retryable=False)
        self.appid = appid
        self._secret = secret
        super().__init__(f"Official Account {appid}", base_url or os.environ.get("WECHAT_API_BASE") or DEFAULT_BASE,
                         DEFAULT_BASE, store, f"mp:{appid}", clock=clock, http=http, timeout=timeout,
                         token_margin=token_margin, trace=trace, token_store=token_store)

    def _token_request(self) -> tuple[str, dict[str, str]]:
        return "/cgi-bin/token", {"grant_type": "client_credential", "appid": self.appid, "secret": self._secret}

    # -- who ------------------------------------------------------------------------------
    async def unionid(self, openid: str) -> str:
        """The follower's unionid (``/cgi-bin/user/info``); "" when the account, not bound to an
        Open Platform, has none for them."""
        answer = await self.api.query("/cgi-bin/user/info", {"openid": openid, "lang": "zh_CN"})
        return str(answer.get("unionid") or "")

    # -- sending ---------------------------------------------------------------------------
    async def send(self, openid: str, message: Message, *, key: str | None = None) -> SendResult:
        """A template message when ``via`` says so, otherwise a customer-service message."""
        if message.via == "template":
            return await self.send_template(openid, message, client_msg_id=client_id(key))
        return await self.send_custom(openid, message)

    async def send_custom(self, openid: str, message: Message) -> SendResult:
        """A customer-service message (``/cgi-bin/message/custom/send``)."""
        body = {"touser": openid, **await self.custom_content(message)}
        await self.api.call("/cgi-bin/message/custom/send", body, trace=[trace_entry(message, openid)])
        return SendResult("mp_custom")

    async def send_template(self, openid: str, message: Message, *, client_msg_id: str | None = None) -> SendResult:
        """A template message. Fields: ``template_id``, ``data`` (``{key: value}`` or
        ``{key: {"value": ..., "color": ...}}``), optional ``url`` or ``miniprogram``
        (``{"appid", "pagepath"}``). ``client_msg_id`` lets WeChat drop a repeated send."""
        fields = message.fields
        data = fields.get("data") or {}
        if not isinstance(data, dict):
            raise ChannelError("a template message's field 'data' must be a mapping of template keys to values",
                               retryable=False)
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": need(fields, "template_id", "template", "the template's id from the MP console"),
            "data": {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()},
        }
        if fields.get("url"):
            body["url"] = fields["url"]
        if isinstance(fields.get("miniprogram"), dict):
            body["miniprogram"] = fields["miniprogram"]
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        answer = await self.api.call("/cgi-bin/message/template/send", body,
                                    trace=[trace_entry(message, openid)])
        msgid = answer.get("msgid")
        return SendResult("mp_template", str(msgid) if msgid is not None else None)

    async def custom_content(self, message: Message) -> dict[str, Any]:
        """The ``msgtype`` part of a customer-service message for each Message kind."""
        f, kind = message.fields, message.kind
        if kind == "text":
            if not message.text.strip():
                raise ChannelError("an empty text message cannot be sent", retryable=False)
            return {"msgtype": "text", "text": {"content": message.text}}
        if kind == "image":
            return {"msgtype": "image", "image": {"media_id": await self.image_id(message)}}
        if kind in ("news", "link"):
            return {"msgtype": "news", "news": {"articles": [article(message)][:1]}}
        if kind == "miniprogram":
            part = {"title": f.get("title") or message.text,
                    "appid": need(f, "appid", kind, "the mini program's appid"),
                    "pagepath": f.get("pagepath") or need(f, "page", kind, "the page path"),
                    "thumb_media_id": await self.thumb_id(message)}
            return {"msgtype": "miniprogrampage", "miniprogrampage": part}
        raise ChannelError(f"message kind {kind!r} cannot be sent as an Official Account customer-service message",
                           retryable=False)



def article(message: Message) -> dict[str, str]:
    """One news article from a news/link message: ``title`` (or the text), ``description``,
    ``url``, ``picurl``; a message may instead carry a ready ``articles`` list."""
    f = message.fields
    articles = f.get("articles")
    if isinstance(articles, list) and articles and isinstance(articles[0], dict):
        first = articles[0]
        return {k: str(first.get(k, "")) for k in ("title", "description", "url", "picurl")}
    title = f.get("title") or message.text
    if not title:
        raise ChannelError(f"a {message.kind} message needs a title (field 'title' or the script's text)",
                           retryable=False)
    return {"title": str(title),
            "description": str(f.get("description") or (message.text if f.get("title") else "")),
            "url": str(need(f, "url", message.kind, "the page the card opens")),
            "picurl": str(f.get("picurl") or "")}
