"""``persona chat``: a customer in a terminal, piped, on a fake clock and the fake WeChat API.

Every message the bot sends is one ``bot> [YYYY-MM-DD HH:MM] TEXT`` line (continuations
indented, ``(to RECIPIENT)`` for someone else), and no other line starts with ``bot> ``.
"""

from __future__ import annotations


def bot_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("bot> ")]


SHOP = """\
/wechat subscribe {"key": "poster"}
价格
/event order_placed {"amount": 1200}
/advance 3h
/state
/tags
/timers
/quit
你好
"""


def test_a_conversation_with_messages_events_and_the_clock(cli):
    # it starts with a follow: an Official Account follower, whose 48 h window her message opens
    done = cli("chat", "tests.core.shop", "--user", "o_amy", input=SHOP)
    assert done.returncode == 0, done.stderr
    assert bot_lines(done.stdout) == [
        "bot> [2026-11-23 09:00] 欢迎来到小店！新人券已放进你的卡包。",
        "bot> [2026-11-23 09:00] 这款现在¥1,299.00",
        "bot> [2026-11-23 09:00] 恭喜升级 VIP！",
        "bot> [2026-11-23 09:00] 谢谢惠顾，¥1,200.00 已收到。",
        "bot> [2026-11-23 09:00] (to staff:sales01) 谢谢惠顾，¥1,200.00 已收到。",
        "bot> [2026-11-23 12:00] 用得怎么样？来写个评价吧。",
    ]
    lines = done.stdout.splitlines()
    assert "state: vip" in lines
    assert "tags: source=poster  spend=high  vip" in lines
    assert "timers:" in lines and any(line.strip().startswith("day3") and "2026-11-26 10:00" in line
                                      for line in lines)
    assert "now 2026-11-23 12:00" in lines
    assert "you> 你好" not in lines  # nothing after /quit


def test_mistakes_are_explained_and_the_chat_goes_on(cli):
    script = "\n".join([
        '/event order_placed {"amount": 12',  # bad JSON
        "/event refund {}",  # an event the bot does not handle: the runtime says so
        "/teleport",  # not a command
        "/advance soon",
        "boom",  # a handler that fails
        "价格",  # and the chat still works
    ]) + "\n"
    done = cli("chat", "tests.core.shop", "--user", "o_amy", input=script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("error: /event: not valid JSON") for line in lines), done.stdout
    assert "  ! event refund failed: Shop has no handler for event 'refund'" in lines
    assert any(line.startswith("error: unknown command /teleport") for line in lines)
    assert any(line.startswith("error: duration 'soon'") for line in lines)
    assert "  ! text 'boom' failed: RuntimeError: the handler broke" in lines
    assert bot_lines(done.stdout) == ["bot> [2026-11-23 09:00] 这款现在¥1,299.00"]
    assert "Traceback" not in done.stdout + done.stderr


def test_multi_line_text_and_what_the_gate_held_back(cli):
    script = "\n".join([
        "/wechat subscribe",
        "你好",
        "/advance 1d",
        "/advance 2d",
        '/event signed_up {"plan": "gold"}',
        "/state",
    ]) + "\n"
    done = cli("chat", "persona.scaffold.starter", "--user", "o_dan", "--start", "2026-11-23 22:30", input=script)
    assert done.returncode == 0, done.stderr
    indent = " " * len("bot> [2026-11-23 22:30] ")
    welcome = "bot> [2026-11-23 22:30] 你好，欢迎来到Starter！我是你的专属顾问，有问题随时发消息给我。"
    assert bot_lines(done.stdout) == [
        welcome,
        "bot> [2026-11-23 22:30] 收到～你可以回复：",
        "bot> [2026-11-25 08:00] 还在考虑吗？会员方案 ¥199.00/年，这周开通还送一节体验课。回复「价格」看看详情～",
        # the thanks is service and the 48 h window has closed: the starter's fallback template
        "bot> [2026-11-26 22:30] [template]",
    ]
    lines = done.stdout.splitlines()
    assert lines[lines.index(welcome) + 1] == indent + "回复「价格」看看会员方案。"
    help_at = lines.index("bot> [2026-11-23 22:30] 收到～你可以回复：")
    assert lines[help_at + 1:help_at + 3] == [indent + "「价格」看会员方案", indent + "「退订」不再接收推送"]
    # the nudge falls due at 22:30 the next day, in quiet hours: it waits for the morning
    assert "  · nudge held until 2026-11-25 08:00 (quiet_hours)" in lines, done.stdout
    # three days after her last message the customer-service window is closed, even for service:
    # the starter's Policy(fallback_template="notice") sends the thanks as a template message
    assert not [line for line in lines if "not sent" in line], done.stdout
    assert "state: member" in lines


def test_a_message_the_window_drops_is_shown_with_what_to_do(cli):
    script = "\n".join(["/wechat subscribe", "/advance 4d"]) + "\n"
    done = cli("chat", "tests.core.shop", "--user", "o_eve", input=script)
    assert done.returncode == 0, done.stderr
    [dropped] = [line for line in done.stdout.splitlines() if "not sent" in line]
    assert dropped.startswith("  · day3 not sent: kf_window_closed (an Official Account customer who has not "
                              "written within 48 h; Policy(fallback_template=...)"), done.stdout


def test_wecom_welcome_and_news_cards(cli):
    script = "\n".join([
        '/wechat add_external_contact {"key": "parcel_lipstick", "data": {"welcome_code": "W1", "staff": "zhang"}}',
        "/advance 7d",
    ]) + "\n"
    done = cli("chat", "bots.xiaowanzi", input=script)
    assert done.returncode == 0, done.stderr
    out = bot_lines(done.stdout)
    assert out[0].startswith("bot> [2026-11-23 09:00] 收到你的包裹啦？")
    news = [line for line in out if "[news]" in line]
    assert news and news[0].startswith("bot> [2026-11-25 09:00] [news] ")  # the second pitch, a card
    lines = done.stdout.splitlines()
    after = lines[lines.index(news[0]) + 1]
    assert after.startswith(" " * 24) and after.strip()


def test_advance_reads_the_units_people_type(cli):
    script = "\n".join(["/wechat subscribe", "/advance 3 days", "/advance 3天", "/advance 12 hours",
                        "/advance 1 fortnight", "/now"]) + "\n"
    done = cli("chat", "tests.core.shop", "--user", "o_amy", input=script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "now 2026-11-26 09:00" in lines and "now 2026-11-29 09:00" in lines, done.stdout
    assert "now 2026-11-29 21:00" in lines, done.stdout
    refused = [line for line in lines if line.startswith("error: duration '1 fortnight'")]
    assert refused and "unknown unit 'fortnight'" in refused[0] and "d/days/天" in refused[0], done.stdout


def test_an_event_whose_data_does_not_match_its_declaration_is_refused_naming_the_field(cli):
    script = '/event order_placed {"order_id": "A1", "amount": "九十"}\n/state\n'
    done = cli("chat", "bots.xiaowanzi", "--user", "wm_amy", input=script)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "error: event 'order_placed': field 'amount' must be number (got \"九十\")" in lines, done.stdout
    assert "state: new (not seen yet)" in lines
