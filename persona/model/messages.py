"""Outgoing messages: what a persona says, to whom, and through which door.

A message is plain data so it can sit in the outbox (the store) between the commit of a
customer's turn and its delivery through WeChat's send APIs.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "image", "link", "news", "miniprogram"]
KINDS: tuple[str, ...] = ("text", "image", "link", "news", "miniprogram")

#: WeChat rejects text messages longer than this many UTF-8 bytes.
TEXT_LIMIT_BYTES = 2048


@dataclass(slots=True)
class Message:
    """One message.

    ``to`` is ``None`` for the customer whose turn produced it, otherwise a recipient address:
    ``user:<openid>`` (another customer), ``staff:<userid>`` (a WeCom member),
    ``group:<chat_id>`` (a customer group) or ``staff_group:<chat_id>`` (an internal group).
    ``proactive`` is False only for a reply to the customer's own message; ``category`` is
    ``service`` (order status, reminders the customer asked for) or ``marketing``.
    ``via`` picks the platform API: ``kf`` (Official Account customer service), ``template``,
    ``welcome`` (WeCom welcome message), ``mass`` (WeCom customer mass message), ``app``
    (WeCom app message to staff), ``group``; empty means the channel chooses.
    """

    kind: str
    text: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    to: str | None = None
    proactive: bool = True
    category: str = "marketing"
    via: str = ""
    script: str = ""
    #: the A/B variant of the script this message used ("" for a script without variants)
    variant: str = ""
    #: the published version of the script (0: the file in ``scripts/``)
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the outbox; empty parts left out (this runs on every message)."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("text", "to", "via", "script", "variant", "version"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.fields:
            out["fields"] = json.loads(json.dumps(self.fields))  # a deep copy that stays JSON
        out["proactive"] = self.proactive
        out["category"] = self.category
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Message":
        return cls(**data)

    def digest(self) -> str:
        """A short fingerprint of what the message says: journaled with it, so a replay can tell
        a reworded script from an unchanged one without the journal keeping the text."""
        body = f"{self.kind}\x1f{self.text}"
        if self.fields:
            body += "\x1f" + json.dumps(self.fields, ensure_ascii=False, sort_keys=True)
        return format(zlib.crc32(body.encode()), "08x")

    def summary(self) -> str:
        """One line for logs, journals and the chat simulator."""
        if self.kind == "text":
            return self.text
        title = self.fields.get("title") or self.fields.get("url") or self.fields.get("media") or ""
        return f"[{self.kind}] {title}".rstrip()
