"""The audit log: who did what to which bot or customer, and when. Admins read it in the studio.

Entries live in one sorted set scored by time, newest first when read; each carries a random id
so two identical actions in the same second stay two entries.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ..store import Store

KEY = "studio:audit"


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKED = "locked"
    LOGOUT = "logout"
    ADD_ACCOUNT = "add_account"
    PUBLISH = "publish"
    ROLLBACK = "rollback"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    REQUEUE = "requeue"
    MESSAGE_SENT = "message_sent"
    LIBRARY = "library"  # the 内容库 changed
    CAMPAIGN = "campaign"  # a 群发 scheduled or cancelled (detail["change"])
    CODES = "codes"  # a 渠道活码 made or removed
    DENIED = "denied"  # a request the role does not allow


LABELS: dict[Action, str] = {
    Action.LOGIN: "登录", Action.LOGIN_FAILED: "登录失败", Action.LOCKED: "账户锁定", Action.LOGOUT: "退出",
    Action.ADD_ACCOUNT: "添加账户", Action.PUBLISH: "发布话术", Action.ROLLBACK: "回滚话术",
    Action.OPT_OUT: "设为退订", Action.OPT_IN: "恢复订阅", Action.REQUEUE: "重新投递死信",
    Action.MESSAGE_SENT: "人工发送消息", Action.LIBRARY: "修改内容库", Action.CODES: "修改渠道活码",
    Action.CAMPAIGN: "群发", Action.DENIED: "越权被拒",
}


@dataclass(frozen=True, slots=True)
class Entry:
    when: float
    actor: str
    action: Action
    target: str
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, actor: str, action: Action, target: str = "", **detail: Any) -> Entry:
        entry = Entry(time.time(), actor, action, target, detail)
        member = json.dumps({"id": secrets.token_hex(6), "t": entry.when, "actor": actor, "action": str(action),
                             "target": target, "detail": detail}, ensure_ascii=False, sort_keys=True)
        await self.store.zincr(KEY, member, entry.when)
        return entry

    async def recent(self, n: int = 200) -> list[Entry]:
        out = []
        for member, _ in await self.store.ztop(KEY, n):
            data = json.loads(member)
            out.append(Entry(float(data["t"]), data["actor"], Action(data["action"]), data["target"],
                             data["detail"]))
        return out
