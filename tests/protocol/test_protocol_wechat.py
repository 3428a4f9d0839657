"""Official Account callbacks, built the way WeChat builds them, with wechatpy's own crypto."""

from __future__ import annotations

import base64
import re
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
import xmltodict
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.replies import deserialize_reply
from wechatpy.utils import WeChatSigner

from persona.errors import PersonaError, ProtocolError
from persona.model.inputs import Door, MediaMessage, Platform, PlatformEvent, TextMessage
from persona.model.messages import Message
from persona.wechat.protocol import SUCCESS, OfficialAccount, ReplyError, can_reply

# Tencent's published sample (WXBizMsgCrypt): key, token, appid and one compatible-mode callback.
from tests.vectors import (AES_KEY, APPID, SAMPLE_BODY, SAMPLE_MSG_SIGNATURE, SAMPLE_NONCE,
                           SAMPLE_TIMESTAMP, TOKEN)

NOW = 1_700_000_000
ACCOUNT = "gh_10f6c3c3ac5a"
CUSTOMER = "oCustomer0000000000000000001"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def plain(xml: str, *, ts: int = NOW, nonce: str = "271828", token: str = TOKEN
          ) -> tuple[dict[str, str], bytes]:
    """A plaintext-mode callback: the body as is, the query signed with the token."""
    query = {"signature": sign(token, str(ts), nonce), "timestamp": str(ts), "nonce": nonce,
             "openid": CUSTOMER}
    return query, xml.encode()


def safe(xml: str, *, ts: int = NOW, nonce: str = "271828", token: str = TOKEN,
         aes_key: str = AES_KEY, appid: str = APPID, compatible: bool = False
         ) -> tuple[dict[str, str], bytes]:
    """A safe-mode callback as WeChat sends it: ToUserName + Encrypt, msg_signature in the query."""
    key = WeChatCrypto(token, aes_key, appid).key
    encrypt = PrpCrypto(key).encrypt(xml, appid).decode()
    if compatible:  # the plain fields beside the ciphertext
        inner = xml[len("<xml>"):-len("</xml>")]
    else:
        inner = f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
    body = f"<xml>{inner}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    query = {"signature": sign(token, str(ts), nonce), "timestamp": str(ts), "nonce": nonce,
             "openid": CUSTOMER, "encrypt_type": "aes",
             "msg_signature": sign(token, str(ts), nonce, encrypt)}
    return query, body.encode()


def message(msg_type: str, body: str = "", *, sender: str = CUSTOMER, created: int = NOW - 1,
            msg_id: str | None = "6054768590064713728") -> str:
    mid = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{mid}</xml>")


def event(name: str, body: str = "", **kwargs: object) -> str:
    return message("event", f"<Event><![CDATA[{name}]]></Event>{body}", msg_id=None, **kwargs)


def text(content: str = "我想领券", **kwargs: object) -> str:
    return message("text", f"<Content><![CDATA[{content}]]></Content>", **kwargs)


@pytest.fixture
def oa() -> OfficialAccount:
    return OfficialAccount(TOKEN, APPID, None, now=lambda: NOW)


@pytest.fixture
def oa_safe() -> OfficialAccount:
    return OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: NOW)


def status_of(call, *args) -> int:
    with pytest.raises(ProtocolError) as caught:
        call(*args)
    return caught.value.status


# -- Tencent's sample vector --------------------------------------------------------------


def test_tencent_sample_decrypts_in_safe_mode() -> None:
    oa = OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: int(SAMPLE_TIMESTAMP))
    query = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE,
             "msg_signature": SAMPLE_MSG_SIGNATURE, "encrypt_type": "aes"}
    callback = oa.parse(query, SAMPLE_BODY.encode())
    assert callback.input == TextMessage(user="oyORnuP8q7ou2gfYjqLzSIWZf0rs", platform=Platform.WECHAT,
                                         dedupe_key="m:6054768590064713728", text="abcdteT",
                                         msg_id="6054768590064713728")
    assert callback.account == "gh_10f6c3c3ac5a"
    assert callback.encrypted


