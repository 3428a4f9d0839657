"""The coach sends the questionnaire as a link of the trainee's own, and its answers move the
trainee on: a scenario on a fake clock, with the same helpers a bot author uses."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from bots.fitness_coach.questionnaire import QUESTIONNAIRE
from persona.model.formlinks import FormLinks
from persona.testing import FAKE_ENV, Simulation
from tests.forms.conftest import GOOD

LINK = re.compile(r"http://127\.0\.0\.1:8080/forms/fitness_coach/questionnaire\?\S+")


def customer_of(url: str, now: float) -> str:
    """Who the link is for, checked as ``persona serve`` checks it."""
    links = FormLinks.from_env(FAKE_ENV)
    assert links is not None
    return links.verify("fitness_coach", "questionnaire", {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()},
                        now)


async def test_the_welcome_carries_the_trainees_own_questionnaire_link():
    async with Simulation("bots.fitness_coach", start="2026-11-23 09:00") as sim:
        await sim.event("wm_mei", "purchased", {"name": "小美"})
        [welcome] = await sim.wechat("wm_mei", "add_external_contact", staff="coach_ajie", welcome_code="WC1")
        [url] = LINK.findall(welcome.text)
        assert customer_of(url, sim.clock.now()) == "wm_mei"
        [card] = await sim.advance("2m")  # the mini-program card still follows, for the mini program
        assert card.script == "questionnaire_card"


async def test_asking_for_the_questionnaire_gets_the_link_again():
    async with Simulation("bots.fitness_coach", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_mei", "add_external_contact", staff="coach_ajie", welcome_code="WC1")
        [reply] = await sim.text("wm_mei", "问卷")
        assert reply.script == "questionnaire_link" and "两分钟" in reply.text
        [url] = LINK.findall(reply.text)
        assert customer_of(url, sim.clock.now()) == "wm_mei"


async def test_the_forms_answers_bring_the_three_plans_minding_the_injury():
    answers = QUESTIONNAIRE.read(GOOD)
    assert answers.valid
    async with Simulation("bots.fitness_coach", start="2026-11-23 09:00") as sim:
        await sim.wechat("wm_mei", "add_external_contact", staff="coach_ajie", welcome_code="WC1")
        sent = await sim.event("wm_mei", "questionnaire_submitted", answers.data)
        assert [s.script for s in sent] == ["plans", "plans_card"]
        assert "左膝受过伤" in sent[0].text and "避开" in sent[0].text
        trainee = await sim.customer("wm_mei")
        assert trainee.state == "choosing" and "injury" in trainee.tags
        assert trainee.attrs["weight_kg"] == 62.5 and trainee.attrs["name"] == "小美"
        [chosen] = await sim.text("wm_mei", "1")
        assert chosen.script == "plan_confirmed"
        assert (await sim.customer("wm_mei")).state == "training"
