"""Official Account callbacks over HTTP: URL check, plaintext, compatible and safe modes,
passive replies, retries, and every kind of bad input."""

from __future__ import annotations

import asyncio

import pytest
from wechatpy.crypto import WeChatCrypto

from persona.clock import FakeClock
from persona.wechat.protocol import MAX_BODY_BYTES
from tests.service.conftest import (ACCOUNT, AES_KEY, APPID, CUSTOMER, SAFE, TOKEN, customer, environ,
                                    event_xml, message_xml, now, open_reply, outbox, plain, reply_fields,
                                    safe, sign, text_xml)
from tests.vectors import SAMPLE_BODY, SAMPLE_MSG_SIGNATURE, SAMPLE_NONCE, SAMPLE_TIMESTAMP

# Tencent's compatible-mode sample callback (WXBizMsgCrypt), signed at 1409735669.
SAMPLE_QUERY = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE, "encrypt_type": "aes",
                "msg_signature": SAMPLE_MSG_SIGNATURE}

HELLO = "你好呀，有什么可以帮你？"


async def post(client, query, body, bot="desk"):
    resp = await client.post(f"/wechat/{bot}", params=query, data=body)
    return resp.status, await resp.text()


# -- URL verification ----------------------------------------------------------------------

async def test_url_verification_echoes_the_echostr(make_bot, serve):
    client = await serve([make_bot()])
    ts, nonce = str(now()), "5551212"
    resp = await client.get("/wechat/desk", params={"signature": sign(TOKEN, ts, nonce), "timestamp": ts,
                                                    "nonce": nonce, "echostr": "8327391278391"})
    assert resp.status == 200 and await resp.read() == b"8327391278391"
    assert resp.headers["Content-Type"] == "text/plain"


@pytest.mark.parametrize("change", [{"signature": "0" * 40}, {"signature": None},
                                    {"timestamp": str(now() - 301)}])
async def test_url_verification_refuses_bad_signatures_and_stale_timestamps(make_bot, serve, change):
    client = await serve([make_bot()])
    query = {"timestamp": str(now()), "nonce": "1", "echostr": "x"}
    query["signature"] = sign(TOKEN, query["timestamp"], "1")
    query.update(change)
    if "timestamp" in change:
        query["signature"] = sign(TOKEN, query["timestamp"], "1")
    resp = await client.get("/wechat/desk", params={k: v for k, v in query.items() if v is not None})
    assert resp.status == 403 and "x" not in await resp.text()


# -- Tencent's sample and the three modes --------------------------------------------------

async def test_tencent_sample_vector(make_bot, serve):
    bot = make_bot(environ(**SAFE), clock=FakeClock(1409735669.0))
    client = await serve([bot])
    status, body = await post(client, SAMPLE_QUERY, SAMPLE_BODY.encode())
    assert (status, body) == (200, "success")
    sender = await customer(bot, "oyORnuP8q7ou2gfYjqLzSIWZf0rs")
    assert sender.counters == {"chats": 1}


async def test_plaintext_mode_answers_one_reply_passively(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, *plain(text_xml("hi")))
    assert status == 200
    assert reply_fields(body) == {"ToUserName": CUSTOMER, "FromUserName": ACCOUNT, "MsgType": "text",
                                  "Content": HELLO}
    assert (await customer(bot)).state == "greeted"
    assert await outbox(bot) == []  # passive, so never also through the send API


@pytest.mark.parametrize("compatible", [False, True], ids=["safe", "compatible"])
async def test_encrypted_modes_answer_encrypted_and_signed(make_bot, serve, compatible):
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    status, body = await post(client, *safe(text_xml("hi"), compatible=compatible))
    assert status == 200 and "<Encrypt>" in body and HELLO not in body
    assert reply_fields(open_reply(body))["Content"] == HELLO


async def test_safe_mode_trusts_only_the_ciphertext(make_bot, serve):
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    query, body = safe(text_xml("hi"))
    forged = body.replace(b"<xml>", b"<xml><MsgType>text</MsgType><Content>boom</Content>", 1)
    status, answer = await post(client, query, forged)
    assert status == 200 and reply_fields(open_reply(answer))["Content"] == HELLO


async def test_subscribe_event_greets_passively(make_bot, serve):
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    status, body = await post(client, *safe(event_xml("subscribe", "<EventKey><![CDATA[qrscene_parcel]]></EventKey>")))
    assert status == 200 and reply_fields(open_reply(body))["Content"] == "欢迎光临，我是小助手。"
    assert (await customer(bot)).state == "greeted"