def test_tencent_sample_parses_from_its_plain_fields_without_an_aes_key() -> None:
    oa = OfficialAccount(TOKEN, APPID, None, now=lambda: int(SAMPLE_TIMESTAMP))
    query = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE,
             "signature": sign(TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE)}
    callback = oa.parse(query, SAMPLE_BODY.encode())
    assert callback.input.text == "abcdteT"
    assert not callback.encrypted


def test_tencent_sample_with_one_changed_signature_digit_is_refused() -> None:
    oa = OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: int(SAMPLE_TIMESTAMP))
    query = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE,
             "msg_signature": SAMPLE_MSG_SIGNATURE[:-1] + "0"}
    assert status_of(oa.parse, query, SAMPLE_BODY.encode()) == 403


# -- URL verification ---------------------------------------------------------------------


def test_url_verification_returns_echostr(oa: OfficialAccount, oa_safe: OfficialAccount) -> None:
    query, _ = plain("")
    query["echostr"] = "8071253927469153211"
    assert oa.verify_url(query) == "8071253927469153211"
    assert oa_safe.verify_url(query) == "8071253927469153211"


def test_url_verification_without_echostr_is_refused(oa: OfficialAccount) -> None:
    query, _ = plain("")
    assert status_of(oa.verify_url, query) == 400


@pytest.mark.parametrize("change", [
    {"signature": None}, {"signature": "0" * 40}, {"signature": "é" * 40},
    {"signature": "\udcff" * 40}, {"timestamp": "١٤٠٩٧٣٥٦٦٩"},
    {"timestamp": str(NOW - 301)}, {"timestamp": str(NOW + 301)}, {"timestamp": "soon"},
    {"timestamp": None}, {"nonce": None},
])
def test_url_verification_refuses_unsigned_or_stale_queries(
        oa: OfficialAccount, change: dict[str, str | None]) -> None:
    query, _ = plain("")
    query["echostr"] = "x"
    for name, value in change.items():
        query.pop(name)
        if value is not None:
            query[name] = value
    assert status_of(oa.verify_url, query) == 403


# -- messages and events ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "safe", "compatible"])
def test_text_becomes_a_text_message_in_every_mode(mode: str) -> None:
    oa = OfficialAccount(TOKEN, APPID, None if mode == "plain" else AES_KEY, now=lambda: NOW)
    xml = text("我想领券 & <优惠>", msg_id="12345")
    query, body = plain(xml) if mode == "plain" else safe(xml, compatible=mode == "compatible")
    callback = oa.parse(query, body)
    assert callback.input == TextMessage(user=CUSTOMER, dedupe_key="m:12345", platform=Platform.WECHAT,
                                         door=Door.CUSTOMER, text="我想领券 & <优惠>", msg_id="12345")
    assert (callback.account, callback.sender, callback.msg_type) == (ACCOUNT, CUSTOMER, "text")
    assert callback.encrypted is (mode != "plain")


def test_compatible_mode_trusts_the_ciphertext_not_the_plain_fields(
        oa_safe: OfficialAccount) -> None:
    query, body = safe(text("the real one"), compatible=True)
    body = body.replace(b"the real one", b"a forged one", 1)
    assert oa_safe.parse(query, body).input.text == "the real one"


