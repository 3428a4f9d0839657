"""A writer changes 小完子's welcome in the studio, checks it on a sample customer, publishes it,
and the next customer who adds 小完子 gets the new text from a running ``persona serve``; a
lint error is shown inline and refused; a rollback brings the old text back."""

from __future__ import annotations

import re
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from defusedxml import ElementTree
from playwright.sync_api import expect

from tests.service.conftest import event_xml, plain
from tests.service.test_serve import free_port, start, stop

from .conftest import login, shot

OLD = "嗨，我是小完子！很开心在微信里认识你"
NEW = "哈喽～我是小完子，欢迎来到我的美妆小窝"
LIVE_WITHIN = 10.0  # serve polls the store every second; generous for a loaded machine


@pytest.fixture(scope="module")
def serve(studio_store) -> Iterator[str]:
    """``persona serve bots.xiaowanzi`` on the studio's store, as a brand runs it, for the
    published scripts it picks up. It runs on the wall clock, which WeChat's signed timestamps
    follow, so it runs no scheduler: the seeded customers' timers belong to the seed's fake time."""
    port = free_port()
    proc = start("xiaowanzi", port, studio_store, "--no-delivery", "--no-scheduler", bots=("bots.xiaowanzi",))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "persona serve exited"
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    break
        except OSError:
            assert time.monotonic() < deadline, "persona serve did not become healthy"
            time.sleep(0.2)
    yield url
    log = stop(proc)
    assert "Traceback" not in log, log


