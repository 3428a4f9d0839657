"""The platform's side of a callback: what WeChat or WeCom posts to an account's URL when
something happens on the phone (a QR code scanned, a contact added), built and encrypted with
wechatpy exactly as the platforms do, so the service under test reads a real callback."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import aiohttp
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

try:  # wechatpy 2 names the WeCom package "work"
    from wechatpy.work.crypto import WeChatCrypto as WeComCrypto
except ImportError:
    from wechatpy.enterprise.crypto import WeChatCrypto as WeComCrypto


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    """Where an account's callbacks go, and the secrets they are signed and sealed with:
    ``receiver`` is the appid (Official Account) or corpid (WeCom); an Official Account with no
    ``aes_key`` is in plaintext mode."""

    url: str
    token: str
    receiver: str
    aes_key: str | None = None


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def seal(target: CallbackTarget, xml: str, *, wecom: bool) -> tuple[dict[str, str], str]:
    """The query string and body of the callback carrying ``xml``."""
    ts, nonce = str(int(time.time())), secrets.token_hex(4)
    if wecom:
        body = WeComCrypto(target.token, target.aes_key, target.receiver).encrypt_message(xml, nonce, ts)
        found = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", body)
        return {"msg_signature": found.group(1) if found else "", "timestamp": ts, "nonce": nonce}, body
    query = {"signature": _sign(target.token, ts, nonce), "timestamp": ts, "nonce": nonce}
    if not target.aes_key:
        return query, xml
    sealed = WeChatCrypto(target.token, target.aes_key, target.receiver).encrypt_message(xml, nonce, ts)
    found = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", sealed)
    encrypt = found.group(1) if found else ""
    query.update(encrypt_type="aes", msg_signature=_sign(target.token, ts, nonce, encrypt))
    return query, f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


async def post_callback(target: CallbackTarget, xml: str, *, wecom: bool) -> int:
    """Post the callback as the platform would; the HTTP status it got."""
    query, body = seal(target, xml, wecom=wecom)
    async with aiohttp.ClientSession() as session:
        async with session.post(target.url, params=query, data=body.encode("utf-8"),
                                headers={"Content-Type": "text/xml"}) as response:
            await response.read()
            return response.status