@pytest.mark.parametrize("xml,media_type,payload", [
    (message("image", "<PicUrl><![CDATA[http://x/p.jpg]]></PicUrl>"
                      "<MediaId><![CDATA[m1]]></MediaId>"),
     "image", {"pic_url": "http://x/p.jpg", "media_id": "m1"}),
    (message("voice", "<MediaId>v1</MediaId><Format>amr</Format><Recognition>你好</Recognition>"),
     "voice", {"media_id": "v1", "format": "amr", "recognition": "你好"}),
    (message("location", "<Location_X>23.13</Location_X><Location_Y>113.26</Location_Y>"
             "<Scale>20</Scale><Label><![CDATA[广州]]></Label>"),
     "location", {"location_x": "23.13", "location_y": "113.26", "scale": "20", "label": "广州"}),
    (message("link", "<Title>t</Title><Description>d</Description><Url>http://u</Url>"),
     "link", {"title": "t", "description": "d", "url": "http://u"}),
    (message("hologram", "<Beam>42</Beam>"), "hologram", {"beam": "42"}),
])
def test_other_messages_become_media_messages(oa: OfficialAccount, xml: str, media_type: str,
                                              payload: dict[str, str]) -> None:
    item = oa.parse(*plain(xml)).input
    assert isinstance(item, MediaMessage)
    assert (item.user, item.media_type, item.msg_id) == (CUSTOMER, media_type,
                                                         "6054768590064713728")
    assert item.dedupe_key == "m:6054768590064713728"
    assert item.payload == {"create_time": str(NOW - 1), **payload}


@pytest.mark.parametrize("xml,name,key,dedupe,data", [
    (event("subscribe"), "subscribe", None, f"e:{NOW - 1}:subscribe", {}),
    (event("subscribe", "<EventKey><![CDATA[qrscene_parcel_card]]></EventKey>"
                        "<Ticket><![CDATA[TK]]></Ticket>"),
     "subscribe", "parcel_card", f"e:{NOW - 1}:subscribe:qrscene_parcel_card", {"ticket": "TK"}),
    (event("SCAN", "<EventKey><![CDATA[store_42]]></EventKey><Ticket>TK</Ticket>"),
     "scan", "store_42", f"e:{NOW - 1}:scan:store_42", {"ticket": "TK"}),
    (event("unsubscribe", "<EventKey><![CDATA[]]></EventKey>"),
     "unsubscribe", None, f"e:{NOW - 1}:unsubscribe", {}),
    (event("CLICK", "<EventKey><![CDATA[MENU_COUPON]]></EventKey>"),
     "click", "MENU_COUPON", f"e:{NOW - 1}:click:MENU_COUPON", {}),
    (event("VIEW", "<EventKey><![CDATA[https://shop/x]]></EventKey><MenuId>7</MenuId>"),
     "view", "https://shop/x", f"e:{NOW - 1}:view:https://shop/x", {"menu_id": "7"}),
    (event("LOCATION", "<Latitude>23.1</Latitude><Longitude>113.3</Longitude>"
                       "<Precision>119.3</Precision>"),
     "location", None, f"e:{NOW - 1}:location",
     {"latitude": "23.1", "longitude": "113.3", "precision": "119.3"}),
    (event("scancode_push", "<EventKey>scan1</EventKey><ScanCodeInfo><ScanType>qrcode</ScanType>"
                            "<ScanResult>1</ScanResult></ScanCodeInfo>"),
     "scancode_push", "scan1", f"e:{NOW - 1}:scancode_push:scan1",
     {"scan_code_info": {"scan_type": "qrcode", "scan_result": "1"}}),
    (event("TEMPLATESENDJOBFINISH", "<MsgID>200163836</MsgID><Status>success</Status>"),
     "templatesendjobfinish", None, f"e:{NOW - 1}:templatesendjobfinish",
     {"msg_id": "200163836", "status": "success"}),
    (event("Brand_New_Event", "<Whatever>1</Whatever>"), "brand_new_event", None,
     f"e:{NOW - 1}:brand_new_event", {"whatever": "1"}),
    (message("event", "<Surprise>1</Surprise>", msg_id=None), "unknown", None,
     f"e:{NOW - 1}:unknown", {"surprise": "1"}),
])
def test_events_become_platform_events(oa: OfficialAccount, xml: str, name: str,
                                       key: str | None, dedupe: str,
                                       data: dict[str, object]) -> None:
    item = oa.parse(*plain(xml)).input
    assert item == PlatformEvent(user=CUSTOMER, dedupe_key=dedupe, platform=Platform.WECHAT, name=name, key=key,
                                 data={"create_time": str(NOW - 1), **data})


