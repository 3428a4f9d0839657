"""One customer end to end: an Official Account follower and a WeCom contact with one unionid,
through the webhook service with callbacks sealed by wechatpy; replies and proactive messages
observed at the local fake API on the platform the conversation is on."""

from __future__ import annotations

import json

import pytest

from persona import FakeClock
from persona.fakeapi import FakeWeChat
from persona.service import SIGNATURE_HEADER, sign
from tests.conftest import STORE_KINDS, store_url
from tests.identity.salon import Salon
from tests.service.conftest import (CORP_ID, EVENT_SECRET, SAFE, WECOM, environ, event_xml, open_reply,
                                    reply_fields, safe, text_xml, wecom)
from tests.vectors import APPID

OPENID = "oSalonFollower000000000000001"
EXTERNAL = "wmSalonContact0000000000000001"
UNIONID = "uSalonPerson1"


def contact_added(code: str) -> str:
    return event_xml("change_external_contact",
                     "<ChangeType><![CDATA[add_external_contact]]></ChangeType>"
                     f"<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[{EXTERNAL}]]></ExternalUserID>"
                     f"<WelcomeCode><![CDATA[{code}]]></WelcomeCode>", sender="sys", account=CORP_ID,
                     created=int(CLOCK.now()))


#: a Monday morning, China time: outside quiet hours, whatever the wall clock says
CLOCK = FakeClock("2026-11-23 10:00")


@pytest.fixture(params=STORE_KINDS)
async def service(request, tmp_path, make_bot, serve):
    clock = FakeClock(CLOCK.now())
    async with FakeWeChat(appid=APPID, secret="appsecret", corpid=CORP_ID, corpsecret="corpsecret",
                          clock=clock.now) as fake:
        fake.person(UNIONID, openid=OPENID, external_userid=EXTERNAL)
        env = environ(**SAFE, **WECOM, WECHAT_API_BASE=fake.base_url, WECOM_API_BASE=fake.base_url)
        bot = make_bot(env, store=store_url(request.param, tmp_path), persona=Salon, clock=clock)
        client = await serve([bot])
        yield bot, client, fake
        await bot.deliverer.close()


async def callback(client, seal, xml: str) -> str:
    """Post ``xml`` sealed by ``seal`` (safe / wecom) with the bot's time as its timestamp."""
    query, body = seal(xml, ts=int(CLOCK.now()))
    resp = await client.post("/wechat/salon", params=query, data=body)
    assert resp.status == 200
    return await resp.text()


async def business_event(client, ident: str, user: str, name: str) -> None:
    body = json.dumps({"id": ident, "user": user, "event": name, "data": {}}).encode()
    resp = await client.post("/events/salon", data=body, headers={SIGNATURE_HEADER: sign(body, EVENT_SECRET)})
    assert resp.status in (200, 202), await resp.text()


async def test_a_follower_added_in_wecom_is_one_customer_answered_on_each_platform(service):
    bot, client, fake = service
    answer = await callback(client, safe, event_xml("subscribe", sender=OPENID, created=int(CLOCK.now())))
    assert reply_fields(open_reply(answer))["Content"] == "欢迎来到玩美研究所！"  # the passive reply, on the OA

    assert await callback(client, wecom, contact_added("WELCOME-1")) == "success"
    one = await bot.runtime.customer(OPENID)
    assert await bot.runtime.customer(EXTERNAL) is None and await bot.store.users() == [OPENID]
    assert one.ids == {OPENID: "mp", EXTERNAL: "wecom"} and one.unionid == UNIONID
    assert one.state == "welcomed" and one.tags["source"] == "wecom" and one.attrs["first_channel"] == "oa"

    await bot.deliverer.run_once()  # the WeCom add is answered through WeCom, to the external_userid
    [welcome] = fake.messages(api="welcome")
    assert welcome.target == EXTERNAL and welcome.text == "欢迎来到玩美研究所！"

    await business_event(client, "promo-1", OPENID, "promo")  # proactive: the conversation is on WeCom
    await bot.deliverer.run_once()
    [mass] = fake.messages(api="mass")
    assert mass.body["external_userid"] == [EXTERNAL] and mass.text.startswith("今晚八点")

    answer = await callback(client, safe, text_xml("hi", sender=OPENID, created=int(CLOCK.now())))  # back on the OA
    assert reply_fields(open_reply(answer))["Content"] == "你好呀，我在～"
    await business_event(client, "promo-2", EXTERNAL, "promo")  # either id names the customer
    await bot.deliverer.run_once()
    [custom] = fake.messages(api="custom")
    assert custom.target == OPENID and custom.text.startswith("今晚八点")
    assert len(fake.messages(api="mass")) == 1
    one = await bot.runtime.customer(OPENID)
    assert one.current == OPENID and one.counters == {"hellos": 1}
    assert [p for p, _ in fake.calls].count("/cgi-bin/externalcontact/get") == 1
