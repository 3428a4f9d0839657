"""Dead letters as a person reads them, and putting one back in the outbox.

``persona dead-letters`` and the studio's bot page show the same recipient and summary and
requeue through the same call."""

from __future__ import annotations

import json
import time
from typing import Any

from ..model.messages import Message
from ..store import Store
from ..store.base import OutboxItem


async def requeue(store: Store, item_id: str) -> tuple[bool, str]:
    """Move one dead letter back to the outbox, due now, with its attempts reset (one atomic
    store step: a crash leaves it a dead letter or an outbox item, never neither)."""
    item = await store.requeue_dead_letter(item_id, time.time())
    if item is None:
        return False, f"{item_id}: not a dead letter (unknown id, or retried already)"
    return True, f"{item_id}: back in the outbox for {item.user}"


def decoded(item: OutboxItem) -> Any:
    try:
        return json.loads(item.payload)
    except ValueError:
        return item.payload


def recipient(item: OutboxItem) -> str:
    """Who the dead letter was for (a member of staff or a group for messages to others)."""
    payload = decoded(item)
    if isinstance(payload, dict) and isinstance(payload.get("message"), dict):
        return str(payload["message"].get("to") or payload.get("user") or item.user)
    return item.user


def summary(item: OutboxItem) -> str:
    """The dead letter in one line: script and the start of its text, or the effect and its data."""
    payload = decoded(item)
    if not isinstance(payload, dict):
        return f"payload: {str(payload)[:80]}"
    if payload.get("type") == "message" and isinstance(payload.get("message"), dict):
        try:
            message = Message.from_dict(payload["message"])
        except TypeError:
            return f"message: {json.dumps(payload['message'], ensure_ascii=False)[:80]}"
        summary = message.summary().replace("\n", " ")
        summary = summary if len(summary) <= 70 else summary[:69] + "…"
        return f"{message.script or message.kind}: {summary}"
    rest = {k: v for k, v in payload.items() if k not in ("type", "from")}
    return f"{payload.get('type', '?')}: {json.dumps(rest, ensure_ascii=False)[:80]}"
