"""WeCom callbacks, built the way WeCom builds them, with wechatpy's own WeCom crypto."""

from __future__ import annotations

import re

import pytest
import xmltodict

try:  # wechatpy 2 names the WeCom package "work"
    from wechatpy.work.crypto import PrpCrypto, WeChatCrypto
except ImportError:
    from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner

from persona.errors import PersonaError, ProtocolError
from persona.model.inputs import Door, MediaMessage, Platform, PlatformEvent, TextMessage
from persona.model.messages import Message
from persona.wechat.protocol import SUCCESS, ReplyError, WeCom, can_reply

# wechatpy's own WeCom test vectors (tests/test_crypto.py in wechatpy).
VECTOR_TOKEN = "123456"
VECTOR_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
VECTOR_CORP_ID = "wx49f0ab532d5d035a"
VECTOR_ECHO = {"msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96",
               "timestamp": "1411443780", "nonce": "437374425",
               "echostr": "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6"
                          "Yh9Bv41n7hOchLF6p+Q=="}
VECTOR_MESSAGE_QUERY = {"msg_signature": "74d92dfeb87ba7c714f89d98870ae5eb62dff26d",
                        "timestamp": "1411525903", "nonce": "461056294"}
VECTOR_MESSAGE_BODY = """<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>
<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>
<AgentID><![CDATA[1]]></AgentID>
</xml>"""

TOKEN = "wecom-callback-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "ww1234567890abcdef"
AGENT_ID = "1000002"
NOW = 1_700_000_000
STAFF = "zhangsan"
CUSTOMER = "wmAJ2GCAAAXtWyujaWJHDDGi0mAAAA"
CHAT = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def wecom_callback(xml: str, *, ts: int = NOW, nonce: str = "1372623149", token: str = TOKEN,
                   aes_key: str = AES_KEY, corp_id: str = CORP_ID) -> tuple[dict, bytes]:
    """A callback as WeCom sends it: ToUserName, AgentID and Encrypt, msg_signature in the query."""
    key = WeChatCrypto(token, aes_key, corp_id).key
    encrypt = PrpCrypto(key).encrypt(xml, corp_id).decode()
    body = (f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
            f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    return ({"msg_signature": sign(token, str(ts), nonce, encrypt), "timestamp": str(ts),
             "nonce": nonce}, body.encode())


def wecom_event(event: str, body: str, *, created: int = NOW - 1, sender: str = "sys") -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{body}</xml>")


def contact(change: str, extra: str = "", staff: str = STAFF, **kwargs: object) -> str:
    return wecom_event("change_external_contact",
                       f"<ChangeType><![CDATA[{change}]]></ChangeType>"
                       f"<UserID><![CDATA[{staff}]]></UserID>"
                       f"<ExternalUserID><![CDATA[{CUSTOMER}]]></ExternalUserID>{extra}", **kwargs)


def chat(change: str, extra: str = "", **kwargs: object) -> str:
    return wecom_event("change_external_chat",
                       f"<ChatId><![CDATA[{CHAT}]]></ChatId>"
                       f"<ChangeType><![CDATA[{change}]]></ChangeType>{extra}", **kwargs)


def app_message(msg_type: str, body: str, msg_id: str = "4363689963896700987") -> str:
    return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{STAFF}]]></FromUserName><CreateTime>{NOW - 1}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}<MsgId>{msg_id}</MsgId>"
            f"<AgentID>{AGENT_ID}</AgentID></xml>")


@pytest.fixture
def wecom() -> WeCom:
    return WeCom(CORP_ID, TOKEN, AES_KEY, now=lambda: NOW)


def status_of(call, *args) -> int:
    with pytest.raises(ProtocolError) as caught:
        call(*args)
    return caught.value.status


# -- wechatpy's vectors -------------------------------------------------------------------


def test_url_verification_vector_returns_the_bare_echostr() -> None:
    wecom = WeCom(VECTOR_CORP_ID, VECTOR_TOKEN, VECTOR_AES_KEY,
                  now=lambda: int(VECTOR_ECHO["timestamp"]))
    echo = wecom.verify_url(VECTOR_ECHO)
    assert echo == "5927782489442352469"
    assert isinstance(echo, str)