def a_new_customer_adds_xiaowanzi(serve: str) -> str:
    """A new customer follows the account; the welcome comes back as the passive reply."""
    query, body = plain(event_xml("subscribe", sender=f"o{uuid.uuid4().hex[:27]}"))
    request = urllib.request.Request(f"{serve}/wechat/xiaowanzi?{urllib.parse.urlencode(query)}", data=body,
                                     method="POST", headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        xml = answer.read().decode("utf-8")
    content = ElementTree.fromstring(xml).findtext("Content")
    assert content, f"no passive welcome: {xml!r}"
    return content


def welcome_becomes(serve: str, expected: str) -> float:
    started = time.monotonic()
    while True:
        got = a_new_customer_adds_xiaowanzi(serve)
        waited = time.monotonic() - started
        if expected in got:
            return waited
        assert waited < LIVE_WITHIN, f"after {waited:.1f}s the welcome is still {got[:40]!r}"
        time.sleep(0.2)


def open_editor(page, studio) -> None:
    login(page, studio.url, "wendy")
    expect(page).to_have_url(re.compile(r"/scripts/xiaowanzi$"))
    expect(page.locator("#scripts tr", has_text="welcome").first).to_contain_text("微信事件 subscribe")
    shot(page, "scripts")
    page.locator("#scripts a", has_text=re.compile("^welcome$")).click()
    expect(page.locator("#preview")).to_contain_text(OLD)


def test_a_writer_changes_the_welcome_and_the_next_customer_gets_it_then_rolls_back(studio, serve, page):
    assert OLD in a_new_customer_adds_xiaowanzi(serve)
    open_editor(page, studio)
    editor = page.locator("#editor")
    editor.fill(editor.input_value().replace(OLD, NEW))
    expect(page.locator("#preview")).to_contain_text(NEW)          # the preview follows the typing
    expect(page.locator("#preview-meta")).to_contain_text("生成的新客户")
    expect(page.locator("#lint")).to_contain_text("没有问题")
    page.fill("#note", "更亲切的开场")
    page.click("#publish")
    expect(page.locator("#notice")).to_contain_text("已发布为 v1")
    expect(page.locator("#history tr.version-1")).to_contain_text("wendy")
    expect(page.locator("#history tr.version-1")).to_contain_text("更亲切的开场")
    waited = welcome_becomes(serve, NEW)
    assert waited < LIVE_WITHIN

    expect(page.locator("#lint")).to_contain_text("没有问题")
    page.locator("#history tr.version-1 summary").click()
    expect(page.locator("#history tr.version-1 pre.diff")).to_contain_text("+" + NEW[:6])
    shot(page, "script")

    page.locator("#history tr.version-0 button.rollback").click()
    expect(page.locator("#notice")).to_contain_text("已回滚，新版本 v2")
    welcome_becomes(serve, OLD)

    page.context.clear_cookies()
    login(page, studio.url, "root", next="/admin")
    expect(page.locator("#audit tr.audit-publish").first).to_contain_text("xiaowanzi/welcome")
    expect(page.locator("#audit tr.audit-rollback").first).to_contain_text("wendy")


def test_a_lint_error_shows_inline_with_did_you_mean_and_is_never_published(studio, serve, page):
    open_editor(page, studio)
    editor = page.locator("#editor")
    editor.fill(editor.input_value().replace("offer.title", "ofer.title"))
    problem = page.locator("#lint .lint-error")
    expect(problem).to_contain_text("第 14 行")
    expect(problem).to_contain_text("没有给 'ofer'")  # the studio says lint's findings in Chinese
    expect(problem).to_contain_text("是不是想写 'offer'？")
    shot(page, "script-lint")
    page.fill("#note", "typo")
    page.click("#publish")
    expect(page.locator("#refused")).to_contain_text("lint 发现错误，没有发布")
    expect(page.locator("#refused")).to_contain_text("第 14 行")
    expect(page.locator("#editor")).to_have_value(re.compile("ofer.title"))  # the writer's text is kept
    expect(page.locator("#history tbody tr").first).not_to_contain_text("typo")
    assert "〔ofer" not in a_new_customer_adds_xiaowanzi(serve)


def test_a_real_customer_preview_is_marked_and_masked_for_a_writer(studio, page):
    open_editor(page, studio)
    page.fill("#customer", "wm_amy")
    page.locator("#customer").dispatch_event("change")
    expect(page.locator("#preview-banner")).to_contain_text("真实客户 wm_amy")
    expect(page.locator("#preview")).to_contain_text("收到你的包裹啦")  # wm_amy came from a parcel
    page.fill("#customer", "wm_nobody")
    page.locator("#customer").dispatch_event("change")
    expect(page.locator("#preview")).to_contain_text("找不到客户 wm_nobody")


def test_an_agent_reads_scripts_but_cannot_publish(studio, page):
    login(page, studio.url, "alice", next="/scripts/xiaowanzi/welcome")
    expect(page.locator("#publish")).to_have_count(0)
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(f"{studio.url}/scripts/xiaowanzi/welcome/publish",
                               form={"csrf_token": csrf, "text": "hacked", "note": "x"}, max_redirects=0)
    assert answer.status == 403


def test_a_writer_adds_an_ab_variant_and_reads_its_report(studio, page):
    login(page, studio.url, "wendy", next="/scripts/xiaowanzi/coupon_reminder")
    page.fill("input[name=variant][placeholder]", "b")
    page.click("text=新建 A/B 版本")
    expect(page.locator(".variants .tag.on")).to_contain_text("b（新）")
    editor = page.locator("#editor")
    editor.fill(editor.input_value() + "\n（限时提醒）")
    expect(page.locator("#preview")).to_contain_text("（限时提醒）")
    page.fill("input[name=weight]", "30")
    page.fill("#note", "试一个更急的版本")
    page.click("#publish")
    expect(page.locator("#notice")).to_contain_text("已发布为 v1")
    expect(page.locator(".variants")).to_contain_text("a · 权重 50")
    expect(page.locator(".variants")).to_contain_text("b · 权重 30")
    page.fill("input[name=goal]", "state:customer")
    page.click("text=计算")
    report = page.locator("#report")
    # the seeded customers got the script before b existed: all of them count for a
    expect(report.locator("tbody tr").first).to_contain_text("a")
    expect(report.locator("tbody tr").first.locator("td.num").first).not_to_have_text("0")
    chart = page.locator("#report-chart svg")
    expect(chart.locator("g.arm[data-variant=a] polyline")).to_have_count(1)
    expect(page.locator("#report-chart figcaption")).to_contain_text("达成比例")
    shot(page, "script-ab-report")
    page.goto(f"{studio.url}/scripts/xiaowanzi")
    expect(page.locator("#scripts tr", has_text="coupon_reminder")).to_contain_text("b · 30")


def test_a_draft_that_does_not_compile_shows_why_in_the_preview_never_a_server_path(studio, page):
    open_editor(page, studio)
    editor = page.locator("#editor")
    editor.fill("你好 {{ now|date_c }}")  # a misspelt filter: Jinja finds it when it compiles
    expect(page.locator("#preview")).to_contain_text("没有名为 'date_c' 的过滤器；是不是想写 'date_cn'？")
    expect(page.locator("#preview")).to_have_class(re.compile("error"))
    shot(page, "preview-bad-filter")
    editor.fill("你好 {% if vip %}会员")  # a block never closed
    expect(page.locator("#preview")).to_contain_text("第 1 行：有一个代码块没有结束")
    assert "/" not in page.locator("#preview").inner_text().replace("scripts/welcome.j2", "")
    editor.fill("你好 {{ 1 }}")
    expect(page.locator("#preview")).to_have_text("你好 1")


def test_a_lint_warning_shows_marked_as_a_warning_and_does_not_stop_a_publish(studio, page):
    open_editor(page, studio)
    editor = page.locator("#editor")
    # a field the code never sets, read so that a customer without it still gets the message
    editor.fill(editor.input_value() + "\n{{ attrs.get('favourite_colour', '') }}")
    warning = page.locator("#lint .lint-warning")
    expect(warning).to_contain_text("提醒")
    expect(warning).to_contain_text("从不设置 'attrs.favourite_colour'")
    expect(page.locator("#lint .lint-error")).to_have_count(0)
    shot(page, "script-lint-warning")


def test_a_broadcast_only_script_says_it_is_said_by_a_broadcast(studio, page):
    login(page, studio.url, "wendy")
    expect(page.locator("#scripts tr", has_text="flash_sale")).to_contain_text("群发（persona broadcast）")