def test_a_retry_parses_to_the_same_input(oa_safe: OfficialAccount) -> None:
    xml = event("CLICK", "<EventKey>MENU_COUPON</EventKey>")
    first = oa_safe.parse(*safe(xml, nonce="1"))
    retry = oa_safe.parse(*safe(xml, nonce="2", ts=NOW + 5))
    assert first.input == retry.input


def test_a_message_without_a_sender_is_refused(oa: OfficialAccount) -> None:
    xml = "<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType><Content>x</Content></xml>"
    assert status_of(oa.parse, *plain(xml)) == 400


def test_missing_msg_type_still_parses(oa: OfficialAccount) -> None:
    xml = f"<xml><FromUserName>{CUSTOMER}</FromUserName><CreateTime>1</CreateTime></xml>"
    item = oa.parse(*plain(xml)).input
    assert isinstance(item, MediaMessage) and item.media_type == "unknown"


# -- rejections ---------------------------------------------------------------------------

BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
                  '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                  '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                  f'<xml><FromUserName>{CUSTOMER}</FromUserName><MsgType>text</MsgType>'
                  '<Content>&c;</Content></xml>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   f'<xml><FromUserName>{CUSTOMER}</FromUserName><MsgType>text</MsgType>'
                   '<Content>&x;</Content></xml>')
DOCTYPE = f'<!DOCTYPE xml><xml><FromUserName>{CUSTOMER}</FromUserName></xml>'
HOSTILE = {"billion-laughs": BILLION_LAUGHS, "external-entity": EXTERNAL_ENTITY,
           "doctype": DOCTYPE, "malformed": text()[:-3], "empty": "", "not-xml": "hello"}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_or_malformed_plaintext_bodies_are_refused(oa: OfficialAccount, body: str) -> None:
    assert status_of(oa.parse, *plain(body)) == 400


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_or_malformed_envelopes_are_refused(oa_safe: OfficialAccount, body: str) -> None:
    query, _ = safe(text())
    assert status_of(oa_safe.parse, query, body.encode()) == 400


@pytest.mark.parametrize("inner", [BILLION_LAUGHS, EXTERNAL_ENTITY, DOCTYPE, text()[:-3]],
                         ids=["billion-laughs", "external-entity", "doctype", "malformed"])
def test_hostile_or_malformed_decrypted_messages_are_refused(oa_safe: OfficialAccount,
                                                             inner: str) -> None:
    assert status_of(oa_safe.parse, *safe(inner)) == 400


@pytest.mark.parametrize("oa_name", ["oa", "oa_safe"])
def test_a_body_over_64_kib_is_refused_with_413(request: pytest.FixtureRequest,
                                                oa_name: str) -> None:
    account = request.getfixturevalue(oa_name)
    big = text("x" * (64 * 1024))
    query, body = plain(big) if oa_name == "oa" else safe(big)
    assert len(body) > 64 * 1024
    assert status_of(account.parse, query, body) == 413


@pytest.mark.parametrize("change", [
    {"signature": None}, {"signature": sign("other-token", str(NOW), "271828")},
    {"timestamp": str(NOW - 301)}, {"timestamp": str(NOW + 400)}, {"timestamp": "1e9"},
    {"nonce": None}, {"nonce": "314159"},
])
def test_plaintext_callbacks_need_a_fresh_valid_signature(
        oa: OfficialAccount, change: dict[str, str | None]) -> None:
    query, body = plain(text())
    for name, value in change.items():
        query.pop(name)
        if value is not None:
            query[name] = value
    assert status_of(oa.parse, query, body) == 403


@pytest.mark.parametrize("change", [
    {"msg_signature": None}, {"msg_signature": "f" * 40}, {"timestamp": str(NOW - 1000)},
])
def test_safe_callbacks_need_a_fresh_valid_msg_signature(
        oa_safe: OfficialAccount, change: dict[str, str | None]) -> None:
    query, body = safe(text())
    for name, value in change.items():
        query.pop(name)
        if value is not None:
            query[name] = value
    assert status_of(oa_safe.parse, query, body) == 403


