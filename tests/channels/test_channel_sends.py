"""Every message kind, through every API, lands in the fake in the platform's own format."""

from __future__ import annotations

import json

import pytest

from persona import ChannelError, Message
from persona.wechat.channels import OfficialAccountChannel, Paced
from tests.channels.conftest import enqueue

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "share.png"
    path.write_bytes(PNG)
    return str(path)


async def test_official_account_customer_service_kinds(official, fake, picture):
    await official.send_custom("alice", Message("text", "早上好，今天练腿"))
    await official.send_custom("alice", Message("image", fields={"media": picture}))
    await official.send_custom("alice", Message("news", "新人专享券", fields={
        "title": "你的券到了", "url": "https://shop.example.com/c/1", "picurl": "https://cdn.example.com/c.jpg"}))
    await official.send_custom("alice", Message("link", "点开看看", fields={
        "title": "训练计划", "url": "https://coach.example.com/p/1"}))
    await official.send_custom("alice", Message("miniprogram", "换个计划", fields={
        "appid": "wxmini", "pagepath": "pages/plan?id=1", "thumb": picture}))

    sent = fake.messages("custom", to="alice")
    assert [s.kind for s in sent] == ["text", "image", "news", "link", "miniprogram"]
    assert sent[0].text == "早上好，今天练腿"
    image_id = sent[1].body["image"]["media_id"]
    assert fake.media[image_id][0] == "image" and fake.media[image_id][2] == PNG
    assert sent[2].body["news"]["articles"] == [{"title": "你的券到了", "description": "新人专享券",
                                                    "url": "https://shop.example.com/c/1",
                                                    "picurl": "https://cdn.example.com/c.jpg"}]
    assert sent[3].body["news"]["articles"][0]["title"] == "训练计划"
    card = sent[4].body["miniprogrampage"]
    assert card["appid"] == "wxmini" and card["title"] == "换个计划" and card["thumb_media_id"] == image_id
    assert len(fake.media) == 1, "the same picture is uploaded once and its media_id reused"


async def test_template_message_with_data_url_and_idempotency_key(official, fake):
    message = Message("text", via="template", category="service", fields={
        "template_id": "TPL-1", "url": "https://bank.example.com/plan",
        "data": {"first": "您的定投今天扣款", "amount": {"value": "¥500.00", "color": "#173177"}}})
    result = await official.send("bob", message, key="bob:3:0")
    [sent] = fake.messages("template", to="bob")
    assert result.api == "mp_template" and result.msgid and sent.kind == "template"
    assert sent.fields["data"] == {"first": "您的定投今天扣款", "amount": "¥500.00"}
    assert sent.body["template_id"] == "TPL-1" and sent.body["url"] == "https://bank.example.com/plan"
    assert sent.body["data"] == {"first": {"value": "您的定投今天扣款"},
                                    "amount": {"value": "¥500.00", "color": "#173177"}}
    assert len(sent.body["client_msg_id"]) == 32


async def test_template_without_template_id_says_which_field_is_missing(official):
    with pytest.raises(ChannelError) as err:
        await official.send("bob", Message("text", via="template", script="remind"))
    assert not err.value.retryable and "template_id" in str(err.value)


async def test_text_is_sent_as_utf8_not_escaped(official, fake):
    await official.send_custom("alice", Message("text", "小完子💄", script="hello"))
    [sent] = fake.messages()
    assert sent.body["text"]["content"] == "小完子💄" and sent.script == "hello" and sent.via == "kf"


async def test_wecom_welcome_combines_text_and_attachments(wecom, fake, picture):
    fake.register_welcome_code("WC1", user="wmCustomer")
    result = await wecom.send_welcome("WC1", [
        Message("text", "你好呀，我是小完子"),
        Message("link", "新人券 20 元", fields={"title": "领券", "url": "https://shop.example.com/c"}),
        Message("miniprogram", "逛逛", fields={"appid": "wxmini", "page": "pages/index", "thumb": picture}),
    ])
    bubbles = fake.messages("welcome", to="wmCustomer")
    assert result.api == "wecom_welcome" and not result.note
    assert [(b.kind, b.text) for b in bubbles] == [("text", "你好呀，我是小完子"), ("link", "新人券 20 元"),
                                                   ("miniprogram", "逛逛")]
    assert len({b.msgid for b in bubbles}) == 1, "one welcome call"
    body = bubbles[0].body
    assert [a["msgtype"] for a in body["attachments"]] == ["link", "miniprogram"]
    assert bubbles[1].fields["title"] == "领券" and bubbles[2].fields["pagepath"] == "pages/index"


async def test_wecom_mass_message_is_pending_until_staff_confirms(wecom, fake, memstore):
    result = await wecom.add_msg_template("wmCustomer", Message("text", "双十一预告"), sender="staff01")
    assert result.pending and result.msgid
    [sent] = fake.messages("mass")
    assert sent.pending and sent.body["external_userid"] == ["wmCustomer"] and sent.body["sender"] == "staff01"
    record = json.loads(await memstore.get(f"mass:{result.msgid}"))
    assert record["status"] == "pending" and record["to"] == ["wmCustomer"]
    assert not fake.confirm(result.msgid).pending