def test_url_verification_survives_a_proxy_that_decoded_plus_as_space() -> None:
    wecom = WeCom(VECTOR_CORP_ID, VECTOR_TOKEN, VECTOR_AES_KEY,
                  now=lambda: int(VECTOR_ECHO["timestamp"]))
    query = {**VECTOR_ECHO, "echostr": VECTOR_ECHO["echostr"].replace("+", " ")}
    assert wecom.verify_url(query) == "5927782489442352469"


@pytest.mark.parametrize("change", [
    {"nonce": "437374424"}, {"msg_signature": None}, {"msg_signature": "0" * 40},
    {"timestamp": "1411443000"},
])
def test_url_verification_vector_refuses_tampering(change: dict[str, str | None]) -> None:
    wecom = WeCom(VECTOR_CORP_ID, VECTOR_TOKEN, VECTOR_AES_KEY,
                  now=lambda: int(VECTOR_ECHO["timestamp"]))
    query = dict(VECTOR_ECHO)
    for name, value in change.items():
        query.pop(name)
        if value is not None:
            query[name] = value
    assert status_of(wecom.verify_url, query) == 403


def test_url_verification_for_another_corp_is_refused() -> None:
    wecom = WeCom("ww_other_corp", VECTOR_TOKEN, VECTOR_AES_KEY,
                  now=lambda: int(VECTOR_ECHO["timestamp"]))
    with pytest.raises(ProtocolError) as caught:
        wecom.verify_url(VECTOR_ECHO)
    assert caught.value.status == 400 and "corpid" in str(caught.value)


def test_message_vector_decrypts() -> None:
    wecom = WeCom(VECTOR_CORP_ID, VECTOR_TOKEN, VECTOR_AES_KEY,
                  now=lambda: int(VECTOR_MESSAGE_QUERY["timestamp"]))
    callback = wecom.parse(VECTOR_MESSAGE_QUERY, VECTOR_MESSAGE_BODY.encode())
    assert callback.input == TextMessage(user="messense", dedupe_key="m:4363689963896700987",
                                         platform=Platform.WECOM, door=Door.STAFF,
                                         text="test", msg_id="4363689963896700987")
    assert (callback.account, callback.agent_id, callback.encrypted) == (VECTOR_CORP_ID, "1", True)


# -- customer contact ---------------------------------------------------------------------


def test_add_external_contact_is_about_the_customer(wecom: WeCom) -> None:
    xml = contact("add_external_contact", "<State><![CDATA[parcel_card]]></State>"
                                          "<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode>")
    callback = wecom.parse(*wecom_callback(xml))
    assert callback.input == PlatformEvent(
        user=CUSTOMER,
        dedupe_key=f"e:{NOW - 1}:change_external_contact:add_external_contact:{STAFF}",
        platform=Platform.WECOM, door=Door.CUSTOMER, name="add_external_contact", key="parcel_card",
        data={"create_time": str(NOW - 1), "change_type": "add_external_contact",
              "state": "parcel_card", "welcome_code": "WELCOMECODE", "staff": STAFF})
    assert not callback.replyable


@pytest.mark.parametrize("change,extra,data", [
    ("edit_external_contact", "", {}),
    ("del_external_contact", "<Source><![CDATA[DELETE_BY_TRANSFER]]></Source>",
     {"source": "DELETE_BY_TRANSFER"}),
    ("del_follow_user", "", {}),
    ("add_half_external_contact", "<State>s1</State><WelcomeCode>W2</WelcomeCode>",
     {"state": "s1", "welcome_code": "W2"}),
    ("transfer_fail", "<FailReason><![CDATA[customer_refused]]></FailReason>",
     {"fail_reason": "customer_refused"}),
    ("some_future_change", "<Novel>1</Novel>", {"novel": "1"}),
])
def test_other_contact_changes_are_named_by_change_type(wecom: WeCom, change: str, extra: str,
                                                        data: dict[str, str]) -> None:
    item = wecom.parse(*wecom_callback(contact(change, extra))).input
    assert isinstance(item, PlatformEvent)
    assert (item.user, item.name) == (CUSTOMER, change)
    assert item.key == data.get("state")
    assert item.data == {"create_time": str(NOW - 1), "change_type": change, "staff": STAFF,
                         **data}
    assert item.inbound is (change not in {"del_external_contact", "del_follow_user"})


