"""Every security rule of the studio, in a browser: no session, wrong role, missing CSRF token,
lockout, cookie flags, the audit log."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import PASSWORD, login, run_persona


def test_without_a_session_pages_redirect_to_login_and_the_api_answers_401(studio, page):
    page.goto(f"{studio.url}/customers/xiaowanzi/wm_amy")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)customers(%2F|/)xiaowanzi(%2F|/)wm_amy$"))
    expect(page.locator("h1")).to_have_text("登录")
    for path in ("/api/customers/xiaowanzi/wm_amy", "/api/anything"):
        answer = page.request.get(studio.url + path, max_redirects=0)
        assert answer.status == 401
        assert answer.json() == {"error": "not signed in"}
    posted = page.request.post(f"{studio.url}/customers/xiaowanzi/wm_amy/opt-out", max_redirects=0)
    assert posted.status == 302 and posted.headers["location"].startswith("/login")
    # and after logging in, the page asked for first
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/customers/xiaowanzi/wm_amy$"))
    answer = page.request.get(f"{studio.url}/api/customers/xiaowanzi/wm_amy")
    assert answer.status == 200 and answer.json()["state"] == "welcomed"


def test_the_session_cookie_is_httponly_and_samesite_strict_and_logout_ends_it_on_the_server(studio, page):
    login(page, studio.url, "alice")
    cookie = next(c for c in page.context.cookies() if c["name"] == "persona_studio")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    token = cookie["value"]
    page.click("header .who button")
    expect(page).to_have_url(re.compile(r"/login$"))
    # the old token is dead on the server, not only forgotten by the browser
    page.context.add_cookies([{**cookie, "value": token}])
    answer = page.request.get(f"{studio.url}/customers/xiaowanzi", max_redirects=0)
    assert answer.status == 302


def test_a_role_without_the_permission_gets_403_whatever_the_browser_sends(studio, page):
    login(page, studio.url, "wendy")  # a writer: no customer pages, no opt-outs, no admin
    expect(page.locator("header nav")).not_to_contain_text("客户")
    for path in ("/customers/xiaowanzi", "/customers/xiaowanzi/wm_amy", "/admin"):
        page.goto(studio.url + path)
        expect(page.locator(".alert")).to_have_text("你的角色没有这个权限")
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(f"{studio.url}/customers/xiaowanzi/wm_amy/opt-out",
                               form={"csrf_token": csrf}, max_redirects=0)
    assert answer.status == 403
    page.context.clear_cookies()
    login(page, studio.url, "root", next="/admin")
    denied = page.locator("#audit tr.audit-denied")
    expect(denied.first).to_contain_text("wendy")
    expect(page.locator("#audit")).to_contain_text("/customers/xiaowanzi/wm_amy/opt-out")


def test_a_state_changing_request_without_the_csrf_token_is_refused(studio, page):
    login(page, studio.url, "root", next="/customers/xiaowanzi/wm_bob")
    expect(page.locator("#subscription")).to_contain_text("接收营销消息")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.click("#opt")
    expect(page.locator(".alert")).to_contain_text("CSRF")
    page.goto(f"{studio.url}/customers/xiaowanzi/wm_bob")
    expect(page.locator("#subscription")).to_contain_text("接收营销消息")  # nothing changed
    # a wrong token is no better than none
    answer = page.request.post(f"{studio.url}/customers/xiaowanzi/wm_bob/opt-out",
                               form={"csrf_token": "forged"}, max_redirects=0)
    assert answer.status == 403


def test_five_failed_logins_lock_the_account_for_fifteen_minutes(studio, page, tmp_path):
    done = run_persona("studio", "adduser", "mallory", "--role", "agent", "--store", studio.store, at=studio.now,
                       input="a fine password\n")
    assert done.returncode == 0, done.stderr
    for attempt in range(4):
        login(page, studio.url, "mallory", password=f"guess {attempt}")
        expect(page.locator(".alert")).to_have_text("用户名或密码不正确")
    login(page, studio.url, "mallory", password="guess 5")
    expect(page.locator(".alert")).to_contain_text("锁定 15 分钟")
    login(page, studio.url, "mallory", password="a fine password")  # right, but locked
    expect(page.locator(".alert")).to_contain_text("锁定")
    expect(page).to_have_url(re.compile(r"/login"))
    # other accounts are not affected
    login(page, studio.url, "alice")
    expect(page.locator("header .who")).to_contain_text("alice")


def test_the_login_form_itself_needs_its_csrf_token(studio, page):
    page.goto(f"{studio.url}/login")
    page.evaluate("document.querySelector('input[name=csrf_token]').value = 'forged'")
    page.fill("input[name=name]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".alert")).to_contain_text("CSRF")
    assert not [c for c in page.context.cookies() if c["name"] == "persona_studio"]


def test_an_admin_opts_a_customer_out_by_hand_and_it_is_journaled_with_their_name(studio, page):
    login(page, studio.url, "root", next="/customers/xiaowanzi/wm_amy")
    page.click("#opt")
    expect(page.locator(".notice")).to_contain_text("已将客户设为退订")
    expect(page.locator("#subscription")).to_contain_text("已退订")
    expect(page.locator("#timeline tr.row-opt").first).to_contain_text("由 root 手动操作")
    # marketing timers were cancelled as the customer's own 退订 would
    expect(page.locator("#timers")).not_to_contain_text("second_pitch")
    page.click("#opt")
    expect(page.locator("#subscription")).to_contain_text("接收营销消息")
    page.goto(f"{studio.url}/admin")
    expect(page.locator("#audit tr.audit-opt_out").first).to_contain_text("xiaowanzi/wm_amy")
    expect(page.locator("#audit tr.audit-opt_in").first).to_contain_text("root")


def test_an_admin_requeues_a_dead_letter_and_a_writer_cannot(studio, page):
    login(page, studio.url, "wendy", next="/bots/xiaowanzi")
    expect(page.locator("#letters")).to_contain_text("45015")
    expect(page.locator("#letters button")).to_have_count(0)
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    answer = page.request.post(f"{studio.url}/bots/xiaowanzi/dead-letters/wm_amy:99:0/requeue",
                               form={"csrf_token": csrf}, max_redirects=0)
    assert answer.status == 403
    page.context.clear_cookies()
    login(page, studio.url, "root", next="/bots/xiaowanzi")
    page.locator("#letters button").click()
    expect(page.locator(".notice")).to_contain_text("已放回发件箱")
    expect(page.locator("#letters")).to_contain_text("没有死信")
    page.goto(f"{studio.url}/admin")
    expect(page.locator("#audit tr.audit-requeue").first).to_contain_text("wm_amy:99:0")