async def test_wecom_kf_app_and_appchat(wecom, fake):
    await wecom.send_kf("wmCustomer", Message("text", "在的，请问有什么可以帮你？"), key="c:1:0")
    await wecom.send_app("zhangsan", Message("text", "客户 alice 48 小时未跟进"))
    await wecom.send_app("zhangsan", Message("news", "今日销售榜", fields={"url": "https://crm.example.com/b"}))
    await wecom.send_appchat("chatSales", Message("text", "今日销冠：李四"))
    [kf] = fake.messages("kf")
    assert kf.to == "wmCustomer" and kf.body["open_kfid"] == "wkKF01" and len(kf.body["msgid"]) == 32
    assert [(s.to, s.target, s.kind) for s in fake.messages("app")] == [("staff:zhangsan", "zhangsan", "text"),
                                                                         ("staff:zhangsan", "zhangsan", "news")]
    assert fake.messages("app")[0].body["agentid"] == fake.agentid
    assert [(s.to, s.text) for s in fake.messages("appchat", to="chatSales")] == [("group:chatSales", "今日销冠：李四")]


async def test_unsupported_kind_for_a_group_is_a_permanent_error(wecom):
    with pytest.raises(ChannelError) as err:
        await wecom.send_appchat("chat", Message("miniprogram", fields={"appid": "x", "page": "y"}))
    assert not err.value.retryable and "news" in str(err.value)


async def test_staff_pacing_holds_back_message_31_within_a_minute(deliverer, fake, memstore, clock):
    messages = [Message("text", f"提醒 {i}", to="staff:zhangsan") for i in range(31)]
    await enqueue(memstore, clock, *messages, user="system")
    assert await deliverer.run_once() == 31
    assert len(fake.messages("app", to="zhangsan")) == 30
    assert deliverer.deferred == 1 and deliverer.sent == 30 and not fake.dropped
    clock.advance(59)
    await deliverer.run_once()
    assert len(fake.messages("app", to="zhangsan")) == 30, "still within the minute: held back"
    clock.advance(130)
    await deliverer.run_once()
    assert [s.text for s in fake.messages("app", to="zhangsan")][-1] == "提醒 30"
    assert deliverer.sent == 31 and not fake.dropped and not await memstore.dead_letters()


async def test_pacing_is_per_staff_member(wecom):
    for i in range(30):
        await wecom.send_app("a", Message("text", str(i)))
    with pytest.raises(Paced) as err:
        await wecom.send_app("a", Message("text", "31"))
    assert err.value.retryable and err.value.until > wecom.clock.now()
    await wecom.send_app("b", Message("text", "b is not paced by a"))


async def test_serve_runs_a_fake_on_a_free_port_and_yields_its_url(memstore):
    from persona.fakeapi import FakeWeChat, serve

    fake = FakeWeChat()
    async with serve(fake) as url:
        assert url.startswith("http://127.0.0.1:") and url == fake.base_url
        channel = OfficialAccountChannel(url, fake.appid, fake.secret, memstore)
        try:
            await channel.send_custom("alice", Message("text", "hi"))
        finally:
            await channel.close()
    assert [(m.to, m.text, m.via) for m in fake.messages] == [("alice", "hi", "kf")]


@pytest.fixture
async def cdn():
    """A real HTTP server on loopback serving what a script's picture URL may point at."""
    from aiohttp import web

    files = {"/ok.png": (PNG, "image/png"), "/login": ("<html>请登录</html>".encode(), "text/html"),
             "/huge.png": (b"\0" * ((10 << 20) + 1), "image/png"),
             "/s3.png": (PNG, "binary/octet-stream"), "/fake.png": (b"PK\x03\x04 a zip", "image/png")}

    async def serve(request: web.Request) -> web.Response:
        body, kind = files[request.path]
        return web.Response(body=body, content_type=kind)

    app = web.Application()
    for path in files:
        app.router.add_get(path, serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_picture_url_is_fetched_only_when_it_is_a_picture_the_platform_takes(official, fake, cdn, tmp_path):
    await official.send_custom("alice", Message("image", fields={"media": f"{cdn}/ok.png"}))
    await official.send_custom("alice", Message("image", fields={"media": f"{cdn}/s3.png"}))  # a store's own type
    sent = fake.messages("custom", to="alice")
    assert [fake.media[s.body["image"]["media_id"]][2] for s in sent] == [PNG, PNG]

    with pytest.raises(ChannelError, match="text/html, not a picture") as page:
        await official.send_custom("alice", Message("image", fields={"media": f"{cdn}/login"}))
    with pytest.raises(ChannelError, match="over the platform's 10240 KB for image") as huge:
        await official.send_custom("alice", Message("image", fields={"media": f"{cdn}/huge.png"}))
    with pytest.raises(ChannelError, match="is not a picture") as fake_png:
        await official.send_custom("alice", Message("image", fields={"media": f"{cdn}/fake.png"}))
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\0" * (10 << 20))
    with pytest.raises(ChannelError, match="over the platform's") as file:
        await official.send_custom("alice", Message("image", fields={"media": str(big)}))
    assert not any(e.value.retryable for e in (page, huge, fake_png, file))  # to dead letters, not retried
    assert len(fake.media) == 2 and len(fake.messages("custom", to="alice")) == 2