def test_two_staff_adding_one_customer_in_the_same_second_are_two_inputs(wecom: WeCom) -> None:
    first = wecom.parse(*wecom_callback(contact("add_external_contact", staff="a"))).input
    second = wecom.parse(*wecom_callback(contact("add_external_contact", staff="b"))).input
    assert first.user == second.user and first.dedupe_key != second.dedupe_key


# -- customer groups ----------------------------------------------------------------------

MEMBERS = ("<MemChangeList><Item><![CDATA[Jack]]></Item><Item><![CDATA[Rose]]></Item>"
           "</MemChangeList>")


@pytest.mark.parametrize("xml,name,key,extra_data", [
    (chat("create"), "chat_create", None, {}),
    (chat("dismiss"), "chat_dismiss", None, {}),
    (chat("update", "<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene>"
                    f"<MemChangeCnt>2</MemChangeCnt>{MEMBERS}<LastMemVer>v1</LastMemVer>"
                    "<CurMemVer>v2</CurMemVer>"),
     "chat_add_member", "3",
     {"update_detail": "add_member", "join_scene": "3", "mem_change_cnt": "2",
      "mem_change_list": ["Jack", "Rose"], "last_mem_ver": "v1", "cur_mem_ver": "v2"}),
    (chat("update", "<UpdateDetail>del_member</UpdateDetail><QuitScene>1</QuitScene>"
                    "<MemChangeCnt>1</MemChangeCnt>"
                    "<MemChangeList><Item>Jack</Item></MemChangeList>"),
     "chat_del_member", "1",
     {"update_detail": "del_member", "quit_scene": "1", "mem_change_cnt": "1",
      "mem_change_list": ["Jack"]}),
    (chat("update", "<UpdateDetail>change_name</UpdateDetail>"), "chat_update", "change_name",
     {"update_detail": "change_name"}),
])
def test_group_changes_are_about_the_group(wecom: WeCom, xml: str, name: str, key: str | None,
                                           extra_data: dict[str, object]) -> None:
    item = wecom.parse(*wecom_callback(xml)).input
    assert isinstance(item, PlatformEvent)
    assert (item.user, item.name, item.key) == (f"group:{CHAT}", name, key)
    assert item.data == {"create_time": str(NOW - 1), "chat_id": CHAT,
                         "change_type": xml.split("<ChangeType><![CDATA[")[1].split("]")[0],
                         **extra_data}
    assert item.dedupe_key.startswith(f"e:{NOW - 1}:change_external_chat:")


def test_two_joins_in_the_same_second_are_two_inputs(wecom: WeCom) -> None:
    def join(member: str, version: str) -> str:
        return chat("update", "<UpdateDetail>add_member</UpdateDetail><JoinScene>0</JoinScene>"
                              f"<MemChangeList><Item>{member}</Item></MemChangeList>"
                              f"<CurMemVer>{version}</CurMemVer>")
    first = wecom.parse(*wecom_callback(join("Jack", "v2"))).input
    second = wecom.parse(*wecom_callback(join("Rose", "v3"))).input
    assert first.dedupe_key != second.dedupe_key


def test_a_group_change_without_a_chat_is_refused(wecom: WeCom) -> None:
    xml = wecom_event("change_external_chat", "<ChangeType>create</ChangeType>")
    assert status_of(wecom.parse, *wecom_callback(xml)) == 400


# -- messages to the app ------------------------------------------------------------------


def test_staff_text_to_the_app(wecom: WeCom) -> None:
    callback = wecom.parse(*wecom_callback(app_message("text", "<Content>日报</Content>",
                                                       msg_id="77")))
    assert callback.input == TextMessage(user=STAFF, dedupe_key="m:77", platform=Platform.WECOM,
                                         door=Door.STAFF, text="日报", msg_id="77")  # staff, not a customer
    assert callback.agent_id == AGENT_ID and callback.replyable


