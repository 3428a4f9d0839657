"""Signed form links: only persona's own, for one bot, form and customer, until they expire;
a script never sends a link nobody can open."""

from __future__ import annotations

import pytest

from bots.fitness_coach.questionnaire import QUESTIONNAIRE
from persona import Customer, FormLinkError, TemplateError
from persona.model.formlinks import FormLinks
from persona.model.inputs import BusinessEvent
from persona.model.persona import load_persona
from persona.model.turn import Turn
from persona.worker import build_runtime

NOW = 1_800_000_000.0
LINKS = FormLinks(b"secret", "https://coach.example.com")


def query_of(url: str) -> dict[str, str]:
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_link_names_its_customer_until_it_expires():
    url = LINKS.url("fitness_coach", QUESTIONNAIRE, "wm_mei", NOW)
    assert url.startswith("https://coach.example.com/forms/fitness_coach/questionnaire?u=wm_mei&e=")
    query = query_of(url)
    assert LINKS.verify("fitness_coach", "questionnaire", query, NOW + 14 * 86400 - 1) == "wm_mei"
    with pytest.raises(FormLinkError) as expired:
        LINKS.verify("fitness_coach", "questionnaire", query, NOW + 14 * 86400)
    assert expired.value.expired


@pytest.mark.parametrize("bot, form, change", [
    ("xiaowanzi", "questionnaire", {}), ("fitness_coach", "signup", {}),
    ("fitness_coach", "questionnaire", {"u": "wm_bob"}), ("fitness_coach", "questionnaire", {"e": "9999999999"}),
], ids=["other-bot", "other-form", "other-customer", "later-expiry"])
def test_a_link_moved_to_anything_else_is_forged(bot, form, change):
    query = {**query_of(LINKS.url("fitness_coach", QUESTIONNAIRE, "wm_mei", NOW)), **change}
    with pytest.raises(FormLinkError) as forged:
        LINKS.verify(bot, form, query, NOW)
    assert not forged.value.expired


def test_a_preview_link_never_opens():
    preview = FormLinks.preview()
    url = preview.url("fitness_coach", QUESTIONNAIRE, "wm_mei", NOW)
    with pytest.raises(FormLinkError):
        preview.verify("fitness_coach", "questionnaire", query_of(url), NOW)
    with pytest.raises(FormLinkError):
        LINKS.verify("fitness_coach", "questionnaire", query_of(url), NOW)


def test_a_page_token_belongs_to_its_link():
    token = LINKS.token("fitness_coach", "questionnaire", "wm_mei")
    nonce = LINKS.nonce("fitness_coach", "questionnaire", "wm_mei", token)
    assert nonce and token.startswith(nonce + ".")
    assert LINKS.nonce("fitness_coach", "questionnaire", "wm_bob", token) is None
    assert LINKS.token("fitness_coach", "questionnaire", "wm_mei") != token  # one per page


def test_without_the_environment_a_script_with_a_form_link_refuses_to_render():
    cls = load_persona("bots.fitness_coach")
    persona = cls()
    assert FormLinks.from_env({"PERSONA_PUBLIC_URL": "https://x.example.com"}) is None
    turn = Turn(persona, Customer("wm_mei", "new"), BusinessEvent(user="wm_mei", name="x"), NOW)
    with pytest.raises(TemplateError, match="set PERSONA_PUBLIC_URL"):
        turn.render("questionnaire_link")


def test_the_event_secret_signs_links_when_no_form_secret_is_set():
    links = FormLinks.from_env({"PERSONA_PUBLIC_URL": "https://x.example.com/", "PERSONA_EVENT_SECRET": "ev"})
    assert links == FormLinks(b"ev", "https://x.example.com")


async def test_a_worker_signs_the_links_its_timers_send(monkeypatch, tmp_path):
    monkeypatch.setenv("PERSONA_PUBLIC_URL", "https://coach.example.com")
    monkeypatch.setenv("FITNESS_COACH_PERSONA_FORM_SECRET", "per-bot")
    runtime = build_runtime("bots.fitness_coach", f"sqlite:///{tmp_path}/persona.db")
    try:
        assert runtime.persona.form_links == FormLinks(b"per-bot", "https://coach.example.com")
    finally:
        await runtime.store.close()
