"""Find a customer and read their timeline; the bot page; the funnel; the admin page — in a browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import login, shot


def test_an_agent_finds_a_customer_by_tag_and_reads_the_timeline(studio, page):
    login(page, studio.url, "alice")
    expect(page).to_have_url(re.compile(r"/customers/xiaowanzi$"))
    page.fill("input[name=q]", "tag:source=parcel")
    page.click("form.search button")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#results")).to_contain_text("wm_amy")
    expect(page.locator("#results")).to_contain_text("wm_cat")
    expect(page.locator("#results")).not_to_contain_text("wm_bob")
    shot(page, "customers")

    page.click("text=wm_amy")
    expect(page.locator("#state")).to_have_text("welcomed")
    timeline = page.locator("#timeline")
    # the add, the welcome the gate let through, the move to welcomed, the timer 3 hours later
    expect(timeline).to_contain_text("wechat add_external_contact parcel_lipstick → arrived")
    welcome = timeline.locator("tr.row-message").filter(has=page.get_by_role("cell", name="welcome", exact=True))
    expect(welcome).to_contain_text("已发送")
    expect(timeline).to_contain_text("new → welcomed")
    expect(timeline).to_contain_text("coupon_reminder")
    expect(page.locator("#tags")).to_contain_text("source=parcel")
    shot(page, "customer")


def test_a_customer_found_by_id_opens_directly_and_an_unknown_id_says_so(studio, page):
    login(page, studio.url, "alice")
    page.fill("input[name=q]", "wm_bob")
    page.click("form.search button")
    expect(page).to_have_url(re.compile(r"/customers/xiaowanzi/wm_bob$"))
    page.goto(f"{studio.url}/customers/xiaowanzi?q=wm_nobody")
    expect(page.locator(".alert")).to_contain_text("找不到客户 wm_nobody")
    page.goto(f"{studio.url}/customers/xiaowanzi?q=tag:source%2Bstate:nowhere")
    expect(page.locator(".alert")).to_contain_text("'nowhere' is not a state of xiaowanzi")


def test_phone_numbers_are_clear_for_agents_and_masked_for_admins(studio, page):
    login(page, studio.url, "alice")
    page.goto(f"{studio.url}/customers/xiaowanzi/wm_bob")
    expect(page.locator("#timeline")).to_contain_text("13812345678")
    page.context.clear_cookies()
    login(page, studio.url, "root")
    page.goto(f"{studio.url}/customers/xiaowanzi/wm_bob")
    expect(page.locator("#timeline")).to_contain_text("138****5678")
    expect(page.locator("#timeline")).not_to_contain_text("13812345678")


def test_an_opted_out_customer_shows_the_gate_dropping_marketing(studio, page):
    login(page, studio.url, "alice")
    page.goto(f"{studio.url}/customers/xiaowanzi/wm_cat")
    expect(page.locator("#subscription")).to_contain_text("已退订")
    expect(page.locator("#timeline")).to_contain_text("客户退订营销消息")


def test_the_bot_page_draws_the_diagram_and_lists_events_policy_and_dead_letters(studio, page):
    login(page, studio.url, "wendy", next="/bots/xiaowanzi")
    expect(page.locator("body")).to_have_attribute("data-diagram", "drawn")
    expect(page.locator("#diagram svg")).to_be_visible()
    expect(page.locator("#diagram svg")).to_contain_text("welcomed")
    # timers are described in the writers' language, in the diagram and in the table
    expect(page.locator("#diagram svg")).to_contain_text("进入状态 3 小时后（仅当 reachable）")
    expect(page.locator("#timers")).to_contain_text("加入 15 天后 10:00（仅当 reachable）")
    expect(page.locator("#events")).to_contain_text("order_placed")
    expect(page.locator("#policy")).to_contain_text("22:00")
    expect(page.locator("#letters")).to_be_visible()
    shot(page, "bot")


def test_the_funnel_counts_customers_per_state_and_moves_in_the_window(studio, page):
    login(page, studio.url, "wendy", next="/funnel/xiaowanzi?since=90d")
    now = page.locator("#now")
    expect(now.locator("tr", has_text="welcomed")).to_contain_text("3")
    # the seed ran on a fake clock in 2026-11-23: whether that is inside 90 days depends on today
    expect(page.locator("#steps")).to_be_visible()
    shot(page, "funnel")


def test_the_admin_reads_the_audit_log_and_adds_an_account(studio, page):
    login(page, studio.url, "root", next="/admin")
    expect(page.locator("#accounts")).to_contain_text("wendy")
    page.fill("form[action='/admin/accounts'] input[name=name]", "dora")
    page.select_option("select[name=role]", "agent")
    page.fill("form[action='/admin/accounts'] input[name=password]", "another good password")
    page.click("form[action='/admin/accounts'] button")
    expect(page.locator("#accounts")).to_contain_text("dora")
    expect(page.locator("#audit tr.audit-add_account").first).to_contain_text("添加账户")
    expect(page.locator("#audit tr.audit-login").first).to_contain_text("root")
    shot(page, "admin")
