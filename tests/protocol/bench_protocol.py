"""Cost of the callback fast path, beside wechatpy's own helpers measured in the same run.

Run: ``.venv/bin/python tests/protocol/bench_protocol.py``. Figures drift between runs and
machines; compare the ratios within one run.
"""

from __future__ import annotations

import timeit

from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.parser import parse_message
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from persona.messages import Message
from persona.protocol import OfficialAccount, WeCom

TOKEN, AES_KEY, APPID, NOW = "spamtest", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", \
    "wx2c2769f8efd9abc2", 1_700_000_000
TEXT = ("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA["
        "oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1699999999</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[我想领券]]></Content>"
        "<MsgId>6054768590064713728</MsgId></xml>")
ADD_CONTACT = ("<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName><![CDATA[sys]]>"
               "</FromUserName><CreateTime>1699999999</CreateTime><MsgType><![CDATA[event]]>"
               "</MsgType><Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA["
               "add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>"
               "<ExternalUserID><![CDATA[wmAJ2GCAAAXtWyujaWJHDDGi0mAAAA]]></ExternalUserID>"
               "<State><![CDATA[parcel]]></State><WelcomeCode><![CDATA[CODE]]></WelcomeCode></xml>")


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def callback(xml: str, receiver: str) -> tuple[dict[str, str], bytes]:
    encrypt = PrpCrypto(WeChatCrypto(TOKEN, AES_KEY, receiver).key).encrypt(xml, receiver).decode()
    query = {"timestamp": str(NOW), "nonce": "271828",
             "msg_signature": sign(TOKEN, str(NOW), "271828", encrypt)}
    return query, f"<xml><ToUserName>x</ToUserName><Encrypt>{encrypt}</Encrypt></xml>".encode()


def us(fn, number: int = 20000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=7)) / number * 1e6


def main() -> None:
    oa = OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: NOW)
    wecom = WeCom("ww1", TOKEN, AES_KEY, now=lambda: NOW)
    oa_plain = OfficialAccount(TOKEN, APPID, None, now=lambda: NOW)
    query, body = callback(TEXT, APPID)
    wq, wbody = callback(ADD_CONTACT, "ww1")
    plain_query = {"timestamp": str(NOW), "nonce": "1", "signature": sign(TOKEN, str(NOW), "1")}
    parsed = oa.parse(query, body)
    reply = Message(kind="text", text="券已发到你的卡包，记得 3 天内使用哦")
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    xml = TextReply(source="gh", target="o", content=reply.text, time=NOW).render()
    rows = [
        ("OA safe: screen+verify+decrypt+screen+parse (text)", us(lambda: oa.parse(query, body))),
        ("WeCom: same for add_external_contact", us(lambda: wecom.parse(wq, wbody))),
        ("OA plaintext: verify+screen+parse", us(lambda: oa_plain.parse(plain_query, TEXT))),
        ("OA safe: reply text, render+encrypt+sign", us(lambda: oa.reply(parsed, reply))),
        ("wechatpy decrypt_message + parse_message (no screening)",
         us(lambda: parse_message(crypto.decrypt_message(body, query["msg_signature"],
                                                         str(NOW), "271828")))),
        ("wechatpy TextReply.render + encrypt_message",
         us(lambda: crypto.encrypt_message(
             TextReply(source="gh", target="o", content=reply.text, time=NOW).render(), "1",
             str(NOW)))),
        ("  of which wechatpy encrypt_message alone", us(lambda: crypto.encrypt_message(
            xml, "1", str(NOW)))),
    ]
    for name, cost in rows:
        print(f"{cost:8.1f} µs  {name}")


if __name__ == "__main__":
    main()
