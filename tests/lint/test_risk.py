"""风控: a bot's forbidden words, refused in scripts, FAQ answers and at publish, and blocked (or
journaled) in an agent's message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona.content.lint import ERROR, lint
from persona.content.risk import RiskError, parse
from persona.content.scripts import ScriptCatalog
from persona.engine.desk import Desk, DeskError
from persona.errors import ScriptRejected
from persona.model.persona import load_persona
from persona.model.templates import ScriptBook
from persona.model.wording import ZH
from persona.store import open_store
from persona.testing import Simulation
from tests.conftest import BotPackage

FINANCE = "bots.finance_secretary"


def draft(bot: str, **texts: str) -> list[str]:
    cls = load_persona(bot)
    report = lint(cls, ScriptBook.draft(cls.folder() / "scripts", {}, texts))
    return [f"{p.file.rsplit('/', 1)[-1]}:{p.line}: {p.message}" for p in report.problems if p.severity == ERROR]


def test_a_script_with_a_forbidden_word_is_an_error_naming_the_word_and_line():
    cls = load_persona(FINANCE)
    text = (cls.folder() / "scripts" / "my_plans.j2").read_text(encoding="utf-8") + "\n这只基金稳赚，放心投。"
    [found] = draft(FINANCE, my_plans=text)
    line = text.count("\n") + 1
    assert found.startswith(f"my_plans.j2:{line}: '稳赚' is a forbidden word (risk.yaml): 承诺收益"), found


def test_a_pattern_tells_a_claim_from_the_warning_a_fund_must_give():
    rules = parse("forbidden:\n  - pattern: '(?<![不非])保本'\n", Path("risk.yaml"))
    assert [h.found for h in rules.find("这只基金保本")] == ["保本"]
    assert rules.find("基金不保本，收益会随市场波动") == []


def test_a_forbidden_word_brought_by_a_value_is_caught_when_rendering_the_samples(tmp_path, monkeypatch):
    package = BotPackage(tmp_path, "riskbot", "from persona import Persona, Turn, on\n\n\n"
                         "class Riskbot(Persona):\n    states = ['new']\n\n    @on.text()\n"
                         "    def hi(self, turn: Turn) -> None:\n        turn.say('pitch', slogan='x')\n")
    (package.path / "risk.yaml").write_text("forbidden:\n  - word: 根治\n    why: 医疗用语\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = package.write({"pitch": "新品：{{ slogan }}"}, samples={"buyer": {"slogan": "三天根治痘痘"}})
    try:
        found = [p for p in lint(name).problems if p.severity == ERROR]
    finally:
        package.forget()
    [problem] = found
    assert "rendered for samples/buyer.json" in problem.message and "'根治'" in problem.message
    assert "用示例 samples/buyer.json 渲染后，正文里有禁用词 '根治'" in problem.says(ZH)


def test_an_faq_answer_with_a_forbidden_word_is_an_error(tmp_path, monkeypatch):
    package = BotPackage(tmp_path, "faqbot", "from persona import Persona\n\n\nclass Faqbot(Persona):\n"
                         "    states = ['new']\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = package.lint_errors({"risk.yaml": "forbidden: [零风险]\n",
                                 "faq.yaml": "- id: safe\n  q: [安全吗]\n  a: 放心，零风险。\n"})
    assert found == ["safe: the answer says the forbidden word '零风险' (risk.yaml)"]


@pytest.mark.parametrize("text, says", [
    ("forbidden: {a: 1}\n", "forbidden: give a list"),
    ("agents: maybe\n", "write block or warn"),
    ("forbidden:\n  - pattern: '(unclosed'\n", "is not a regular expression"),
    ("forbidden: [\n", "not valid YAML"),
])
def test_a_broken_risk_list_is_a_clear_error(text, says):
    with pytest.raises(RiskError, match=says):
        parse(text, Path("risk.yaml"))


async def test_publishing_a_forbidden_word_is_refused():
    cls = load_persona(FINANCE)
    store = open_store("memory://", "finance")
    text = (cls.folder() / "scripts" / "help.j2").read_text(encoding="utf-8") + "\n定投零风险。"
    with pytest.raises(ScriptRejected, match="'零风险' is a forbidden word"):
        await ScriptCatalog(cls, store).publish("help", text, author="wendy")
    assert await store.script_versions("help") == []


async def test_an_agents_message_with_a_forbidden_word_is_blocked_and_counted():
    async with Simulation(FINANCE, start="2026-11-23 09:00") as sim:
        desk = Desk(sim.runtime)
        await sim.text("wmLi", "转人工")
        with pytest.raises(DeskError) as blocked:
            await desk.send("wmLi", "小王", "这只基金保证收益，年化 8%")
        assert blocked.value.status == 422 and "'保证收益'" not in str(blocked.value)
        assert "保证收益" in str(blocked.value) and "没有发送：消息里有禁用词 保证收益" in (blocked.value.chinese or "")
        await sim.advance("1s")
        assert [s for s in sim.sent if s.script == "agent"] == []
        assert 'persona_risk_blocked_total{by="agent",persona="finance_secretary"} 1' in sim.runtime.metrics.render()
        await desk.send("wmLi", "小王", "基金不保本，收益会随市场波动，按你的风险偏好来选。")
        await sim.advance("1s")
        assert len([s for s in sim.sent if s.script == "agent"]) == 1


async def test_an_agents_message_is_sent_but_journaled_with_the_words_where_the_bot_warns():
    async with Simulation("bots.fitness_coach", start="2026-11-23 09:00") as sim:
        desk = Desk(sim.runtime)
        await sim.text("wmFit", "转人工")
        await desk.send("wmFit", "教练阿强", "跟着练，包瘦！")
        await sim.advance("1s")
        assert [s.text for s in sim.sent if s.script == "agent"] == ["跟着练，包瘦！"]
        [note] = [json.loads(line) for line in await sim.runtime.store.journal("wmFit") if '"k":"agent"' in line]
        assert note["flagged"] == ["包瘦"]
        assert 'persona_risk_flagged_total{by="agent",persona="fitness_coach"} 1' in sim.runtime.metrics.render()


@pytest.mark.parametrize("text", ["forbidden:\n  - word: ''\n", "forbidden:\n  - pattern: '保本|'\n",
                                  "forbidden:\n  - pattern: '.*'\n"])
def test_a_rule_that_would_forbid_every_text_is_refused(text):
    with pytest.raises(RiskError):
        parse(text, Path("risk.yaml"))
