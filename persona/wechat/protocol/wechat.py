"""Official Account callbacks: verified, decrypted, screened, parsed once, and answered.

WeChat signs each callback with the account's token (``signature`` over token, timestamp and
nonce); in safe mode it also encrypts the message with the EncodingAESKey and signs the
ciphertext (``msg_signature``). Compatible mode sends the plain fields beside the ciphertext;
with an AES key configured only the ciphertext is trusted. Signatures are computed the way
wechatpy computes them and compared in constant time; AES is wechatpy's ``PrpCrypto``.

Inputs produced (``data`` keys are WeChat's field names in snake case, ``WelcomeCode`` ->
``welcome_code``; values are strings, ``<Item>`` lists are lists):

* ``text`` -> :class:`~persona.model.inputs.TextMessage`, ``dedupe_key`` ``m:<MsgId>``
* any other MsgType -> :class:`~persona.model.inputs.MediaMessage` with the fields in ``payload``
* ``event`` -> :class:`~persona.model.inputs.PlatformEvent` named by the lower-case Event, ``key``
  the EventKey (the scene without ``qrscene_`` for a scan-to-subscribe), ``dedupe_key``
  ``e:<CreateTime>:<event>[:<EventKey>]``.
"""

from __future__ import annotations

import abc
import base64
import binascii
import hmac
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from wechatpy.crypto import PrpCrypto as OfficialAccountPrpCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.utils import WeChatSigner

from persona.errors import PersonaError, ProtocolError
from persona.model.inputs import Door, Input, MediaMessage, Platform, PlatformEvent, TextMessage
from persona.model.messages import Message
from persona.wechat.protocol import replies, xmlguard
from persona.wechat.protocol.replies import SUCCESS, Callback

#: How far a callback's timestamp may be from our clock before it counts as a replay.
MAX_CLOCK_SKEW = 300.0

#: Digits a Unix timestamp can have this side of the year 2286; a longer one is out of the
#: window anyway, and is refused before ``int()`` builds a number no float can hold.
MAX_TIMESTAMP_DIGITS = 10

_SEALED = """<xml>
<Encrypt><![CDATA[{encrypt}]]></Encrypt>
<MsgSignature><![CDATA[{signature}]]></MsgSignature>
<TimeStamp>{timestamp}</TimeStamp>
<Nonce><![CDATA[{nonce}]]></Nonce>
</xml>"""

MESSAGE_ENVELOPE = frozenset({"ToUserName", "FromUserName", "MsgType", "MsgId"})
EVENT_ENVELOPE = frozenset({"ToUserName", "FromUserName", "MsgType", "MsgId", "Event",
                             "EventKey"})


