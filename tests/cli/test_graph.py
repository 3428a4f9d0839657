"""``persona graph``: states, transitions and timers, as Mermaid, DOT or a drawing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def test_mermaid_shows_states_transitions_and_timers(cli):
    done = cli("graph", "tests.core.shop")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == "flowchart LR"
    assert '    start(("start")) --> s0' in lines
    assert '    s0(["new"])' in lines and '    s3(["vip"])' in lines
    assert '    s0 -->|"welcome"| s1' in lines
    assert '    s2 -->|"promote [spent_enough]"| s3' in lines
    # a timer limited to states loops on each of them, dashed, with its schedule
    assert '    s2 -.->|"⏰ review: set by the bot"| s2' in lines
    assert '    s3 -.->|"⏰ review: set by the bot"| s3' in lines
    # a timer of any state goes in the note
    note = next(line for line in lines if line.startswith("    anywhere["))
    assert "day3: day 3 at 10:00" in note


def test_a_timer_that_moves_the_customer_points_at_the_new_state(cli, tmp_path):
    out = tmp_path / "coach.dot"
    done = cli("graph", "bots.fitness_coach", "-o", str(out))
    assert done.returncode == 0, done.stderr
    dot = out.read_text(encoding="utf-8")
    assert dot.startswith('digraph "fitness_coach" {')
    assert '"training" -> "paused" [label="idle: set by the bot → pause", style=dashed' in dot
    assert '"training" -> "training" [label="brief: daily at brief_time() on training_days()", style=dashed' in dot
    assert '"training" -> "paused" [label="pause"];' in dot


def test_mmd_file(cli, tmp_path):
    out = tmp_path / "flow" / "xiaowanzi.mmd"
    done = cli("graph", "bots.xiaowanzi", "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    assert 's1 -.->|"⏰ coupon_nudge: 3h after entering if reachable"| s1' in text
    assert f"wrote {out}" in done.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_through_graphviz(cli, tmp_path):
    out = tmp_path / "xiaowanzi.svg"
    done = cli("graph", "bots.xiaowanzi", "-o", str(out))
    assert done.returncode == 0, done.stderr
    svg = out.read_text(encoding="utf-8")
    assert "<svg" in svg and "welcomed" in svg and "coupon_nudge" in svg


def test_without_graphviz_an_svg_request_writes_mermaid_beside_it(cli, tmp_path):
    out = tmp_path / "shop.svg"
    done = cli("graph", "tests.core.shop", "-o", str(out), env={"PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert not out.exists()
    assert (tmp_path / "shop.mmd").read_text(encoding="utf-8").startswith("%% shop:")
    assert "dot is not installed" in done.stderr


def test_an_unknown_bot_is_a_usage_error(cli):
    done = cli("graph", "bots.nobody", "-o", str(Path("/tmp/never.mmd")))
    assert done.returncode == 2 and "cannot import bot 'bots.nobody'" in done.stderr


DENTAL = '''
from persona import Persona, Turn, on


class Dental(Persona):
    name = "dental"
    states = ["new", "booked", "treated"]
    transitions = [["book", ["new", "treated"], "booked"], ["treat", "booked", "treated"]]

    @on.event("booked")
    async def booked(self, turn: Turn) -> None:
        await turn.trigger("book")
        turn.schedule("reminder", after=3600)  # bound to "booked", where the trigger leads

    @on.event("treated")
    async def treated(self, turn: Turn) -> None:
        await turn.trigger("treat")
        turn.schedule("survey", after=60, bound=False)

    @on.timer("reminder")
    def remind(self, turn: Turn) -> None:
        pass

    @on.timer("survey")
    def survey(self, turn: Turn) -> None:
        pass
'''


def test_a_timer_a_handler_schedules_is_drawn_on_the_state_it_is_bound_to(cli, tmp_path):
    (tmp_path / "dental" / "scripts").mkdir(parents=True)
    (tmp_path / "dental" / "__init__.py").write_text(DENTAL, encoding="utf-8")
    done = cli("graph", "dental", pythonpath=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert '    s1 -.->|"⏰ reminder: set by the bot"| s1' in lines
    note = next(line for line in lines if line.startswith("    anywhere["))
    assert "survey: set by the bot" in note and "reminder" not in note


@pytest.mark.parametrize("kind,english,chinese", [
    ({}, "set by the bot", "由机器人设定"),
    ({"after": "3h", "state": "a"}, "3h after entering", "进入状态 3 小时后"),
    ({"after": "90m"}, "90m after joining", "首次互动 90 分钟后"),
    ({"daily": "10:00", "weekdays": {1, 3, 7}}, "daily 10:00 on days 1,3,7", "每天 10:00，每周一、三、日"),
    ({"monthly": 8, "at": "09:00"}, "monthly, day 8 at 09:00", "每月 8 日 09:00"),
    ({"days_after_joining": 7, "at": "10:00", "when": "reachable"}, "day 7 at 10:00 if reachable",
     "加入 7 天后 10:00（仅当 reachable）"),
    ({"days_after_joining": 0, "at": "20:00"}, "day 0 at 20:00", "加入当天 20:00"),
    ({"inactive": "2d"}, "after 2d inactive", "2 天无互动后"),
])
def test_a_timer_is_described_in_english_for_the_command_line_and_in_chinese_for_the_studio(kind, english, chinese):
    from persona import on
    from persona.content.graph import describe

    spec = on.timer("t", **kind).route.timer
    assert describe(spec) == english
    assert describe(spec, "zh") == chinese
