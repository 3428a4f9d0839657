"""Passive replies: the one message a persona may say in the HTTP answer to a callback.

WeChat shows at most one passive reply per callback, only to whoever sent it, and only of a
few kinds; everything else goes out through the send APIs. The XML itself is rendered by
wechatpy's reply classes; this module only decides which class and what goes in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wechatpy import replies as oa_replies

try:  # wechatpy 2 names the WeCom package "work"
    from wechatpy.work import replies as wecom_replies
except ImportError:
    from wechatpy.enterprise import replies as wecom_replies

from persona.errors import PersonaError
from persona.model.inputs import Input
from persona.model.messages import Message

#: The answer that tells WeChat "received, nothing to say" so it does not retry.
SUCCESS = "success"

#: Message kinds WeChat accepts as a passive reply.
PASSIVE_KINDS: frozenset[str] = frozenset({"text", "image", "link", "news"})

#: Senders that are the platform itself, not a person who could read a reply.
SYSTEM_SENDERS = frozenset({"", "sys"})


class ReplyError(PersonaError, ValueError):
    """A message cannot be a passive reply; send it through the platform's send API instead."""


@dataclass(frozen=True, slots=True)
class Callback:
    """One verified callback: the input it means and what answering it needs.

    Immutable and small, so the service can keep it for the whole turn and answer a
    retried callback exactly as it answered the first one.
    """

    input: Input
    #: ToUserName: the Official Account's original id (``gh_...``) or the WeCom corp id.
    account: str
    #: FromUserName: an openid, a staff member's UserID, or ``sys`` for WeCom system events.
    sender: str
    #: Lower-case MsgType (``text``, ``image``, ``event``...).
    msg_type: str
    nonce: str
    timestamp: str
    #: True when the callback came encrypted; its reply is then encrypted and signed too.
    encrypted: bool
    #: Every field of the message, tags as WeChat spells them, for logs of unknown types.
    fields: dict[str, Any] = field(default_factory=dict)
    #: WeCom AgentID of the app the callback is for, when there is one.
    agent_id: str | None = None

    @property
    def replyable(self) -> bool:
        """False for platform system events, whose sender cannot receive a passive reply."""
        return self.sender not in SYSTEM_SENDERS


def can_reply(callback: Callback, message: Message) -> bool:
    """Whether ``message`` can go out as the passive reply to ``callback``."""
    if not callback.replyable or message.kind not in PASSIVE_KINDS:
        return False
    if message.to not in (None, f"user:{callback.sender}", f"staff:{callback.sender}"):
        return False
    if message.kind == "image":
        return bool(message.fields.get("media_id"))
    return True


def render(callback: Callback, message: Message, create_time: int, *, wecom: bool = False,
           agent_id: str | None = None) -> str:
    """The plaintext reply XML for ``message`` addressed to the callback's sender.

    A WeCom reply names the app: the callback's ``AgentID``, else ``agent_id`` (the configured
    ``WECOM_AGENTID``), else no ``AgentID`` element at all — never a made-up 0.
    Raises :class:`ReplyError` when :func:`can_reply` would say no.
    """
    if not can_reply(callback, message):
        raise ReplyError(
            f"a {message.kind!r} message to {message.to or callback.sender!r} cannot be the "
            f"passive reply to a {callback.msg_type!r} callback from {callback.sender!r}; "
            "send it through the platform's send API")
    common: dict[str, Any] = {"source": callback.account, "target": callback.sender,
                              "time": create_time}
    kinds = oa_replies  # wechatpy's WeCom replies are these plus AgentID
    agent = next((a for a in (callback.agent_id, agent_id) if _agent_id(a)), None) if wecom else None
    if agent is not None:
        kinds = wecom_replies
        common["agent"] = int(agent)
    if message.kind == "text":
        reply = kinds.TextReply(content=cdata(message.text), **common)
    elif message.kind == "image":
        reply = kinds.ImageReply(image=cdata(str(message.fields["media_id"])), **common)
    else:
        reply = kinds.ArticlesReply(articles=_articles(message), **common)
    return str(reply.render())


def _agent_id(value: str | None) -> bool:
    """An AgentID a reply can carry. It comes from the sender: "²" passes isdigit() and 5 000
    digits overflow int()."""
    return value is not None and value.isascii() and value.isdigit() and 0 < len(value) <= 18


def _articles(message: Message) -> list[dict[str, str]]:
    items = message.fields.get("articles") or [
        {"description": message.text, **message.fields}]
    # ``picurl``, as the send APIs name the picture; wechatpy calls it ``image``
    names = {"title": "title", "description": "description", "url": "url", "picurl": "image"}
    return [{theirs: cdata(str(item.get(ours) or "")) for ours, theirs in names.items()} for item in items]


def cdata(text: str) -> str:
    """Text safe inside wechatpy's ``<![CDATA[...]]>``: a ``]]>`` would end the section early."""
    return text.replace("]]>", "]]]]><![CDATA[>") if "]]>" in text else text
