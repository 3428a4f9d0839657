"""WeCom callbacks on the same path: URL check (decrypted echostr, byte-exact), customer
contact events, staff messages with encrypted replies, and refusals."""

from __future__ import annotations

import pytest
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto as WeComCrypto

from tests.service.conftest import (CORP_ID, CUSTOMER, WECOM, WECOM_AES_KEY, WECOM_TOKEN, customer,
                                    environ, event_xml, now, open_reply, outbox, plain, reply_fields,
                                    sign, text_xml, wecom)

EXTERNAL = "woAJ2GCAAAXtWyujaWJHDDGi0mACAAAA"
HELLO = "你好呀，有什么可以帮你？"


def contact_added(staff: str = "zhangsan") -> str:
    return event_xml("change_external_contact",
                     "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
                     f"<UserID><![CDATA[{staff}]]></UserID><ExternalUserID><![CDATA[{EXTERNAL}]]></ExternalUserID>"
                     "<State><![CDATA[parcel]]></State><WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>",
                     sender="sys", account=CORP_ID)


def echo(plain_text: str, *, corp_id: str = CORP_ID, token: str = WECOM_TOKEN) -> dict[str, str]:
    key = WeComCrypto(token, WECOM_AES_KEY, corp_id).key
    echostr = PrpCrypto(key).encrypt(plain_text, corp_id).decode()
    ts, nonce = str(now()), "1372623149"
    return {"msg_signature": sign(token, ts, nonce, echostr), "timestamp": ts, "nonce": nonce,
            "echostr": echostr}


async def test_url_verification_answers_the_decrypted_echostr_byte_exact(make_bot, serve):
    client = await serve([make_bot(environ(**WECOM))])
    resp = await client.get("/wechat/desk", params=echo("1616140317555161061"))
    assert resp.status == 200
    assert await resp.read() == b"1616140317555161061"  # no quotes, BOM or newline
    assert resp.headers["Content-Type"] == "text/plain"


async def test_url_verification_survives_an_unencoded_plus(make_bot, serve):
    client = await serve([make_bot(environ(**WECOM))])
    for attempt in range(40):  # find an echostr whose base64 has a '+'
        query = echo(f"echo-{attempt}")
        if "+" in query["echostr"]:
            break
    raw = "&".join(f"{k}={v}" for k, v in query.items())  # '+' left bare, as some proxies do
    resp = await client.get(f"/wechat/desk?{raw}")
    assert resp.status == 200 and (await resp.read()).startswith(b"echo-")


@pytest.mark.parametrize("query,status", [
    (lambda: {**echo("x"), "msg_signature": "0" * 40}, 403),
    (lambda: {k: v for k, v in echo("x").items() if k != "msg_signature"}, 403),
    (lambda: echo("x", corp_id="wwanothercorp"), 400),
], ids=["wrong-signature", "no-signature", "other-corp"])
async def test_url_verification_refusals(make_bot, serve, query, status):
    client = await serve([make_bot(environ(**WECOM))])
    resp = await client.get("/wechat/desk", params=query())
    assert resp.status == status and b"x" != await resp.read()


async def test_a_customer_added_by_staff_is_greeted_through_delivery(make_bot, serve):
    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    resp = await client.post("/wechat/desk", params=(q := wecom(contact_added()))[0], data=q[1])
    assert resp.status == 200 and await resp.text() == "success"  # system events get no passive reply
    assert (await customer(bot, EXTERNAL)).state == "greeted"
    [item] = await outbox(bot)
    assert item["user"] == EXTERNAL and item["welcome_code"] == "WELCOMECODE"


@pytest.mark.parametrize("event,body", [
    ("change_contact", "<ChangeType><![CDATA[update_user]]></ChangeType><UserID><![CDATA[lisi]]></UserID>"),
    ("change_external_tag", "<Id><![CDATA[etTAG]]></Id><TagType><![CDATA[tag]]></TagType>"
                            "<ChangeType><![CDATA[create]]></ChangeType>"),
])
async def test_platform_system_events_are_not_customers(make_bot, serve, event, body):
    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    for _ in range(2):
        query, data = wecom(event_xml(event, body, sender="sys", account=CORP_ID))
        resp = await client.post("/wechat/desk", params=query, data=data)
        assert resp.status == 200 and await resp.text() == "success"
    assert await bot.store.users() == []


async def test_staff_following_the_app_do_not_get_the_customer_welcome(make_bot, serve):
    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    query, data = wecom(event_xml("subscribe", sender="zhangsan", account=CORP_ID).replace(
        "</xml>", "<AgentID>1000002</AgentID></xml>"))
    resp = await client.post("/wechat/desk", params=query, data=data)
    assert resp.status == 200 and await resp.text() == "success"
    assert await bot.store.users() == [] and await outbox(bot) == []
    query, data = plain(event_xml("subscribe"))  # an Official Account follower is a customer
    resp = await client.post("/wechat/desk", params=query, data=data)
    assert (await customer(bot, CUSTOMER)).state == "greeted"


async def test_staff_message_to_the_app_gets_an_encrypted_reply(make_bot, serve):
    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    xml = text_xml("hi", sender="zhangsan", account=CORP_ID).replace(
        "</xml>", "<AgentID>1000002</AgentID></xml>")
    query, body = wecom(xml)
    resp = await client.post("/wechat/desk", params=query, data=body)
    answer = await resp.text()
    assert resp.status == 200 and HELLO not in answer
    fields = reply_fields(open_reply(answer, token=WECOM_TOKEN, aes_key=WECOM_AES_KEY, appid=CORP_ID,
                                     wecom_reply=True))
    assert fields["Content"] == HELLO and fields["ToUserName"] == "zhangsan"


async def test_official_account_and_wecom_share_one_path(make_bot, serve):
    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    query, body = plain(text_xml("hi"))
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 200 and reply_fields(await resp.text())["Content"] == HELLO
    query, body = wecom(contact_added())
    assert (await client.post("/wechat/desk", params=query, data=body)).status == 200
    assert {CUSTOMER, EXTERNAL} <= set(await bot.store.users())


@pytest.mark.parametrize("build,status", [
    (lambda: wecom(contact_added(), corp_id="wwanothercorp"), 400),
    (lambda: wecom(contact_added(), token="another-token"), 403),
    (lambda: wecom(contact_added(), ts=now() - 400), 403),
], ids=["other-corp", "wrong-token", "stale"])
async def test_wecom_refusals_leave_state_alone(make_bot, serve, build, status):
    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    query, body = build()
    assert (await client.post("/wechat/desk", params=query, data=body)).status == status
    assert await bot.store.users() == []


async def test_wecom_only_bot(make_bot, serve):
    bot = make_bot({**WECOM, "PERSONA_EVENT_SECRET": "s"})
    client = await serve([bot])
    query, body = wecom(contact_added())
    assert (await client.post("/wechat/desk", params=query, data=body)).status == 200
    query, body = plain(text_xml("hi"))  # nobody configured an Official Account here
    assert (await client.post("/wechat/desk", params=query, data=body)).status == 403