def signature(*parts: str) -> str:
    """WeChat's callback signature: SHA-1 of the sorted parts, as wechatpy computes it."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def field_text(value: Any) -> str:
    """A field as stripped text; nested or missing fields count as empty."""
    return value.strip() if isinstance(value, str) else ""


class Endpoint(abc.ABC):
    """What Official Accounts and WeCom share: signatures, freshness, AES, replies.

    The service holds one endpoint per platform and only ever calls :meth:`verify_url`,
    :meth:`parse` and :meth:`reply`.
    """

    platform: ClassVar[Platform]
    _receiver_name: ClassVar[str] = "appid"
    _crypto_class: ClassVar[type] = OfficialAccountPrpCrypto
    _wrong_receiver: ClassVar[type[Exception]] = InvalidAppIdException
    _wecom_replies: ClassVar[bool] = False
    #: the app a WeCom reply names when the callback carries no AgentID
    agent_id: str | None = None

    def __init__(self, token: str, receiver: str, aes_key: str | None,
                 now: Callable[[], float] = time.time, *, key_name: str = "aes_key") -> None:
        if not token:
            raise PersonaError(f"{self.platform}: the callback token is empty; copy it from "
                               "the platform's console")
        self.token = token
        self.receiver = receiver
        self.now = now
        self._prp: Any = None
        if aes_key:
            self._prp = self._crypto_class(_aes_key(aes_key, key_name))

    @abc.abstractmethod
    def verify_url(self, query: Mapping[str, str]) -> str:
        """Answer the console's URL check (the text to send back) or raise
        :class:`ProtocolError` with the status to answer; each platform signs it its own way."""

    @abc.abstractmethod
    def parse(self, query: Mapping[str, str], body: bytes | str) -> Callback:
        """Verify, decrypt and parse one callback, or raise :class:`ProtocolError` with the
        status to answer (413, 403, 400)."""

    @property
    def encrypted(self) -> bool:
        """True when callbacks are decrypted and replies encrypted (safe mode, WeCom)."""
        return self._prp is not None

    # -- verification ------------------------------------------------------------------

    def _fresh(self, query: Mapping[str, str]) -> tuple[str, str]:
        timestamp = query.get("timestamp") or ""
        nonce = query.get("nonce") or ""
        if not timestamp or not nonce:
            raise ProtocolError("callback query lacks timestamp or nonce", 403)
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise ProtocolError(f"callback timestamp {timestamp[:20]!r} is not a number", 403)
        digits = timestamp.lstrip("0") or "0"
        if len(digits) > MAX_TIMESTAMP_DIGITS:
            raise ProtocolError(f"callback timestamp {timestamp[:20]}… has {len(digits)} digits: "
                                "far outside the replay window", 403)
        skew = abs(self.now() - int(digits))
        if skew > MAX_CLOCK_SKEW:
            raise ProtocolError(
                f"callback timestamp {timestamp} is {skew:.0f} s from now (limit "
                f"{MAX_CLOCK_SKEW:.0f} s): a replay, or this server's clock is wrong", 403)
        return timestamp, nonce

    def _check(self, name: str, given: str | None, *parts: str) -> None:
        if not given:
            raise ProtocolError(f"callback query lacks {name}", 403)
        expected = signature(self.token, *parts).encode("ascii")
        if not hmac.compare_digest(expected, given.encode("utf-8", "surrogatepass")):
            raise ProtocolError(
                f"{name} does not match: the callback was not signed with this bot's "
                f"{self.platform} token", 403)

    def _decrypt(self, encrypt: str) -> str:
        if self._prp is None:
            raise ProtocolError(f"{self.platform} callback is encrypted but no AES key is "
                                "configured", 400)
        try:
            return str(self._prp.decrypt(encrypt, self.receiver))
        except self._wrong_receiver:
            raise ProtocolError(f"encrypted payload names another {self._receiver_name} "
                                f"than {self.receiver!r}", 400) from None
        except Exception as exc:  # wechatpy surfaces garbage as any of a dozen errors
            raise ProtocolError(f"encrypted payload does not decrypt with this bot's AES key "
                                f"({type(exc).__name__})", 400) from None

    def _open(self, query: Mapping[str, str], body: bytes | str, timestamp: str,
              nonce: str) -> dict[str, Any]:
        """Check the ciphertext's signature, decrypt it and parse what is inside."""
        envelope = xmlguard.parse(body, "callback body")
        encrypt = envelope.findtext("Encrypt")
        if not encrypt:
            raise ProtocolError(f"{self.platform} callback body has no Encrypt element, "
                                "though this bot expects encrypted callbacks", 400)
        self._check("msg_signature", query.get("msg_signature"), timestamp, nonce, encrypt)
        inner = xmlguard.parse(self._decrypt(encrypt), "decrypted message")
        return xmlguard.fields(inner)

    # -- mapping -----------------------------------------------------------------------

    def _callback(self, values: dict[str, Any], timestamp: str, nonce: str,
                  encrypted: bool) -> Callback:
        sender = field_text(values.get("FromUserName"))
        msg_type = field_text(values.get("MsgType")).lower()
        item = self._input(values, sender, msg_type)
        if not item.user:
            raise ProtocolError("callback names no customer (no FromUserName)", 400)
        agent = field_text(values.get("AgentID")) or None
        return Callback(input=item, account=field_text(values.get("ToUserName")), sender=sender,
                        msg_type=msg_type, nonce=nonce, timestamp=timestamp,
                        encrypted=encrypted, fields=values, agent_id=agent)

    def _input(self, values: dict[str, Any], sender: str, msg_type: str) -> Input:
        if msg_type == "event":
            return self._event(values, sender)
        msg_id = field_text(values.get("MsgId")) or None
        created = field_text(values.get("CreateTime"))
        dedupe = f"m:{msg_id}" if msg_id else f"m:{created}:{msg_type}"
        door = self._door(sender)
        if msg_type == "text":
            content = values.get("Content")
            return TextMessage(user=sender, dedupe_key=dedupe, platform=self.platform, door=door,
                               text=content if isinstance(content, str) else "", msg_id=msg_id)
        return MediaMessage(user=sender, dedupe_key=dedupe, platform=self.platform, door=door,
                            media_type=msg_type or "unknown",
                            payload=xmlguard.snake_fields(values, MESSAGE_ENVELOPE),
                            msg_id=msg_id)

    def _door(self, sender: str) -> Door:
        """Who sent a message or an event not about a customer (everyone, on an Official Account)."""
        return Door.CUSTOMER

    def _event(self, values: dict[str, Any], sender: str) -> PlatformEvent:
        event = field_text(values.get("Event")).lower() or "unknown"
        raw_key = field_text(values.get("EventKey"))
        change = field_text(values.get("ChangeType"))
        key = raw_key or change or None
        if event == "subscribe" and key and key.startswith("qrscene_"):
            key = key[len("qrscene_"):]
        return PlatformEvent(
            user=sender, dedupe_key=event_dedupe_key(values, event, change, raw_key),
            platform=self.platform, door=self._door(sender),
            name=event, key=key, data=xmlguard.snake_fields(values, EVENT_ENVELOPE))

    # -- replies -----------------------------------------------------------------------

    def reply(self, callback: Callback, message: Message | None) -> str:
        """The HTTP answer to ``callback``: ``message`` as the passive reply, or ``success``.

        Encrypted and signed when the callback was. Raises
        :class:`~persona.wechat.protocol.replies.ReplyError` for a message that
        :func:`~persona.wechat.protocol.replies.can_reply` rejects.
        """
        if message is None:
            return SUCCESS
        now = int(self.now())
        xml = replies.render(callback, message, now, wecom=self._wecom_replies, agent_id=self.agent_id)
        if not callback.encrypted:
            return xml
        return self.seal(xml, callback.nonce, str(now))

    def seal(self, xml: str, nonce: str, timestamp: str) -> str:
        """``xml`` encrypted and signed the way WeChat expects a safe-mode reply."""
        if self._prp is None:
            raise PersonaError(f"{self.platform}: cannot encrypt a reply without an AES key")
        encrypt = self._prp.encrypt(xml, self.receiver).decode("ascii")
        return _SEALED.format(encrypt=encrypt, signature=signature(self.token, timestamp,
                                                                   nonce, encrypt),
                              timestamp=timestamp, nonce=nonce)


