"""侧边栏: the desk in WeCom's chat toolbar, in a real browser with a stand-in ``wx`` (the JS-SDK
itself is WeCom's): the page signs itself in with the app's agent_config ticket, asks which
customer the chat is with, shows them, and puts a suggested reply or a 话术库 text into the chat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest
from playwright.sync_api import expect

from persona.wechat.channels.wecom import jsapi_signature
from tests.cli.conftest import ROOT

from .conftest import free_port, login, run_async, shot, start_studio, stop, wait_for_port
from .test_agents_page import seed

CORPID, SECRET, AGENTID = "wwSidebarCorp", "sidebar-secret", "1000002"

#: WeCom's JS-SDK, stood in for: agentConfig accepts any signature and remembers it, the chat is
#: with wm_amy, and sendChatMessage keeps what it was given
STAND_IN = """
window.__wx = {config: null, sent: []};
window.wx = {
  agentConfig: function (c) { window.__wx.config = c; setTimeout(c.success, 0); },
  invoke: function (name, args, cb) {
    if (name === "getCurExternalContact") { cb({err_msg: "getCurExternalContact:ok", userId: "wm_amy"}); }
    else if (name === "sendChatMessage") { window.__wx.sent.push(args); cb({err_msg: "sendChatMessage:ok"}); }
    else { cb({err_msg: name + ":fail"}); }
  }
};
"""


@pytest.fixture(scope="module")
def sidebar_studio(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sidebar")
    url = f"sqlite:///{folder}/persona.db"
    api_port = free_port()
    wecom = {"WECOM_CORPID": CORPID, "WECOM_SECRET": SECRET, "WECOM_AGENTID": AGENTID}
    fake = subprocess.Popen([sys.executable, "-m", "persona", "fakeapi", "--port", str(api_port)], cwd=ROOT,
                            env={**os.environ, **wecom}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc, port = start_studio(folder, url, run_async(seed, url),
                              {**wecom, "WECOM_API_BASE": f"http://127.0.0.1:{api_port}"})
    try:
        wait_for_port(api_port, fake)
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
    finally:
        stop(proc)
        fake.terminate()
        fake.wait(10)


def ticket(api: str) -> str:
    with urllib.request.urlopen(f"{api}/cgi-bin/gettoken?corpid={CORPID}&corpsecret={SECRET}") as r:
        token = json.load(r)["access_token"]
    with urllib.request.urlopen(f"{api}/cgi-bin/ticket/get?access_token={token}&type=agent_config") as r:
        return json.load(r)["ticket"]


def test_the_sidebar_signs_in_shows_the_chats_customer_and_puts_a_reply_into_the_chat(sidebar_studio, page):
    base, api = sidebar_studio
    page.route("https://res.wx.qq.com/**", lambda route: route.abort())
    page.route("https://open.work.weixin.qq.com/**", lambda route: route.abort())
    page.add_init_script(STAND_IN)
    login(page, base, "alice", next="/sidebar/xiaowanzi")
    expect(page.locator("#sidebar-name")).to_have_text("wm_amy")
    expect(page.locator("#sidebar-state")).not_to_be_empty()
    expect(page.locator("#sidebar-lines li")).not_to_have_count(0)
    expect(page.locator("#sidebar-suggestions button.pick")).to_have_count(3)
    library = page.locator("#sidebar-library button.pick")
    expect(library).to_have_count(2)
    shot(page, "sidebar")

    config = page.evaluate("window.__wx.config")
    assert (config["corpid"], str(config["agentid"])) == (CORPID, AGENTID)
    assert set(config["jsApiList"]) == {"getCurExternalContact", "sendChatMessage"}
    assert config["signature"] == jsapi_signature(ticket(api), config["nonceStr"], config["timestamp"],
                                                  f"{base}/sidebar/xiaowanzi")

    wanted = library.filter(has_text="无理由退货").first
    wanted.click()
    expect(page.locator("#sidebar-status")).to_contain_text("已放进聊天框")
    [sent] = page.evaluate("window.__wx.sent")
    assert sent["msgtype"] == "text" and "无理由退货" in sent["text"]["content"]

    content = page.locator("#sidebar-content button.pick")  # 内容库: the shipped cards and picture
    expect(content).to_have_count(4)
    content.filter(has_text="新人礼包").click()
    for _ in range(200):  # the status already says so from the first; the page's CSP forbids wait_for_function
        if page.evaluate("window.__wx.sent.length") == 2:
            break
        page.wait_for_timeout(50)
    card = page.evaluate("window.__wx.sent")[1]
    assert card["msgtype"] == "news" and card["news"]["link"] == "https://shop.example.com/coupon/NEW10"
    assert card["enterChat"] is True

    content.filter(has_text="退货三步").click()  # a picture: uploaded to WeCom first, then by its media_id
    for _ in range(200):
        if page.evaluate("window.__wx.sent.length") == 3:
            break
        page.wait_for_timeout(50)
    assert page.evaluate("window.__wx.sent.length") == 3, page.locator("#sidebar-error").text_content()
    picture = page.evaluate("window.__wx.sent")[2]
    assert picture["msgtype"] == "image" and picture["image"]["mediaId"].startswith("media-")
    expect(page.locator("#sidebar-status")).to_contain_text("已放进聊天框")
    shot(page, "sidebar-picture")
    again = page.request.get(f"{base}/api/sidebar/xiaowanzi/content/{_image_id(page, base)}")
    assert again.json()["message"] == {"msgtype": "image", "image": picture["image"]}  # uploaded once, reused
    assert page.request.get(f"{base}/api/sidebar/xiaowanzi/content/nothing").status == 404


def _image_id(page, base: str) -> str:
    items = page.request.get(f"{base}/api/library/xiaowanzi").json()["items"]
    [image] = [i for i in items if i["kind"] == "image"]
    assert "message" not in image and image["fetch"].endswith(image["id"])
    return image["id"]


def test_a_writer_keeps_the_content_library_and_a_forbidden_word_is_refused(sidebar_studio, page):
    base, _ = sidebar_studio
    login(page, base, "wendy", next="/library/xiaowanzi")
    expect(page.locator("#library tbody tr")).to_have_count(4)
    form = page.locator("#library-add")

    def add(kind: str, **fields: str) -> None:
        form.locator("select[name=kind]").select_option(kind)
        for name, value in fields.items():
            form.locator(f"[name={name}]").fill(value)
        form.locator("button[type=submit]").click()

    add("link", title="双十二会场", url="https://shop.example.com/1212", description="全场满 199 减 30")
    expect(page.locator(".notice")).to_contain_text("已加入内容库")
    expect(page.locator("#library tbody tr")).to_have_count(5)
    add("text", title="功效", text="这款面霜能根治痘痘")
    expect(page.locator("#library-error")).to_contain_text("没有保存：含有禁用词 根治（risk.yaml）")
    add("image", title="偷看", picture="../../../etc/passwd")  # only a file inside the bot's folder
    expect(page.locator("#library-error")).to_contain_text("机器人目录里的图片文件")
    add("image", title="双十二海报", picture="https://shop.example.com/img/1212.png")
    expect(page.locator("#library tbody tr")).to_have_count(6)
    shot(page, "library")
    for title in ("双十二会场", "双十二海报"):
        page.locator("#library tr", has_text=title).locator("button").click()
    expect(page.locator("#library tbody tr")).to_have_count(4)


def test_a_forbidden_word_never_reaches_the_chat_and_outside_wecom_the_page_says_so(sidebar_studio, page):
    base, _ = sidebar_studio
    login(page, base, "alice", next="/sidebar/xiaowanzi")
    expect(page.locator("#sidebar-error")).to_contain_text("请在企业微信的聊天工具栏里打开这个页面")
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    verdict = page.request.post(f"{base}/api/sidebar/xiaowanzi/check", data=json.dumps({"text": "这款能根治痘痘"}),
                                headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert verdict.status == 200 and verdict.json() == {"words": ["根治"], "blocked": True}
    assert page.request.get(f"{base}/api/sidebar/xiaowanzi/config?url=nowhere").status == 400
