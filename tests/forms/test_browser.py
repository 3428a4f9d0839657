"""The questionnaire in a phone's browser, end to end: the coach's welcome carries the trainee's
link, ``persona serve`` (a real process on a real SQLite file) serves the page, chromium fills
it in wrong and then right, and the trainee's record and journal show the event and the plans it
brought. Forged and expired links get their Chinese pages. Screenshots: ``form-*.png`` beside
the studio's (see tests/studio/conftest.py ``shot``)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from bots.fitness_coach.questionnaire import QUESTIONNAIRE
from persona.model.formlinks import FormLinks
from persona.engine.bot import Bot
from tests import faketime
from tests.cli.conftest import run_persona
from tests.forms.conftest import FORM_SECRET
from tests.studio.conftest import browser, free_port, run_async, shot, start, stop, wait_for_port  # noqa: F401

TRAINEE = "wm_mei"


async def seed(url: str) -> tuple[str, float]:
    """A trainee who bought coaching and added the coach: the link in the welcome, and the time."""
    from persona.testing import Simulation

    async with Simulation("bots.fitness_coach", store=url, start="2026-11-23 09:00") as sim:
        await sim.event(TRAINEE, "purchased", {"name": "小美"})
        [welcome] = await sim.wechat(TRAINEE, "add_external_contact", staff="coach_ajie", welcome_code="WC1")
        [link] = re.findall(r"http://127\.0\.0\.1:\d+/forms/\S+", welcome.text)
        return link, sim.clock.now()


async def stored(url: str) -> tuple[object, list[dict]]:
    """The trainee's record and journal, read back through a bot on the same store."""
    bot = Bot("bots.fitness_coach", url, environ={}, script_poll=None)
    try:
        customer = await bot.runtime.customer(TRAINEE)
        return customer, [json.loads(line) for line in await bot.store.journal(TRAINEE)]
    finally:
        await bot.store.close()


@pytest.fixture
def phone(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """The seeded store, ``persona serve`` on it at the seed's time, and the trainee's link."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {"PERSONA_PUBLIC_URL": public, "PERSONA_FORM_SECRET": FORM_SECRET}
    for name, value in env.items():  # the simulation signs the welcome's link as the service will check it
        monkeypatch.setenv(name, value)
    url = f"sqlite:///{tmp_path}/persona.db"
    link, now = run_async(seed, url)
    proc = start("serve", "bots.fitness_coach", "--store", url, "--host", "127.0.0.1", "--port", str(port),
                 env={**env, **faketime.at(now)}, log=tmp_path / "serve.log")
    try:
        wait_for_port(port, proc)
        yield url, link, now, public
    finally:
        stop(proc)


def test_a_trainee_fills_in_the_questionnaire_and_is_offered_plans(served, phone):
    url, link, now, public = served
    assert link.startswith(public + "/forms/fitness_coach/questionnaire?")
    response = phone.goto(link)
    assert response is not None and response.status == 200
    expect(phone.locator("h1")).to_have_text("健身问卷")
    shot(phone, "form-questionnaire")

    # wrong: no level, every day of the week, a weight no adult has
    phone.get_by_label("减脂").check()
    for day in ("周一", "周二", "周三", "周四", "周五", "周六", "周日"):
        phone.get_by_label(day, exact=True).check()
    phone.get_by_label("晚上 20:00").check()
    phone.locator("#field-injured").get_by_label("是", exact=True).check()
    phone.fill("#in-injuries", "左膝受过伤，深蹲会疼")
    phone.fill("#in-weight_kg", "20")
    phone.fill("#in-name", "小美")
    phone.get_by_role("button", name="提交").click()
    expect(phone.locator(".banner")).to_have_text("有几项需要修改，请看标红的地方。")
    expect(phone.locator("#field-level .error")).to_have_text("请选择「你现在的运动基础」")
    expect(phone.locator("#field-days .error")).to_have_text("最多选 6 项")
    expect(phone.locator("#field-weight_kg .error")).to_have_text("不能小于 30")
    expect(phone.locator("#in-name")).to_have_value("小美")  # what the trainee typed is still there
    expect(phone.locator("#in-injuries")).to_have_value("左膝受过伤，深蹲会疼")
    expect(phone.get_by_label("减脂")).to_be_checked()
    expect(phone.get_by_label("周日", exact=True)).to_be_checked()
    shot(phone, "form-questionnaire-errors")

    # right
    phone.get_by_label("零基础").check()
    for day in ("周二", "周四", "周六", "周日"):
        phone.get_by_label(day, exact=True).uncheck()
    phone.fill("#in-weight_kg", "62.5")
    phone.get_by_role("button", name="提交").click()
    expect(phone.locator("h1")).to_have_text("提交成功")
    expect(phone.locator(".intro")).to_contain_text("问卷收到啦")
    shot(phone, "form-questionnaire-thanks")

    customer, journal = run_async(stored, url)
    assert customer.state == "choosing"
    assert customer.tags["goal"] == "fat_loss" and customer.tags["level"] == "beginner" and "injury" in customer.tags
    assert customer.attrs["days"] == [1, 3, 5] and customer.attrs["time"] == "20:00"
    assert customer.attrs["weight_kg"] == 62.5
    events = [line for line in journal if line.get("input") == "event questionnaire_submitted"]
    assert len(events) == 1 and events[0]["i"]["data"]["injuries"] == "左膝受过伤，深蹲会疼"
    said = [(line["script"], line["action"]) for line in journal if line["t"] >= events[0]["t"] and line.get("script")]
    assert said[:2] == [("plans", "send"), ("plans_card", "send")], journal  # the coach answers, through the gate
    inspected = run_persona("inspect", "bots.fitness_coach", TRAINEE, "--store", url, at=now)
    assert inspected.returncode == 0, inspected.stderr
    assert re.search(r"^state\s+choosing$", inspected.stdout, re.M), inspected.stdout
    assert re.search(r"in\s+event questionnaire_submitted → questionnaire$", inspected.stdout, re.M)
    assert re.search(r"out\s+plans: send$", inspected.stdout, re.M)


def test_forged_and_expired_links_get_a_chinese_page(served, phone):
    _, link, now, public = served
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = f"{public}{parts.path}?{urlencode({**query, 'u': 'wm_someone_else'})}"
    response = phone.goto(forged)
    assert response is not None and response.status == 403
    expect(phone.locator("h1")).to_have_text("链接无效")
    shot(phone, "form-forged")

    old = FormLinks(FORM_SECRET.encode(), public).url("fitness_coach", QUESTIONNAIRE, TRAINEE, now - 15 * 86400)
    response = phone.goto(old)
    assert response is not None and response.status == 410
    expect(phone.locator("h1")).to_have_text("链接已过期")
    expect(phone.locator(".intro")).to_contain_text("要一个新的链接")
    shot(phone, "form-expired")