def test_other_app_messages_and_unknown_events_parse(wecom: WeCom) -> None:
    image = wecom.parse(*wecom_callback(app_message(
        "image", "<PicUrl>http://p</PicUrl><MediaId>m</MediaId>"))).input
    assert isinstance(image, MediaMessage) and image.media_type == "image"
    assert image.payload["media_id"] == "m" and image.payload["agent_id"] == AGENT_ID
    enter = wecom.parse(*wecom_callback(wecom_event("enter_agent", "<EventKey></EventKey>",
                                                    sender=STAFF))).input
    assert (enter.user, enter.name, enter.key) == (STAFF, "enter_agent", None)
    tag = wecom.parse(*wecom_callback(wecom_event(
        "change_external_tag",
        "<Id>et1</Id><TagType>tag</TagType><ChangeType>create</ChangeType>"))).input
    assert (tag.name, tag.key, tag.data["id"]) == ("change_external_tag", "create", "et1")
    odd = wecom.parse(*wecom_callback(app_message("quantum", "<Spin>up</Spin>"))).input
    assert isinstance(odd, MediaMessage) and odd.media_type == "quantum"


# -- rejections ---------------------------------------------------------------------------


@pytest.mark.parametrize("change", [
    {"msg_signature": None}, {"msg_signature": sign("other", str(NOW), "1372623149", "x")},
    {"timestamp": str(NOW - 301)}, {"timestamp": str(NOW + 301)}, {"timestamp": None},
    {"nonce": "1"},
])
def test_callbacks_need_a_fresh_valid_msg_signature(wecom: WeCom,
                                                    change: dict[str, str | None]) -> None:
    query, body = wecom_callback(contact("add_external_contact"))
    for name, value in change.items():
        query.pop(name)
        if value is not None:
            query[name] = value
    assert status_of(wecom.parse, query, body) == 403


def test_a_plain_signature_is_not_enough(wecom: WeCom) -> None:
    query, body = wecom_callback(contact("add_external_contact"))
    query = {"signature": sign(TOKEN, query["timestamp"], query["nonce"]),
             "timestamp": query["timestamp"], "nonce": query["nonce"]}
    assert status_of(wecom.parse, query, body) == 403


def test_a_callback_for_another_corp_is_refused(wecom: WeCom) -> None:
    with pytest.raises(ProtocolError) as caught:
        wecom.parse(*wecom_callback(contact("add_external_contact"), corp_id="ww_someone_else"))
    assert caught.value.status == 400 and "corpid" in str(caught.value)


def test_a_callback_under_another_aes_key_is_refused(wecom: WeCom) -> None:
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
    assert status_of(wecom.parse, *wecom_callback(contact("add_external_contact"),
                                                  aes_key=other)) == 400


@pytest.mark.parametrize("inner", [
    '<!DOCTYPE xml [<!ENTITY a "a"><!ENTITY b "&a;&a;&a;&a;">]><xml>&b;</xml>',
    '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml>&x;</xml>',
    "<xml><FromUserName>sys</FromUserName",
], ids=["billion-laughs", "external-entity", "malformed"])
def test_hostile_decrypted_messages_are_refused(wecom: WeCom, inner: str) -> None:
    assert status_of(wecom.parse, *wecom_callback(inner)) == 400


@pytest.mark.parametrize("body", [
    b'<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>',
    b"<xml><Encrypt>abc</Encrypt>", b"<xml><ToUserName>ww</ToUserName></xml>",
], ids=["external-entity", "malformed", "no-encrypt"])
def test_hostile_or_malformed_envelopes_are_refused(wecom: WeCom, body: bytes) -> None:
    query, _ = wecom_callback(contact("add_external_contact"))
    assert status_of(wecom.parse, query, body) == 400


def test_a_body_over_64_kib_is_refused_with_413(wecom: WeCom) -> None:
    query, body = wecom_callback(contact("add_external_contact", "<Pad>" + "x" * 65536 + "</Pad>"))
    assert status_of(wecom.parse, query, body) == 413


