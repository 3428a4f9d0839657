"""One customer's journal as rows a person reads: what came in, which handler took it, every
message with the gate's decision and why, transitions, opt-outs (with the staff member who did
it) and errors. Times are in the customer's own time zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ..engine.gate import Action
from ..model.templates import FALLBACK_NOTE
from ..model.timers import zone
from .masking import mask_text

TIME = "%Y-%m-%d %H:%M"

REASONS = {
    "opted_out": "客户已退订", "daily_cap": "超过每日上限", "weekly_cap": "超过每周上限",
    "quiet_hours": "免打扰时段", "stale_after_quiet_hours": "免打扰结束时已过时",
    "kf_window_closed": "48小时客服窗口已关闭", "kf_window_spent": "48小时窗口内条数已用完",
    "template_is_for_service": "模板消息只能用于服务通知", "welcome_window_closed": "欢迎语20秒窗口已过",
    "welcome_code_used": "欢迎语 code 已使用", "mass_daily_cap": "群发每日上限",
    "mass_monthly_cap": "群发每月上限", "passive_reply": "被动回复", "other_recipient": "发给员工或群",
    "fallback_template": "改用模板消息", "welcome_attachment": "欢迎语附件",
    "handoff": "人工接待中，机器人暂停营销",
}


class RowKind(StrEnum):
    INPUT = "input"
    MESSAGE = "message"
    TRANSITION = "transition"
    OPT = "opt"
    TIMER = "timer"
    AGENT = "agent"  # a person answering, and the hand-offs to and from them
    ERROR = "error"
    FALLBACK = "fallback"  # a published script version failed; an earlier one was said instead
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Row:
    when: str
    kind: RowKind
    label: str         # 输入, 消息, 状态...
    text: str
    decision: str = ""  # sent / deferred / dropped, for messages
    detail: str = ""    # the gate's reason, the staff member...


def local(epoch: float | None, tz: str) -> str:
    return datetime.fromtimestamp(epoch, zone(tz)).strftime(TIME) if epoch else "-"


def rows(journal: list[str], tz: str, *, personal: bool) -> list[Row]:
    """Newest first; free text is masked unless ``personal``."""
    out = [_row(raw, tz) for raw in journal]
    if not personal:
        out = [Row(r.when, r.kind, r.label, mask_text(r.text), r.decision, mask_text(r.detail)) for r in out]
    return out[::-1]


def _row(raw: str, tz: str) -> Row:
    try:
        entry = json.loads(raw)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        return Row("-", RowKind.OTHER, "记录", raw)
    when = local(entry.get("t"), tz)
    kind = entry.get("k")
    if kind == "in":
        handler = entry.get("handler") or "无处理"
        text = f"{entry.get('input', '?')} → {handler}"
        return Row(when, RowKind.INPUT, "输入", text, detail=f"到期 {local(entry['due'], tz)}" if "due" in entry else "")
    if kind == "out":
        to = f"（发给 {entry['to']}）" if entry.get("to") else ""
        action, reason = entry.get("action", "?"), entry.get("reason") or ""
        detail = REASONS.get(reason, reason)
        if action == Action.DEFER and entry.get("due"):
            detail = f"延后到 {local(entry['due'], tz)}" + (f"：{detail}" if detail else "")
        label = {Action.SEND: "已发送", Action.DEFER: "已延后", Action.DROP: "未发送"}.get(action) or str(action)
        return Row(when, RowKind.MESSAGE, "消息", f"{entry.get('script', '?')}{to}", label, detail)
    if kind == "transition":
        return Row(when, RowKind.TRANSITION, "状态",
                   f"{entry.get('from', '?')} → {entry.get('to', '?')}", detail=str(entry.get("trigger", "")))
    if kind in ("opt_out", "opt_in"):
        by = f"由 {entry['by']} 手动操作" if entry.get("by") else str(entry.get("input", ""))
        return Row(when, RowKind.OPT, "退订" if kind == "opt_out" else "恢复订阅",
                   "客户退订营销消息" if kind == "opt_out" else "客户恢复接收营销消息", detail=by)
    if kind == "agent":
        flagged = f"（风控提醒：{'、'.join(entry['flagged'])}）" if entry.get("flagged") else ""
        return Row(when, RowKind.AGENT, "人工回复", str(entry.get("text", "")),
                   detail=f"由 {entry.get('agent', '?')} 发送{flagged}")
    if kind == "agent_blocked":
        return Row(when, RowKind.AGENT, "风控拦截", str(entry.get("text", "")),
                   detail=f"{entry.get('agent', '?')} 的消息含禁用词 {'、'.join(entry.get('words', []))}，没有发送")
    if kind == "handoff":
        assigned = f"，分配给 {entry['assigned']}" if entry.get("assigned") else ""
        hours = "（非工作时间）" if entry.get("open") is False else ""
        return Row(when, RowKind.AGENT, "转人工", str(entry.get("text") or ""),
                   detail=f"{entry.get('reason', '')}{assigned}{hours}")
    if kind == "handback":
        by = f"{entry['agent']}：" if entry.get("agent") else ""
        return Row(when, RowKind.AGENT, "交回机器人", "", detail=f"{by}{entry.get('why', '')}")
    if kind and str(kind).startswith("timer_"):
        rest = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("t", "k", "timer"))
        return Row(when, RowKind.TIMER, "定时", f"{entry.get('timer', '?')}: {kind[6:]}", detail=rest)
    if kind in ("merged", "merged_into"):  # one person's two records became one (engine/merge.py)
        why = str(entry.get("why", ""))
        why = "手动关联" if why == "linked by hand" else why.replace("unionid ", "unionid 相同：", 1)
        text = (f"并入 {entry.get('from', '?')} 的记录（原状态 {entry.get('state', '?')}）" if kind == "merged"
                else f"此记录并入客户 {entry.get('to', '?')}")
        return Row(when, RowKind.OTHER, "合并", text, detail=why)
    if kind == "channel":  # arrived through a channel code (persona.engine.acquisition)
        staff = f"添加了 {entry['staff']}" if entry.get("staff") else ""
        return Row(when, RowKind.INPUT, "来源渠道", str(entry.get("channel", "")), detail=staff)
    if kind == "error":
        return Row(when, RowKind.ERROR, "错误", str(entry.get("input", "?")), detail=str(entry.get("error", "")))
    if kind == FALLBACK_NOTE:
        variant = f" · A/B {entry['variant']}" if entry.get("variant") else ""
        used = f"v{entry['used']}" if entry.get("used") else "代码里的文件（v0）"
        return Row(when, RowKind.FALLBACK, "话术出错", f"{entry.get('script', '?')} v{entry.get('v', '?')}{variant} "
                   f"渲染失败，改发 {used}", detail=str(entry.get("error", "")))
    rest = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}"
                     for k, v in entry.items() if k not in ("t", "k"))
    return Row(when, RowKind.OTHER, str(kind or "记录"), rest)
