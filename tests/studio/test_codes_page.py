"""渠道活码 in the studio, in a real browser: an admin makes a code on the (fake) WeCom, its QR
pictures show through the studio, customers scan the landing's codes (real encrypted callbacks
to a service on the same SQLite file) and the page counts them per staff member and channel;
a writer reads it and cannot change it; the funnel page shows the channel; removing it deletes
the contact ways. Everything runs on the wall clock (no fake clock in this module)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.sync_api import expect

from persona.engine.bot import Bot
from persona.service import create_app
from persona.wechat.fake import FakeWeChat
from tests.acquisition.conftest import Served, environ
from tests.cli.conftest import run_persona

from .conftest import ACCOUNTS, PASSWORD, free_port, login, shot, start, stop, wait_for_port


@dataclass
class World:
    """The fake platform and the bot's service, on an event loop of their own (Playwright's
    sync API holds the test thread's), and the studio process on the same store."""

    loop: asyncio.AbstractEventLoop
    fake: FakeWeChat
    served: Served
    studio: str

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    async def arrive(self, channel: str, customer: str) -> str:
        """A customer opens the channel's landing and adds whoever's code it shows."""
        async with aiohttp.ClientSession() as http:
            async with http.get(self.served.url(f"/c/xiaowanzi/{channel}"), allow_redirects=False) as r:
                assert r.status == 302, await r.text()
                picture = r.headers["Location"]
        way = next(w for w in self.fake.contact_ways.values() if w.qr_code == picture)
        staff, status = await self.fake.scan_contact_way(way.config_id, customer, self.served.wecom)
        assert status == 200
        return staff


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("codes")
    url = f"sqlite:///{folder}/persona.db"
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def up() -> tuple[FakeWeChat, Served]:
        fake = FakeWeChat()
        await fake.start()
        bot = Bot("bots.xiaowanzi", url, environ=environ(fake))
        client = TestClient(TestServer(create_app([bot], run_bots=False)))
        await client.start_server()
        from persona.wechat.channels.router import Router
        return fake, Served(bot, client, Router.from_env(environ(fake), bot.store))

    fake, served = asyncio.run_coroutine_threadsafe(up(), loop).result(30)
    for name, role in ACCOUNTS.items():
        added = run_persona("studio", "adduser", name, "--role", role, "--store", url, input=PASSWORD + "\n")
        assert added.returncode == 0, added.stderr
    port = free_port()
    proc = start("studio", "bots.xiaowanzi", "--store", url, "--port", str(port), log=folder / "studio.log",
                 env=environ(fake))
    try:
        wait_for_port(port, proc)
        yield World(loop, fake, served, f"http://127.0.0.1:{port}")
    finally:
        stop(proc)

        async def down() -> None:
            await served.client.close()
            await served.router.close()
            await served.bot.store.close()
            await fake.stop()

        asyncio.run_coroutine_threadsafe(down(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_an_admin_makes_a_code_and_sees_its_customers_counted(world, page):
    login(page, world.studio, "root", next="/codes/xiaowanzi")
    expect(page.locator("h1")).to_contain_text("渠道活码")
    form = page.locator("#codes-add")
    form.locator("input[name=channel]").fill("parcel_lipstick")
    form.locator("input[name=staff]").fill("zhangsan, lisi")
    form.locator("input[name=cap]").fill("2")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice")).to_have_text("活码已生成。")
    assert sorted(w.user[0] for w in world.fake.contact_ways.values()) == ["lisi", "zhangsan"]
    assert {w.state for w in world.fake.contact_ways.values()} == {"parcel_lipstick"}

    row = page.locator("#code-parcel_lipstick")
    expect(row).to_contain_text("/c/xiaowanzi/parcel_lipstick")
    expect(row).to_contain_text("轮流分配")
    pictures = row.locator("td.qr img")
    expect(pictures).to_have_count(2)
    for i in range(2):  # each picture came through the studio, and is a real image
        with page.expect_response(lambda r: "/codes/xiaowanzi/parcel_lipstick/qr" in r.url) as got:
            page.goto(f"{world.studio}{pictures.nth(i).get_attribute('src')}")
        assert got.value.status == 200 and got.value.header_value("content-type") == "image/png"
        page.go_back()

    assigned = [world.run(world.arrive("parcel_lipstick", c)) for c in ("wmAmy", "wmBo", "wmCy", "wmDi")]
    assert assigned == ["zhangsan", "lisi", "zhangsan", "lisi"]
    page.reload()
    row = page.locator("#code-parcel_lipstick")
    expect(row.locator(".staff").nth(0)).to_contain_text("zhangsan · 2 / 2")
    expect(row.locator(".staff").nth(0)).to_contain_text("今天已满")
    expect(row.locator(".staff").nth(1)).to_contain_text("lisi · 2 / 2")
    channels = page.locator("#by-channel tbody tr")
    expect(channels).to_have_count(1)
    expect(channels.first).to_contain_text("parcel_lipstick")
    expect(channels.first.locator("td.num").nth(0)).to_have_text("4")  # added
    expect(channels.first.locator("td.num").nth(1)).to_have_text("4")  # welcomed
    expect(channels.first).to_contain_text("lisi 2、zhangsan 2")
    shot(page, "codes")

    async def full() -> str:
        async with aiohttp.ClientSession() as http:
            async with http.get(world.served.url("/c/xiaowanzi/parcel_lipstick")) as r:
                return await r.text()
    assert "今天的名额已满" in world.run(full())

    page.goto(f"{world.studio}/admin")
    expect(page.locator("body")).to_contain_text("修改渠道活码")


def test_the_funnel_page_shows_the_channel(world, page):
    login(page, world.studio, "wendy", next="/funnel/xiaowanzi")
    section = page.locator("section", has_text="按渠道")
    expect(section.locator("#by-channel tbody tr").first).to_contain_text("parcel_lipstick")
    shot(page, "funnel-channels")


def test_a_writer_reads_the_codes_and_cannot_change_them(world, page):
    login(page, world.studio, "wendy", next="/codes/xiaowanzi")
    expect(page.locator("#codes")).to_contain_text("parcel_lipstick")
    expect(page.locator("#codes-add")).to_have_count(0)
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    for path, form in (("/codes/xiaowanzi/parcel_lipstick/remove", {}),
                       ("/codes/xiaowanzi/add", {"channel": "sneaky", "staff": "zhangsan"})):
        answer = page.request.post(f"{world.studio}{path}", form={"csrf_token": csrf, **form})
        assert answer.status == 403 and "你的角色没有这个权限" in answer.text()
    assert len(world.fake.contact_ways) == 2


def test_bad_input_says_what_to_fix_in_chinese_and_makes_nothing(world, page):
    login(page, world.studio, "root", next="/codes/xiaowanzi")
    form = page.locator("#codes-add")
    form.locator("input[name=channel]").fill("包裹卡")
    form.locator("input[name=staff]").fill("zhangsan")
    form.locator("button[type=submit]").click()
    expect(page.locator("#codes-error")).to_contain_text("渠道名 '包裹卡' 不能用")
    world.fake.without_contact_permission.add("wangwu")
    form = page.locator("#codes-add")
    form.locator("input[name=channel]").fill("store_sh021")
    form.locator("input[name=staff]").fill("wangwu")
    form.locator("button[type=submit]").click()
    expect(page.locator("#codes-error")).to_contain_text("平台拒绝了")
    expect(page.locator("#codes-error")).to_contain_text("84074")
    shot(page, "codes-error")
    assert len(world.fake.contact_ways) == 2


def test_removing_a_code_deletes_its_contact_ways(world, page):
    login(page, world.studio, "root", next="/codes/xiaowanzi")
    page.locator("#code-parcel_lipstick button[type=submit]").click()
    expect(page.locator(".notice")).to_contain_text("活码已删除")
    expect(page.locator("#codes")).to_contain_text("还没有渠道活码")
    assert world.fake.contact_ways == {}
    expect(page.locator("#by-channel")).to_contain_text("parcel_lipstick")


def test_an_official_account_code_shows_its_picture_and_credits_its_followers(world, page):
    login(page, world.studio, "root", next="/codes/xiaowanzi")
    form = page.locator("#codes-add")
    form.locator("input[name=channel]").fill("store_sh021")
    form.locator("select[name=platform]").select_option("mp")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice")).to_have_text("活码已生成。")
    row = page.locator("#code-store_sh021")
    expect(row).to_contain_text("公众号")
    expect(row.locator("td.qr img")).to_have_count(1)
    [qr] = world.fake.qrcodes.values()
    assert qr.scene == "store_sh021" and qr.expires_at is None
    with page.expect_response(lambda r: "/codes/xiaowanzi/store_sh021/qr" in r.url) as got:
        page.goto(f"{world.studio}/codes/xiaowanzi/store_sh021/qr")
    assert got.value.status == 200 and got.value.header_value("content-type") == "image/png"
    assert world.run(world.fake.scan_qrcode(qr.ticket, "oFollower1", world.served.official)) == 200
    page.goto(f"{world.studio}/codes/xiaowanzi")
    expect(page.locator("#by-channel")).to_contain_text("store_sh021")
    shot(page, "codes-official")