def test_a_signed_payload_that_does_not_decrypt_is_refused(wecom: WeCom) -> None:
    encrypt = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()
    query = {"msg_signature": sign(TOKEN, str(NOW), "5", encrypt), "timestamp": str(NOW),
             "nonce": "5"}
    assert status_of(wecom.parse, query, body) == 400


def test_an_aes_key_is_required() -> None:
    with pytest.raises(PersonaError, match="WECOM_AES_KEY"):
        WeCom(CORP_ID, TOKEN, "")


def test_from_env() -> None:
    env = {"WECOM_CORPID": CORP_ID, "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY}
    assert WeCom.from_env(env).corp_id == CORP_ID
    assert WeCom.from_env({}) is None


# -- replies ------------------------------------------------------------------------------


def open_reply(reply: str, nonce: str = "1372623149") -> dict[str, str]:
    signature = re.search(r"<MsgSignature><!\[CDATA\[(\w+)\]\]>", reply).group(1)
    timestamp = re.search(r"<TimeStamp>(\d+)</TimeStamp>", reply).group(1)
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP_ID)
    return xmltodict.parse(crypto.decrypt_message(reply, signature, timestamp, nonce))["xml"]


def test_reply_to_staff_is_encrypted_and_signed_for_wecom(wecom: WeCom) -> None:
    callback = wecom.parse(*wecom_callback(app_message("text", "<Content>日报</Content>")))
    reply = open_reply(wecom.reply(callback, Message(kind="text", text="收到 ]]> 谢谢")))
    assert reply["MsgType"] == "text" and reply["Content"] == "收到 ]]> 谢谢"
    assert (reply["ToUserName"], reply["FromUserName"]) == (STAFF, CORP_ID)
    assert (reply["AgentID"], reply["CreateTime"]) == (AGENT_ID, str(NOW))
    news = open_reply(wecom.reply(callback, Message(kind="news", fields={
        "title": "今日销售榜", "url": "https://x/rank", "picurl": "https://x/r.png"})))
    assert news["Articles"]["item"]["Title"] == "今日销售榜"
    assert news["Articles"]["item"]["PicUrl"] == "https://x/r.png"


def test_a_reply_to_a_callback_without_agent_id_carries_the_configured_one() -> None:
    bare = app_message("text", "<Content>日报</Content>").replace(f"<AgentID>{AGENT_ID}</AgentID>", "")
    configured = WeCom(CORP_ID, TOKEN, AES_KEY, now=lambda: NOW, agent_id="1000005")
    reply = open_reply(configured.reply(configured.parse(*wecom_callback(bare)), Message(kind="text", text="收到")))
    assert reply["AgentID"] == "1000005"
    unconfigured = WeCom(CORP_ID, TOKEN, AES_KEY, now=lambda: NOW)
    reply = open_reply(unconfigured.reply(unconfigured.parse(*wecom_callback(bare)), Message(kind="text", text="收到")))
    assert "AgentID" not in reply and reply["Content"] == "收到"  # never a made-up 0


def test_system_events_get_no_passive_reply(wecom: WeCom) -> None:
    callback = wecom.parse(*wecom_callback(contact("add_external_contact")))
    assert wecom.reply(callback, None) == SUCCESS
    message = Message(kind="text", text="欢迎", via="welcome")
    assert not can_reply(callback, message)
    with pytest.raises(ReplyError):
        wecom.reply(callback, message)


def test_each_wecom_input_names_its_door(wecom: WeCom) -> None:
    """Customers, staff using the app and the platform itself arrive on one URL."""
    system = wecom.parse(*wecom_callback(wecom_event("change_contact", "<ChangeType>update_user</ChangeType>")))
    staff = wecom.parse(*wecom_callback(wecom_event("subscribe", "", sender=STAFF)))
    customer = wecom.parse(*wecom_callback(contact("add_external_contact")))
    group = wecom.parse(*wecom_callback(chat("create")))
    assert [(c.input.door, c.input.platform) for c in (system, staff, customer, group)] == [
        (Door.SYSTEM, Platform.WECOM), (Door.STAFF, Platform.WECOM), (Door.CUSTOMER, Platform.WECOM),
        (Door.CUSTOMER, Platform.WECOM)]
