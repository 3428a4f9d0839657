"""``persona lint`` knows ``form_link``: a script may use it anywhere, and the form it names must
be one the persona declares."""

from __future__ import annotations

from persona.content.lint import ERROR, lint
from tests.conftest import BotPackage

SOURCE = '''from persona import Persona, Turn, on
from persona.model.forms import Form, phone


class Signup(Persona):
    states = ["new", "member"]
    transitions = [["join", "new", "member"]]
    forms = [Form("membership", title="会员登记", event="joined", fields=[phone("mobile", "手机号")])]

    @on.text("入会")
    def ask(self, turn: Turn) -> None:
        turn.say("invite")

    @on.event("joined", data={"mobile": str})
    async def joined(self, turn: Turn) -> None:
        await turn.trigger("join")
'''


def linted(tmp_path, monkeypatch, script: str):
    package = BotPackage(tmp_path, "formbot", SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = package.write({"invite": script}, samples={"member": {"id": "u1", "state": "new"}})
    try:
        return lint(name)
    finally:
        package.forget()


def errors_for(tmp_path, monkeypatch, script: str) -> list[str]:
    return [p.message for p in linted(tmp_path, monkeypatch, script).problems if p.severity == ERROR]


def test_a_script_may_build_a_form_link(tmp_path, monkeypatch):
    report = linted(tmp_path, monkeypatch, '点这里登记：{{ form_link("membership") }}')
    assert [p.message for p in report.problems] == []
    assert report.rendered == {"invite": ["member"]}  # rendered for the sample, with a preview link


def test_a_form_link_to_an_undeclared_form_is_an_error_with_the_close_name(tmp_path, monkeypatch):
    [found] = errors_for(tmp_path, monkeypatch, '{% if state == "member" %}{{ form_link("membrship") }}{% endif %}')
    assert found == "form_link('membrship'): Signup declares no form 'membrship'; did you mean 'membership'?"


def test_the_studio_previews_a_form_link_as_a_link_that_opens_nothing():
    from persona.model.persona import load_persona
    from persona.studio.preview import render
    from persona.studio.samples import generated

    coach = load_persona("bots.fitness_coach")
    text = (coach.folder() / "scripts" / "questionnaire_link.j2").read_text(encoding="utf-8")
    shown = render(coach, {}, "questionnaire_link", text, generated(coach))
    assert shown.error == "" and shown.placeholders == []
    assert "https://forms.example.invalid/forms/fitness_coach/questionnaire?u=sample&" in shown.text
