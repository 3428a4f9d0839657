"""Untrusted XML: only well-formed documents without a DTD get through, each parsed once."""

from __future__ import annotations

import pytest

from persona.errors import ProtocolError
from persona.wechat.protocol import xmlguard

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<xml><Content>&lol4;</Content></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<xml><Content>&secret;</Content></xml>"""

DOCTYPE_ONLY = """<?xml version="1.0"?><!DOCTYPE xml><xml><Content>hi</Content></xml>"""

UTF16_DOCTYPE = ('<?xml version="1.0" encoding="UTF-16"?>'
                 '<!DOCTYPE x [<!ENTITY a "b">]><xml>&a;</xml>').encode("utf-16")


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, DOCTYPE_ONLY, UTF16_DOCTYPE],
                         ids=["billion-laughs", "external-entity", "doctype", "utf16-doctype"])
def test_documents_with_a_dtd_are_refused(body: str | bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        xmlguard.parse(body)
    assert caught.value.status == 400
    assert "DOCTYPE" in str(caught.value)


@pytest.mark.parametrize("body", [b"", b"<xml>", b"not xml at all", b"<xml><a></b></xml>",
                                  b"<xml>&undefined;</xml>", b"<xml/><xml/>",
                                  b"\xff\xfe\x00garbage"])
def test_malformed_documents_are_refused(body: bytes) -> None:
    with pytest.raises(ProtocolError) as caught:
        xmlguard.parse(body)
    assert caught.value.status == 400


def test_a_body_over_64_kib_is_refused_with_413() -> None:
    xmlguard.check_size(b"x" * xmlguard.MAX_BODY_BYTES)
    with pytest.raises(ProtocolError) as caught:
        xmlguard.check_size(b"x" * (xmlguard.MAX_BODY_BYTES + 1))
    assert caught.value.status == 413
    with pytest.raises(ProtocolError):
        xmlguard.check_size("汉" * (xmlguard.MAX_BODY_BYTES // 3 + 1))


def test_fields_keep_text_lists_and_nested_mappings() -> None:
    root = xmlguard.parse(
        "<xml><Content><![CDATA[ hi ]]></Content><Empty></Empty>"
        "<MemChangeList><Item>Jack</Item><Item>Rose</Item></MemChangeList>"
        "<One><Item>solo</Item></One>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo>"
        "<SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item>"
        "<item><PicMd5Sum>b</PicMd5Sum></item></PicList></SendPicsInfo></xml>")
    assert xmlguard.fields(root) == {
        "Content": " hi ",
        "Empty": "",
        "MemChangeList": ["Jack", "Rose"],
        "One": ["solo"],
        "ScanCodeInfo": {"scan_type": "qrcode", "scan_result": "1"},
        "SendPicsInfo": {"count": "2", "pic_list": [{"pic_md5_sum": "a"},
                                                    {"pic_md5_sum": "b"}]},
    }


@pytest.mark.parametrize("tag,expected", [
    ("ExternalUserID", "external_user_id"), ("WelcomeCode", "welcome_code"),
    ("MsgId", "msg_id"), ("ChatId", "chat_id"), ("AgentID", "agent_id"),
    ("Location_X", "location_x"), ("PicMd5Sum", "pic_md5_sum"), ("HQMusicUrl", "hq_music_url"),
    ("MemChangeCnt", "mem_change_cnt"), ("state", "state"),
])
def test_field_names_become_snake_case(tag: str, expected: str) -> None:
    assert xmlguard.snake(tag) == expected


@pytest.mark.parametrize("levels", [xmlguard.MAX_DEPTH + 1, 1000, 9000])
def test_fields_nested_past_the_limit_are_refused_with_400(levels: int) -> None:
    root = xmlguard.parse("<xml><Content>" + "<a>" * levels + "x" + "</a>" * levels + "</Content></xml>")
    with pytest.raises(ProtocolError) as caught:
        xmlguard.fields(root)
    assert caught.value.status == 400 and "levels deep" in str(caught.value)


def test_long_tag_names_are_renamed_without_filling_the_cache() -> None:
    tag = "LongTag" * 2000
    assert xmlguard.snake(tag) == "long_tag" + "_long_tag" * 1999
    assert xmlguard.snake("PicMd5Sum") == "pic_md5_sum"
