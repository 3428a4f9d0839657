"""The studio's 群发 page in a browser: an operator builds an audience with a live count and a
sample, sends a campaign that a running ``persona serve`` delivers through the fake WeCom API and
watches its progress per gate outcome, schedules an A/B split for later and cancels it; a role
without the permission sees the campaigns but no form."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from persona.testing import FAKE_ENV
from tests import faketime

from .conftest import free_port, login, run_async, shot, start, start_studio, stop, wait_for_port

AUDIENCE = "tag:source=store AND NOT (tag:opted_out OR state:customer)"


async def seed(url: str) -> float:
    """小完子's customers of tests/campaigns (added on Monday); returns Tuesday 10:00, when the
    studio and the service then run."""
    from persona.testing import Simulation
    from tests.campaigns.conftest import seed as customers

    async with Simulation("bots.xiaowanzi", store=url, start="2026-11-23 09:00") as sim:
        await customers(sim)
        await sim.advance_to("2026-11-24 10:00")
        return sim.clock.now()


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """The studio, the fake WeChat/WeCom API and ``persona serve`` on one store, all at the seed's time."""
    folder = tmp_path_factory.mktemp("campaigns")
    url = f"sqlite:///{folder}/persona.db"
    now = run_async(seed, url)
    api_port, serve_port = free_port(), free_port()
    api = start("fakeapi", "--port", str(api_port), log=folder / "fakeapi.log", env=faketime.at(now))
    procs = [api]
    try:
        wait_for_port(api_port, api)
        base = f"http://127.0.0.1:{api_port}"
        env = {**FAKE_ENV, "WECHAT_API_BASE": base, "WECOM_API_BASE": base, **faketime.at(now)}
        serve = start("serve", "bots.xiaowanzi", "--port", str(serve_port), "--store", url,
                      log=folder / "serve.log", env=env)
        procs.append(serve)
        wait_for_port(serve_port, serve)
        studio, port = start_studio(folder, url, now)
        procs.append(studio)
        wait_for_port(port, studio)
        yield f"http://127.0.0.1:{port}", base, folder
    finally:
        for proc in procs:
            stop(proc)


def sent_by_fake(api: str) -> list[dict]:
    with urllib.request.urlopen(f"{api}/fake/messages") as resp:
        return json.loads(resp.read())["messages"]


def test_an_operator_builds_an_audience_sends_and_watches_the_campaign(running, page):
    base, api, folder = running
    login(page, base, "wendy", next="/campaigns/xiaowanzi")
    expect(page.locator("h1")).to_contain_text("群发")

    page.fill("#audience", "state:welcom OR tag:in_group")
    expect(page.locator("#audience-result")).to_contain_text("第 1 列")
    expect(page.locator("#audience-result")).to_contain_text("did you mean 'welcomed'")
    page.fill("#audience", AUDIENCE)
    expect(page.locator("#audience-count")).to_have_text("3 位客户")
    expect(page.locator("#audience-sample")).to_have_text("，例如：wm_amy、wm_cat、wm_dee")
    expect(page.locator("#audience-cost")).to_have_text("（只用标签和状态索引）")
    page.select_option("#script", "flash_sale")
    shot(page, "campaigns-new")

    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("已完成", timeout=30_000)  # persona serve sent it
    expect(page.locator("#sent")).to_have_text("3")
    expect(page.locator("#dropped")).to_have_text("0")
    shot(page, "campaign-done")
    flash = sorted(m["to"] for m in sent_by_fake(api) if m["script"] == "flash_sale")
    assert flash == ["wm_amy", "wm_cat", "wm_dee"], (folder / "serve.log").read_text()

    # the same audience again today: WeCom's one mass message a customer a day is spent
    page.goto(f"{base}/campaigns/xiaowanzi")
    page.fill("#audience", "tag:source=store")
    page.select_option("#script", "group_invite")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("已完成", timeout=30_000)
    expect(page.locator("#sent")).to_have_text("0")
    expect(page.locator("#dropped")).to_have_text("4")
    expect(page.locator("#reasons")).to_contain_text("群发每日上限")
    expect(page.locator("#reasons")).to_contain_text("客户已退订")
    shot(page, "campaign-capped")


def test_an_ab_split_for_later_is_scheduled_and_cancelled(running, page):
    base, api, _ = running
    login(page, base, "wendy", next="/campaigns/xiaowanzi")
    page.fill("#audience", "tag:product=eyeshadow")
    page.check("input[name=mode][value=split]")
    expect(page.locator("#script")).to_be_hidden()
    page.fill("#split", "flash_sale=50,group_invite=oops")
    page.check("input[name=when][value=local]")
    page.fill("#day", "2026-11-26")
    page.fill("#clock", "10:00")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text("A/B 分组写作")
    expect(page.locator("#audience")).to_have_value("tag:product=eyeshadow")  # nothing typed is lost
    page.fill("#split", "flash_sale=50,group_invite=50")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("已排期")
    expect(page.locator("#campaign")).to_contain_text("2026-11-26 10:00（每位客户自己的时区）")
    shot(page, "campaign-scheduled")
    page.click("#cancel button")
    expect(page.locator("#status")).to_have_text("已取消")
    expect(page.locator("#campaign")).to_contain_text("wendy")

    # brand time: a moment already past is refused, a later one is scheduled
    page.goto(f"{base}/campaigns/xiaowanzi")
    page.fill("#audience", "tag:in_group OR attr:orders > 0")
    expect(page.locator("#audience-cost")).to_have_text("（逐个读取全部客户记录）")
    page.select_option("#script", "flash_sale")
    page.check("input[name=when][value=at]")
    page.fill("#at", "2026-11-20T10:00")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text("发送时间已经过去了")
    page.fill("#at", "2026-11-25T10:00")
    page.click("#campaign-form button[type=submit]")
    expect(page.locator("#status")).to_have_text("已排期")
    expect(page.locator("#campaign")).to_contain_text("2026-11-25 10:00:00（Asia/Shanghai）")

    page.goto(f"{base}/campaigns/xiaowanzi")
    rows = page.locator("#campaigns tbody tr")
    expect(rows.nth(0)).to_contain_text("已排期")
    expect(rows.nth(1)).to_contain_text("已取消")
    expect(rows.nth(1)).to_contain_text("flash_sale=50,group_invite=50")
    shot(page, "campaigns-list")


def test_an_agent_sees_the_campaigns_but_cannot_send_one(running, page):
    base, _, _ = running
    login(page, base, "alice", next="/campaigns/xiaowanzi")
    expect(page.locator("#campaigns")).to_be_visible()
    expect(page.locator("#campaign-form")).to_have_count(0)
    refused = page.request.get(f"{base}/api/audience/xiaowanzi?q=all")
    assert refused.status == 403


def test_the_audit_log_keeps_who_scheduled_and_cancelled(running, page):
    base, _, _ = running
    login(page, base, "root", next="/admin")
    expect(page.locator("body")).to_contain_text("群发")
    expect(page.locator("body")).to_contain_text("cancelled")
