"""Journal lines as the timeline shows them: the gate's decision and reason on every message,
the staff member on a manual opt-out, an agent's reply, and free text masked when asked."""

from __future__ import annotations

import json

from persona.studio.timeline import RowKind, rows

T = 1795395600  # 2026-11-23 09:00 in Asia/Shanghai


def line(**entry: object) -> str:
    return json.dumps({"t": T, **entry}, ensure_ascii=False)


def test_messages_carry_the_gate_decision_and_why():
    journal = [line(k="out", script="welcome", action="send"),
               line(k="out", script="day7_related", action="defer", reason="quiet_hours", due=T + 3600),
               line(k="out", script="flash_sale", action="drop", reason="daily_cap")]
    shown = rows(journal, "Asia/Shanghai", personal=True)
    assert [(r.text, r.decision, r.detail) for r in shown] == [
        ("flash_sale", "未发送", "超过每日上限"),
        ("day7_related", "已延后", "延后到 2026-11-23 10:00：免打扰时段"),
        ("welcome", "已发送", ""),
    ]


def test_people_are_named_and_personal_text_masked():
    journal = [line(k="in", input="text '电话13812345678'", handler="order_status"),
               line(k="opt_out", input="event persona:opt_out", by="root"),
               line(k="agent", agent="alice", text="您好，已为您查询", candidate=None),
               line(k="handback", why="closed", agent="alice", held=60)]
    shown = rows(journal, "Asia/Shanghai", personal=False)
    assert shown[0].kind is RowKind.AGENT and shown[0].detail == "alice：closed"
    assert (shown[1].label, shown[1].text, shown[1].detail) == ("人工回复", "您好，已为您查询", "由 alice 发送")
    assert shown[2].detail == "由 root 手动操作"
    assert shown[3].text == "text '电话138****5678' → order_status"
    assert rows(journal, "Asia/Shanghai", personal=True)[3].text == "text '电话13812345678' → order_status"


def test_the_desks_steps_say_who_was_assigned_and_what_risk_control_stopped():
    journal = [line(k="handoff", reason="words", text="人工", assigned="lisi", open=False),
               line(k="agent_blocked", agent="lisi", words=["稳赚"], text="这只基金稳赚"),
               line(k="agent", agent="lisi", text="跟着练，包瘦", flagged=["包瘦"])]
    shown = rows(journal, "Asia/Shanghai", personal=True)
    assert [(r.label, r.detail) for r in shown] == [
        ("人工回复", "由 lisi 发送（风控提醒：包瘦）"),
        ("风控拦截", "lisi 的消息含禁用词 稳赚，没有发送"),
        ("转人工", "words，分配给 lisi（非工作时间）")]


def test_an_arrival_through_a_channel_code_names_the_channel_and_the_staff_member():
    shown = rows([line(k="channel", channel="parcel_lipstick", staff="zhangsan")], "Asia/Shanghai", personal=False)
    assert [(r.kind, r.label, r.text, r.detail) for r in shown] == [
        (RowKind.INPUT, "来源渠道", "parcel_lipstick", "添加了 zhangsan")]