def test_a_stale_callback_is_refused_even_when_well_signed(oa_safe: OfficialAccount) -> None:
    assert status_of(oa_safe.parse, *safe(text(), ts=NOW - 301)) == 403
    assert oa_safe.parse(*safe(text(), ts=NOW - 300)).input.text


def _sign_envelope(encrypt: str, ts: int = NOW, nonce: str = "271828") -> tuple[dict, bytes]:
    body = f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return ({"timestamp": str(ts), "nonce": nonce,
             "msg_signature": sign(TOKEN, str(ts), nonce, encrypt)}, body.encode())


@pytest.mark.parametrize("encrypt", [
    "not base64 at all!!",
    base64.b64encode(b"short").decode(),
    base64.b64encode(b"\x00" * 64).decode(),
    base64.b64encode(bytes(range(256))).decode(),
], ids=["not-base64", "not-a-block", "zero-blocks", "noise"])
def test_a_signed_payload_that_does_not_decrypt_is_refused(oa_safe: OfficialAccount,
                                                           encrypt: str) -> None:
    assert status_of(oa_safe.parse, *_sign_envelope(encrypt)) == 400


def test_a_payload_under_another_aes_key_is_refused(oa_safe: OfficialAccount) -> None:
    other_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
    assert status_of(oa_safe.parse, *safe(text(), aes_key=other_key)) == 400


def test_a_payload_for_another_appid_is_refused(oa_safe: OfficialAccount) -> None:
    with pytest.raises(ProtocolError) as caught:
        oa_safe.parse(*safe(text(), appid="wx0000000000000000"))
    assert caught.value.status == 400
    assert "appid" in str(caught.value)


def test_safe_mode_refuses_a_plaintext_body(oa_safe: OfficialAccount) -> None:
    query, body = safe(text())
    _, plain_body = plain(text())
    assert status_of(oa_safe.parse, query, plain_body) == 400


def test_without_an_aes_key_an_encrypted_only_body_says_what_to_set(oa: OfficialAccount) -> None:
    query, body = safe(text())
    with pytest.raises(ProtocolError) as caught:
        oa.parse(query, body)
    assert caught.value.status == 400 and "WECHAT_AES_KEY" in str(caught.value)


def test_a_bad_aes_key_is_refused_at_construction() -> None:
    with pytest.raises(PersonaError, match="43-character"):
        OfficialAccount(TOKEN, APPID, "too-short")
    with pytest.raises(PersonaError, match="43-character"):
        OfficialAccount(TOKEN, APPID, AES_KEY[:-1] + "!")
    with pytest.raises(PersonaError, match="WECHAT_APPID"):
        OfficialAccount(TOKEN, "", AES_KEY)


def test_from_env_picks_the_mode() -> None:
    env = {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID}
    assert not OfficialAccount.from_env(env).encrypted
    assert OfficialAccount.from_env({**env, "WECHAT_AES_KEY": ""}).encrypted is False
    assert OfficialAccount.from_env({**env, "WECHAT_AES_KEY": AES_KEY}).encrypted
    assert OfficialAccount.from_env({}) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bodies_raise_nothing_but_protocol_errors(body: bytes) -> None:
    oa = OfficialAccount(TOKEN, APPID, None, now=lambda: NOW)
    query, _ = plain("")
    try:
        oa.parse(query, body)
    except ProtocolError as exc:
        assert exc.status == 400


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
               max_size=400))
def test_arbitrary_signed_ciphertexts_raise_nothing_but_protocol_errors(encrypt: str) -> None:
    oa = OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: NOW)
    try:
        oa.parse(*_sign_envelope(encrypt))
    except ProtocolError as exc:
        assert exc.status in (400, 403)


# -- replies ------------------------------------------------------------------------------

XML_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300)


