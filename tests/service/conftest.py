"""Callbacks built the way WeChat and WeCom build them (wechatpy's own crypto), posted to the
service over real HTTP, and the answers verified and decrypted with wechatpy again."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto
from wechatpy.utils import WeChatSigner

from persona.engine.bot import Bot
from persona.service import create_app
from tests.conftest import drop_namespace
from tests.service.desk import Desk

from tests.vectors import AES_KEY, APPID, TOKEN  # Tencent's published sample account

ACCOUNT = "gh_10f6c3c3ac5a"

CORP_ID = "wwcorp0123456789"
WECOM_TOKEN = "wecomtoken"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
EVENT_SECRET = "event-secret-for-tests"

CUSTOMER = "oCustomer0000000000000000001"


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def now() -> int:
    return int(time.time())


# -- callbacks ---------------------------------------------------------------------------

def message_xml(msg_type: str, body: str = "", *, sender: str = CUSTOMER, msg_id: str | None = None,
                created: int | None = None, account: str = ACCOUNT) -> str:
    mid = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
    return (f"<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{created or now()}</CreateTime>"
            f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}{mid}</xml>")


def text_xml(content: str, *, msg_id: str | None = None, **kw: Any) -> str:
    return message_xml("text", f"<Content><![CDATA[{content}]]></Content>",
                       msg_id=msg_id or str(uuid.uuid4().int % 10**19), **kw)


def event_xml(name: str, body: str = "", **kw: Any) -> str:
    return message_xml("event", f"<Event><![CDATA[{name}]]></Event>{body}", **kw)


def plain(xml: str, *, ts: int | None = None, nonce: str = "271828", token: str = TOKEN
          ) -> tuple[dict[str, str], bytes]:
    """A plaintext-mode callback: the XML as is, the query signed with the token."""
    ts = ts or now()
    query = {"signature": sign(token, str(ts), nonce), "timestamp": str(ts), "nonce": nonce,
             "openid": CUSTOMER}
    return query, xml.encode()


def safe(xml: str, *, ts: int | None = None, nonce: str = "314159", token: str = TOKEN,
         aes_key: str = AES_KEY, appid: str = APPID, compatible: bool = False
         ) -> tuple[dict[str, str], bytes]:
    """A safe-mode (or compatible-mode) callback, encrypted and signed by wechatpy."""
    ts = ts or now()
    sealed = WeChatCrypto(token, aes_key, appid).encrypt_message(xml, nonce, ts)
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", sealed).group(1)
    inner = xml[len("<xml>"):-len("</xml>")] if compatible else f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
    body = f"<xml>{inner}<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    query = {"signature": sign(token, str(ts), nonce), "timestamp": str(ts), "nonce": nonce,
             "openid": CUSTOMER, "encrypt_type": "aes",
             "msg_signature": sign(token, str(ts), nonce, encrypt)}
    return query, body.encode()


def wecom(xml: str, *, ts: int | None = None, nonce: str = "161803", token: str = WECOM_TOKEN,
          corp_id: str = CORP_ID) -> tuple[dict[str, str], bytes]:
    """A WeCom callback: always encrypted, signed with msg_signature only."""
    ts = ts or now()
    body = WeComCrypto(token, WECOM_AES_KEY, corp_id).encrypt_message(xml, nonce, ts)
    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", body).group(1)
    return {"msg_signature": sig, "timestamp": str(ts), "nonce": nonce}, body.encode()


def open_reply(body: str, *, token: str = TOKEN, aes_key: str = AES_KEY, appid: str = APPID,
               wecom_reply: bool = False) -> str:
    """Check a safe-mode reply's signature and decrypt it, as WeChat does."""
    fields = dict(re.findall(r"<(MsgSignature|TimeStamp|Nonce)>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</\1>", body))
    crypto = (WeComCrypto(token, aes_key, appid) if wecom_reply else WeChatCrypto(token, aes_key, appid))
    return crypto.decrypt_message(body, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])


def reply_fields(xml: str) -> dict[str, str]:
    """A reply's fields, CreateTime left out (it is the moment of answering)."""
    found = dict(re.findall(r"<(\w+)>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</\1>", xml))
    found.pop("CreateTime", None)
    return found


# -- bots and the app --------------------------------------------------------------------

def environ(**extra: str) -> dict[str, str]:
    env = {"WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_APPSECRET": "appsecret",
           "PERSONA_EVENT_SECRET": EVENT_SECRET}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


SAFE = {"WECHAT_AES_KEY": AES_KEY}
WECOM = {"WECOM_CORPID": CORP_ID, "WECOM_TOKEN": WECOM_TOKEN, "WECOM_AES_KEY": WECOM_AES_KEY,
         "WECOM_SECRET": "corpsecret", "WECOM_AGENTID": "1000002"}


@pytest.fixture
async def make_bot(namespace) -> AsyncIterator[Callable[..., Bot]]:
    """Bots on a fresh namespace; their stores are closed (and Redis keys dropped) afterwards."""
    made: list[tuple[Bot, str]] = []

    def make(env: Mapping[str, str] | None = None, *, store: str = "memory://", persona: type = Desk,
             **kw: Any) -> Bot:
        ns = f"{namespace}{len(made)}"
        bot = Bot(persona, store, environ=environ() if env is None else dict(env), namespace=ns, **kw)
        made.append((bot, store))
        return bot

    yield make
    for bot, store in made:
        try:
            await bot.store.close()
        except Exception:
            pass
        if store.startswith("redis://"):
            try:
                await drop_namespace(store, bot.store.namespace)
            except Exception:  # a test pointed it at a dead port on purpose
                pass


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    """``client = await serve(bots, deadline=...)``: the app on a real local port."""
    clients: list[TestClient] = []

    async def start(bots: list[Bot], **kw: Any) -> TestClient:
        kw.setdefault("run_bots", False)
        client = TestClient(TestServer(create_app(bots, **kw)))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


async def outbox(bot: Bot) -> list[dict[str, Any]]:
    import json

    items = await bot.store.claim_outbox(10**12, 1000, lease=60)
    return [json.loads(i.payload) for i in items]


async def customer(bot: Bot, user: str = CUSTOMER):
    return await bot.runtime.customer(user)