def event_dedupe_key(values: Mapping[str, Any], event: str, *extra: str) -> str:
    """``e:<CreateTime>:<event>`` plus whatever else tells two same-second events apart."""
    parts = ["e", field_text(values.get("CreateTime")), event]
    parts.extend(part for part in extra if part)
    return ":".join(parts)


def _aes_key(aes_key: str, name: str) -> bytes:
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(aes_key) != 43 or len(key) != 32:
        raise PersonaError(f"{name} must be the 43-character EncodingAESKey shown in the "
                           "platform's console")
    return key


class OfficialAccount(Endpoint):
    """A WeChat Official Account's callback endpoint, in plaintext, compatible or safe mode.

    Safe mode is on when ``aes_key`` is given: then only the encrypted part of a callback is
    trusted, and replies go back encrypted. ``now`` is the clock the timestamp check and the
    reply's CreateTime use, so tests can freeze it.
    """

    platform = Platform.WECHAT

    def __init__(self, token: str, appid: str, aes_key: str | None = None,
                 now: Callable[[], float] = time.time) -> None:
        if aes_key and not appid:
            raise PersonaError("WECHAT_APPID is required in safe mode: WeChat encrypts "
                               "callbacks for it")
        super().__init__(token, appid, aes_key, now, key_name="WECHAT_AES_KEY")
        self.appid = appid

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ,
                 now: Callable[[], float] = time.time) -> "OfficialAccount | None":
        """The account ``WECHAT_TOKEN``/``WECHAT_APPID``/``WECHAT_AES_KEY`` describe, or None."""
        token = environ.get("WECHAT_TOKEN")
        if not token:
            return None
        return cls(token, environ.get("WECHAT_APPID", ""), environ.get("WECHAT_AES_KEY") or None,
                   now)

    def verify_url(self, query: Mapping[str, str]) -> str:
        """Answer the console's URL check: the ``echostr`` back when the query is signed.

        Raises :class:`ProtocolError`: 403 for a missing or wrong signature or a stale
        timestamp, 400 when there is no echostr.
        """
        timestamp, nonce = self._fresh(query)
        self._check("signature", query.get("signature"), timestamp, nonce)
        echostr = query.get("echostr")
        if not echostr:
            raise ProtocolError("URL check query lacks echostr", 400)
        return echostr

    def parse(self, query: Mapping[str, str], body: bytes | str) -> Callback:
        """Verify, decrypt and parse one callback.

        Raises :class:`ProtocolError`: 413 for a body over 64 KiB, 403 for a bad or missing
        signature or a stale timestamp, 400 for malformed or hostile XML and for a payload
        that does not decrypt or names another appid. Unknown message and event types parse.
        """
        xmlguard.check_size(body)
        timestamp, nonce = self._fresh(query)
        if self._prp is not None:
            values = self._open(query, body, timestamp, nonce)
            return self._callback(values, timestamp, nonce, True)
        self._check("signature", query.get("signature"), timestamp, nonce)
        root = xmlguard.parse(body, "callback body")
        if root.find("MsgType") is None and root.find("Encrypt") is not None:
            raise ProtocolError("the account is in safe mode: set WECHAT_AES_KEY to the "
                                "EncodingAESKey to decrypt its callbacks", 400)
        return self._callback(xmlguard.fields(root), timestamp, nonce, False)
