"""A customer linked across the Official Account and WeCom, in the studio: either id opens the
one customer, whose ids, current conversation and single timeline (both records') are shown."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.cli.conftest import run_persona
from tests.studio.conftest import login, run_async, shot, start_studio, stop, wait_for_port


async def seed(url: str) -> float:
    """Amy follows the Official Account, then adds 小完子 in WeCom and writes there: two records."""
    from persona.testing import Simulation

    async with Simulation("bots.xiaowanzi", store=url, start="2026-11-23 09:00") as sim:
        await sim.wechat("o_amy", "subscribe")
        await sim.advance("10m")
        await sim.wechat("wm_amy", "add_external_contact", key="parcel_lipstick", welcome_code="WC1",
                         staff="xiaowan")
        await sim.text("wm_amy", "有什么口红推荐吗")
        return sim.clock.now()


def test_either_id_opens_the_one_customer_with_both_ids_and_both_timelines(page, tmp_path):
    url = f"sqlite:///{tmp_path}/persona.db"
    now = run_async(seed, url)
    linked = run_persona("customers", "link", "bots.xiaowanzi", "wm_amy", "o_amy", "--store", url, at=now)
    assert linked.returncode == 0, linked.stderr
    proc, port = start_studio(tmp_path, url, now)
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        login(page, base, "root", next="/customers/xiaowanzi/wm_amy")
        expect(page).to_have_url(f"{base}/customers/xiaowanzi/o_amy")  # the one first seen is kept
        ids = page.locator("#ids")
        expect(ids).to_contain_text("企业微信 wm_amy 当前会话")  # Amy last wrote in WeCom
        expect(ids).to_contain_text("公众号 o_amy")
        timeline = page.locator("#timeline")
        expect(timeline).to_contain_text("wechat subscribe")
        expect(timeline).to_contain_text("wechat add_external_contact parcel_lipstick")
        expect(timeline.locator("tr", has_text="合并").first).to_contain_text("手动关联")
        shot(page, "customer-linked")

        page.goto(f"{base}/customers/xiaowanzi?q=wm_amy")  # the search finds her by either id
        expect(page).to_have_url(f"{base}/customers/xiaowanzi/o_amy")
        api = page.request.get(f"{base}/api/customers/xiaowanzi/wm_amy")
        assert api.ok and [i["id"] for i in api.json()["ids"]] == ["wm_amy", "o_amy"]

        # the WeCom sidebar and the agents' desk know her by the contact id the chat gives
        page.context.clear_cookies()  # an agent works the desk, not the admin
        login(page, base, "alice", next="/agents/xiaowanzi")
        scripts = page.request.get(f"{base}/api/sidebar/xiaowanzi/library/wm_amy")
        assert scripts.ok and scripts.json()["items"], scripts.text()
        talk = page.request.get(f"{base}/api/agents/xiaowanzi/conversations/wm_amy")
        assert talk.ok and talk.json()["user"] == "o_amy"
        assert "有什么口红推荐吗" in [line["text"] for line in talk.json()["lines"] if line["who"] == "customer"]
        page.goto(f"{base}/agents/xiaowanzi?user=wm_amy")
        expect(page.locator("body")).to_contain_text("有什么口红推荐吗")
        shot(page, "desk-linked")
    finally:
        stop(proc)