async def test_two_messages_go_through_the_send_api_and_the_answer_is_success(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    assert await post(client, *plain(text_xml("two"))) == (200, "success")
    queued = await outbox(bot)
    assert [item["message"]["text"] for item in queued] == [HELLO, "还有一件事要告诉你。"]


async def test_a_message_without_reply_is_answered_success(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    assert await post(client, *plain(text_xml("随便聊聊"))) == (200, "success")
    assert (await customer(bot)).counters == {"chats": 1}


# -- retries -------------------------------------------------------------------------------

async def test_sequential_retries_move_once_and_answer_identically(make_bot, serve):
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    xml = text_xml("hi", msg_id="6054768590064700001")
    answers = [await post(client, *safe(xml, nonce=str(n))) for n in range(4)]
    assert {status for status, _ in answers} == {200}
    replies = [reply_fields(open_reply(body)) for _, body in answers]
    assert all(r == replies[0] for r in replies) and replies[0]["Content"] == HELLO
    assert (await customer(bot)).counters == {"hellos": 1}
    assert bot.metrics.value("transitions", persona="desk", source="new", dest="greeted") == 1
    assert bot.metrics.value("dedupe_hits", persona="desk", kind="text") == 3


async def test_concurrent_retries_move_once_and_answer_identically(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    xml = text_xml("hi", msg_id="6054768590064700002")
    answers = await asyncio.gather(*(post(client, *plain(xml, nonce=str(n))) for n in range(4)))
    assert {status for status, _ in answers} == {200}
    assert len({frozenset(reply_fields(body).items()) for _, body in answers}) == 1
    assert reply_fields(answers[0][1])["Content"] == HELLO
    assert (await customer(bot)).counters == {"hellos": 1}
    assert await outbox(bot) == []


async def test_event_retries_dedupe_by_sender_time_and_event(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    xml = event_xml("subscribe", created=now() - 2)
    answers = [await post(client, *plain(xml, nonce=str(n))) for n in range(3)]
    assert len({frozenset(reply_fields(body).items()) for _, body in answers}) == 1
    assert bot.metrics.value("transitions", persona="desk", source="new", dest="greeted") == 1


# -- bad input: what each gets, and the state stays as it was ------------------------------

def _unsigned(xml):
    query, body = plain(xml)
    del query["signature"]
    return query, body


def _wrong_signature(xml):
    query, body = plain(xml)
    query["signature"] = sign("another-token", query["timestamp"], query["nonce"])
    return query, body


def _stale(xml):
    return plain(xml, ts=now() - 301)


def _future(xml):
    return plain(xml, ts=now() + 301)


def _bare(body: str):
    return lambda _xml: plain(body)


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
                  f'<xml><ToUserName>{ACCOUNT}</ToUserName><FromUserName>{CUSTOMER}</FromUserName>'
                  '<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
                   f'<xml><FromUserName>{CUSTOMER}</FromUserName><MsgType>text</MsgType>'
                   '<Content>&xxe;</Content><MsgId>1</MsgId></xml>')


@pytest.mark.parametrize("build,status", [
    (_unsigned, 403), (_wrong_signature, 403), (_stale, 403), (_future, 403),
    (_bare("<xml><FromUserName>x</FromUserName"), 400),
    (_bare("not xml at all"), 400),
    (_bare(BILLION_LAUGHS), 400),
    (_bare(EXTERNAL_ENTITY), 400),
], ids=["no-signature", "wrong-signature", "stale", "future", "truncated", "not-xml",
        "billion-laughs", "external-entity"])
async def test_plaintext_bad_input(make_bot, serve, build, status):
    bot = make_bot()
    client = await serve([bot])
    got, body = await post(client, *build(text_xml("hi")))
    assert got == status and HELLO not in body
    assert await bot.store.users() == []


def _safe_unsigned(xml):
    query, body = safe(xml)
    del query["msg_signature"]
    return query, body


def _safe_wrong_msg_signature(xml):
    query, body = safe(xml)
    query["msg_signature"] = "0" * 40
    return query, body


def _other_appid(xml):
    return safe(xml, appid="wx0000000000000000")


def _other_key(xml):
    return safe(xml, aes_key="B" * 43)


def _garbage_ciphertext(xml):
    query, _ = safe(xml)
    encrypt = "bm90IHJlYWxseSBlbmNyeXB0ZWQgYXQgYWxs"
    query["msg_signature"] = sign(TOKEN, query["timestamp"], query["nonce"], encrypt)
    return query, f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>".encode()


def _hostile_inside(xml):
    return safe(BILLION_LAUGHS)


def _plain_in_safe_mode(xml):
    return plain(xml)


@pytest.mark.parametrize("build,status", [
    (_safe_unsigned, 403), (_safe_wrong_msg_signature, 403), (_other_appid, 400), (_other_key, 400),
    (_garbage_ciphertext, 400), (_hostile_inside, 400), (_plain_in_safe_mode, 400),
], ids=["no-msg-signature", "wrong-msg-signature", "other-appid", "other-aes-key", "garbage",
        "billion-laughs-inside", "plaintext-body"])
async def test_safe_mode_bad_input(make_bot, serve, build, status):
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    got, _ = await post(client, *build(text_xml("hi")))
    assert got == status
    assert await bot.store.users() == []


async def test_a_body_over_64_kib_gets_413(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    big = text_xml("x" * MAX_BODY_BYTES)
    assert (await post(client, *plain(big)))[0] == 413

    async def chunks():  # no Content-Length, still arriving when the handler reads: counted while read
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b"<" * 4096
            await asyncio.sleep(0.001)

    query, _ = plain(text_xml("hi"))
    resp = await client.post("/wechat/desk", params=query, data=chunks())
    assert resp.status == 413

    async def at_once():  # no Content-Length, all there before the handler looks
        yield b"<" * (MAX_BODY_BYTES + 1)

    resp = await client.post("/wechat/desk", params=query, data=at_once())
    assert resp.status == 413
    assert await bot.store.users() == []


async def test_unknown_bot_path_is_404(make_bot, serve):
    client = await serve([make_bot()])
    assert (await post(client, *plain(text_xml("hi")), bot="nobody"))[0] == 404
    assert (await client.get("/wechat/nobody")).status == 404
    assert (await client.post("/events/nobody", data=b"{}")).status == 404


@pytest.mark.parametrize("xml", [
    message_xml("hologram", "<Beam>1</Beam>", msg_id="77"),
    event_xml("teleport", "<EventKey>x</EventKey>"),
], ids=["message", "event"])
async def test_unknown_types_are_answered_success_and_change_nothing(make_bot, serve, xml, caplog):
    bot = make_bot()
    client = await serve([bot])
    with caplog.at_level("INFO", logger="persona.access"):
        assert await post(client, *plain(xml)) == (200, "success")
    assert await bot.store.users() == []
    assert any(getattr(r, "fields", {}).get("outcome") == "unknown" for r in caplog.records)


async def test_known_but_unrouted_types_reach_the_runtime(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    assert await post(client, *plain(message_xml("voice", "<MediaId>m</MediaId>", msg_id="78"))) == (200, "success")
    assert (await customer(bot)).state == "new"  # bookkeeping only: last seen, 48 h window


async def test_a_bot_without_wechat_credentials_has_no_callback_door(make_bot, serve):
    bot = make_bot({"PERSONA_EVENT_SECRET": "x"})
    client = await serve([bot])
    assert (await post(client, *plain(text_xml("hi"))))[0] == 404


async def test_each_bot_uses_its_own_credentials(make_bot, serve):
    from tests.service.desk import Desk

    class Annex(Desk):
        name = "annex"
        scripts_dir = str(Desk.folder() / "scripts")

    env = environ(ANNEX_WECHAT_TOKEN="annex-token")
    desk, annex = make_bot(env), make_bot(env, persona=Annex)
    client = await serve([desk, annex])
    assert (await post(client, *plain(text_xml("hi")), bot="annex"))[0] == 403
    status, body = await post(client, *plain(text_xml("hi"), token="annex-token"), bot="annex")
    assert status == 200 and reply_fields(body)["Content"] == HELLO
    assert (await post(client, *plain(text_xml("hi"), token="annex-token"), bot="desk"))[0] == 403
    assert await desk.store.users() == []


async def test_tencent_keys_round_trip_with_wechatpy(make_bot, serve):
    """A reply to a safe-mode callback is what wechatpy itself accepts as WeChat's reply."""
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    query, body = safe(text_xml("你好"), nonce="777")
    status, answer = await post(client, query, body)
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    fields = reply_fields(answer)
    assert fields["Nonce"] == "777"
    plain_reply = crypto.decrypt_message(answer, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
    assert reply_fields(plain_reply)["Content"] == HELLO
