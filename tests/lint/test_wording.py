"""Lint's findings and render errors by message id, in Chinese and English."""

from __future__ import annotations

import string

import pytest

from persona.content.lint import lint
from persona.model.wording import EN, TEXTS, ZH, jinja_text, language, says
from tests.cli.conftest import run_persona


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_naming_the_same_values():
    for code, texts in TEXTS.items():
        assert set(texts) == {EN, ZH}, code
        if code != "jinja.no_such":  # Chinese names the filter/test word itself
            assert fields(texts[EN]) == fields(texts[ZH]), code


def test_a_message_says_its_parts_in_the_same_language():
    said = says("lint.not_given", variable="ofer", included="", where="persona.py:7",
                fix=says("lint.not_given.close", close="offer", variable="ofer"))
    assert str(said) == ("'ofer' is not given where this script is said at persona.py:7; did you mean 'offer'? "
                         "(or pass ofer=... there)")
    assert said.text(ZH) == "在 persona.py:7 说这条话术时没有给 'ofer'；是不是想写 'offer'？（或者在那里传入 ofer=...）"
    with pytest.raises(KeyError):
        says("lint.no_such_message")


@pytest.mark.parametrize("message, chinese", [
    ("No filter named 'date_c'; did you mean 'date_cn'?", "没有名为 'date_c' 的过滤器；是不是想写 'date_cn'？"),
    ("Unexpected end of template. Jinja was looking for the following tags: 'endif'. The innermost block that "
     "needs to be closed is 'if'.", "有一个代码块没有结束（缺少 'endif'）"),
    ("Encountered unknown tag 'endfro'.", "不认识的标签 'endfro'"),
    ("something Jinja says that is not known here", "something Jinja says that is not known here"),
])
def test_jinja_syntax_messages_are_said_in_chinese_where_known(message, chinese):
    assert jinja_text(message, ZH) == chinese and jinja_text(message, EN) == message


def test_the_language_is_the_flag_else_the_locale():
    assert language("zh", {"LANG": "en_US.UTF-8"}) == ZH
    assert language(None, {"LANG": "zh_CN.UTF-8"}) == ZH
    assert language(None, {"LC_ALL": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}) == EN
    assert language(None, {}) == EN


def test_every_finding_on_the_shipped_bots_and_a_broken_one_has_chinese(tmp_path, monkeypatch):
    from tests.conftest import BotPackage

    package = BotPackage(tmp_path, "broken", "from persona import Persona, Turn, on\n\n\n"
                         "class Broken(Persona):\n    states = ['new', 'lost']\n\n"
                         "    @on.text()\n    def hi(self, turn: Turn) -> None:\n"
                         "        turn.say('hello', offer='券')\n        turn.say('missing')\n"
                         "        turn.schedule('nowhere', after='1h')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    name = package.write({"hello": "{{ ofer }} {{ customer.nmae }} {{ attrs.never_set }}", "unused": "x",
                          "bad": "{% if x %}", "long": "长" * 700})
    try:
        problems = [p for bot in (name, "bots.xiaowanzi", "bots.fitness_coach") for p in lint(bot).problems]
    finally:
        package.forget()
    assert len(problems) >= 8
    for problem in problems:
        assert problem.said is not None, str(problem)
        assert problem.text(ZH) != problem.text(EN), str(problem)


def test_persona_lint_follows_the_locale_or_the_flag():
    english = run_persona("lint", "bots.xiaowanzi")
    chinese = run_persona("lint", "bots.xiaowanzi", env={"LANG": "zh_CN.UTF-8"})
    flagged = run_persona("lint", "bots.xiaowanzi", "--lang", "zh", env={"LANG": "en_US.UTF-8"})
    assert ": warning: script 'order_thanks' is sent proactively" in english.stdout
    assert ": 警告: 话术 'order_thanks' 是主动发出的" in chinese.stdout
    assert flagged.stdout == chinese.stdout
