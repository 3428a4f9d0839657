"""What moves a customer's state machine: messages, platform events, business events, timers.

Every input names the customer it belongs to and carries a ``dedupe_key``: two inputs with
the same key for the same customer are the same input (a WeChat retry, a re-posted event)
and move the machine once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


#: Platform events that are the customer's own doing: what a persona says in answer to them
#: is a reply, not a proactive message.
BURST_EVENTS = frozenset({"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"})
ADD_EVENTS = frozenset({"add_external_contact", "add_half_external_contact"})
REPLY_EVENTS = BURST_EVENTS | ADD_EVENTS


class Platform(StrEnum):
    """Where a callback came from."""

    WECHAT = "wechat"  # an Official Account
    WECOM = "wecom"    # a WeCom self-built app (its staff, and customer contact)


class Door(StrEnum):
    """Who is at the other end of an input: a bot's customer handlers only see customers.

    A WeCom app hears three parties on one URL: customers (external contacts and their
    groups, in ``change_external_contact`` / ``change_external_chat``), the corp's own staff
    (messages to the app, following it, its menus) and the platform itself (sender ``sys``:
    staff and tag changes). An Official Account hears only customers.
    """

    CUSTOMER = "customer"
    STAFF = "staff"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Input:
    user: str
    dedupe_key: str | None = None
    #: the platform a callback came from; None for business events, timers and agents
    platform: Platform | None = None
    #: who sent it; handlers answer one door (``door=`` on the decorator, customers by default)
    door: Door = Door.CUSTOMER

    kind = "input"

    @property
    def inbound(self) -> bool:
        """True when the customer did something (opens the 48 h window, counts as activity)."""
        return True

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True, slots=True)
class TextMessage(Input):
    """The customer typed something."""

    text: str = ""
    msg_id: str | None = None
    kind = "text"

    def describe(self) -> str:
        return f"text {self.text[:40]!r}"


@dataclass(frozen=True, slots=True)
class MediaMessage(Input):
    """Image, voice, video, location, link... anything the customer sent that is not text."""

    media_type: str = "image"
    payload: dict[str, Any] = field(default_factory=dict)
    msg_id: str | None = None
    kind = "media"

    def describe(self) -> str:
        return f"media {self.media_type}"


@dataclass(frozen=True, slots=True)
class PlatformEvent(Input):
    """A WeChat/WeCom event: subscribe, unsubscribe, CLICK, SCAN, add_external_contact...

    ``name`` is lower-case (``subscribe``, ``click``, ``add_external_contact``,
    ``del_follow_user``, ``chat_add_member``...); ``key`` is the menu key, scene or
    change type; ``data`` holds the rest of the fields (WelcomeCode, ChatId, UserID...).
    """

    name: str = ""
    key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    kind = "wechat"

    @property
    def inbound(self) -> bool:
        return self.name not in {"unsubscribe", "del_follow_user", "del_external_contact",
                                 "templatesendjobfinish", "subscribe_msg_sent_event"}

    def describe(self) -> str:
        return f"wechat {self.name}" + (f" {self.key}" if self.key else "")


@dataclass(frozen=True, slots=True)
class BusinessEvent(Input):
    """An event from the brand's own systems, posted to ``/events/{bot}``."""

    name: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    kind = "event"

    @property
    def inbound(self) -> bool:
        return False

    def describe(self) -> str:
        return f"event {self.name}"


@dataclass(frozen=True, slots=True)
class TimerFired(Input):
    """A timer the persona set for this customer is due."""

    name: str = ""
    kind = "timer"

    @property
    def inbound(self) -> bool:
        return False

    def describe(self) -> str:
        return f"timer {self.name}"


@dataclass(frozen=True, slots=True)
class DeliveryReport(Input):
    """What became of a message after it left: a WeCom mass message waits for its sender's
    confirmation, and the platform is asked later whether it went out. It only adds a line
    to the journal of the customer (or group) it was for, and asks again while it waits."""

    api: str = ""
    msgid: str = ""
    status: str = ""  # pending | confirmed | failed | unconfirmed
    attempt: int = 0
    door: Door = Door.SYSTEM
    kind = "delivery"

    @property
    def inbound(self) -> bool:
        return False

    def describe(self) -> str:
        return f"delivery {self.api} {self.msgid} {self.status}"


class AgentAction(StrEnum):
    """What a human agent does in a conversation."""

    SEND = "send"
    CLOSE = "close"
    BLOCKED = "blocked"  # a message 风控 stopped: journaled, never sent


@dataclass(frozen=True, slots=True)
class AgentInput(Input):
    """A human agent's doing in a customer's conversation: a message, or giving it back.

    ``candidate`` names the suggestion the message started from (a FAQ entry id, ``llm``,
    or None when written from scratch) and ``edits`` how many characters the agent changed
    (edit distance): the journal keeps both so a brand can see which answers work as written.
    """

    agent: str = ""
    action: AgentAction = AgentAction.SEND
    text: str = ""
    candidate: str | None = None
    edits: int = 0
    #: forbidden words (the bot's risk.yaml) the message says, sent all the same (``agents: warn``)
    flagged: tuple[str, ...] = ()
    kind = "agent"

    @property
    def inbound(self) -> bool:
        return False

    def describe(self) -> str:
        return f"agent {self.action} {self.agent}"


def plain_word(text: str) -> str:
    """A message read as one word: ``" 退订。"`` and ``"TD!"`` are the words 退订 and td."""
    return text.strip().strip("。.！!？?～~ ").casefold()


#: inputs from outside that a journal keeps for replay (timers fire again by themselves)
_RECORDED: dict[str, type[Input]] = {c.kind: c for c in (TextMessage, MediaMessage, PlatformEvent, BusinessEvent,
                                                           AgentInput)}
_ENUMS: dict[str, type[StrEnum]] = {"platform": Platform, "door": Door, "action": AgentAction}


def to_record(inp: Input) -> dict[str, Any] | None:
    """The input as journal data, without its dedupe key; None for inputs that are not replayed."""
    if type(inp) not in _RECORDED.values():
        return None
    out: dict[str, Any] = {"kind": inp.kind}
    for name in inp.__dataclass_fields__:
        value = getattr(inp, name)
        if name not in ("user", "dedupe_key", "msg_id") and value not in (None, "", {}, (), Door.CUSTOMER):
            out[name] = str(value) if name in _ENUMS else value
    return out


def from_record(user: str, raw: dict[str, Any], dedupe_key: str) -> Input:
    """An input rebuilt from :func:`to_record`'s data (``persona replay``)."""
    try:
        cls = _RECORDED[raw["kind"]]
        fields: dict[str, Any] = {k: _ENUMS[k](v) if k in _ENUMS else tuple(v) if isinstance(v, list) and isinstance(
            cls.__dataclass_fields__[k].default, tuple) else v for k, v in raw.items() if k != "kind"}
        return cls(user=user, dedupe_key=dedupe_key, **fields)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"journal input {raw!r} cannot be replayed: {exc}") from None