def decrypt_reply(reply: str, nonce: str = "271828") -> str:
    """Check the reply's signature and decrypt it with wechatpy, as WeChat would."""
    signature = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", reply).group(1)
    timestamp = re.search(r"<TimeStamp>(\d+)</TimeStamp>", reply).group(1)
    return WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(reply, signature, timestamp, nonce)


def open_reply(reply: str) -> dict[str, str]:
    return xmltodict.parse(decrypt_reply(reply))["xml"]


def test_nothing_to_say_answers_success(oa: OfficialAccount, oa_safe: OfficialAccount) -> None:
    assert oa.reply(oa.parse(*plain(text())), None) == SUCCESS == "success"
    assert oa_safe.reply(oa_safe.parse(*safe(text())), None) == "success"


def test_plaintext_text_reply(oa: OfficialAccount) -> None:
    callback = oa.parse(*plain(text()))
    xml = oa.reply(callback, Message(kind="text", text="券已发放 <3 ]]> 收好", proactive=False))
    reply = deserialize_reply(xml)
    assert (reply.type, reply.content) == ("text", "券已发放 <3 ]]> 收好")
    assert (reply.target, reply.source, reply.time) == (CUSTOMER, ACCOUNT, NOW)


def test_safe_mode_replies_are_encrypted_and_signed(oa_safe: OfficialAccount) -> None:
    callback = oa_safe.parse(*safe(text()))
    reply = open_reply(oa_safe.reply(callback, Message(kind="text", text="你好")))
    assert reply["MsgType"] == "text" and reply["Content"] == "你好"
    assert (reply["ToUserName"], reply["FromUserName"]) == (CUSTOMER, ACCOUNT)
    assert reply["CreateTime"] == str(NOW)


def test_image_and_news_replies(oa_safe: OfficialAccount) -> None:
    callback = oa_safe.parse(*safe(text()))
    image = open_reply(oa_safe.reply(callback, Message(kind="image",
                                                       fields={"media_id": "MEDIA_1"})))
    assert image["MsgType"] == "image" and image["Image"]["MediaId"] == "MEDIA_1"
    for kind in ("news", "link"):
        news = open_reply(oa_safe.reply(callback, Message(kind=kind, fields={
            "title": "新品试用", "description": "点我领取", "url": "https://shop/p/1",
            "picurl": "https://img/1.jpg"})))  # the send APIs' name for the picture
        assert news["MsgType"] == "news" and news["ArticleCount"] == "1"
        assert news["Articles"]["item"] == {"Title": "新品试用", "Description": "点我领取",
                                            "PicUrl": "https://img/1.jpg",
                                            "Url": "https://shop/p/1"}


@settings(max_examples=100, deadline=None)
@given(XML_TEXT, XML_TEXT)
def test_any_text_survives_the_round_trip(said: str, answered: str) -> None:
    said, answered = said.replace("\r", ""), answered.replace("\r", "")
    oa = OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: NOW)
    xml = message("text", f"<Content>{escape(said)}</Content>")
    callback = oa.parse(*safe(xml))
    assert callback.input.text == said
    reply = decrypt_reply(oa.reply(callback, Message(kind="text", text=answered)))
    assert ElementTree.fromstring(reply).findtext("Content") == answered


@pytest.mark.parametrize("msg", [
    Message(kind="miniprogram", fields={"appid": "wx1", "pagepath": "p"}),
    Message(kind="image", fields={"media": "local.png"}),
    Message(kind="text", text="hi", to="user:oSomeoneElse"),
    Message(kind="text", text="hi", to="group:chat1"),
])
def test_messages_that_cannot_be_passive_replies_are_refused(oa: OfficialAccount,
                                                             msg: Message) -> None:
    callback = oa.parse(*plain(text()))
    assert not can_reply(callback, msg)
    with pytest.raises(ReplyError):
        oa.reply(callback, msg)


def test_a_message_addressed_to_the_sender_can_be_a_reply(oa: OfficialAccount) -> None:
    callback = oa.parse(*plain(text()))
    assert can_reply(callback, Message(kind="text", text="hi", to=f"user:{CUSTOMER}"))
