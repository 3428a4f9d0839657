"""WeCom callbacks: app messages from staff and customer-contact events, always encrypted.

WeCom speaks the Official Account protocol in safe mode with the corp id where the appid
was, and signs even the URL check (``msg_signature`` over an encrypted ``echostr``).

Customer-contact events become :class:`~persona.model.inputs.PlatformEvent` s about the customer:

* ``change_external_contact``: ``user`` is the ExternalUserID, ``name`` the ChangeType
  (``add_external_contact``, ``add_half_external_contact``, ``edit_external_contact``,
  ``del_external_contact``, ``del_follow_user``...), ``key`` the State of the contact way
  the customer came through, ``data["staff"]`` the staff member's UserID, plus
  ``welcome_code`` (single use, 20 s), ``source``, ``fail_reason`` when sent.
* ``change_external_chat``: ``user`` is ``group:<ChatId>``, ``name`` ``chat_create``,
  ``chat_update``, ``chat_dismiss``, or ``chat_add_member`` / ``chat_del_member`` for those
  update details; ``key`` the JoinScene / QuitScene of a member change, the UpdateDetail of
  another update; ``data`` has ``chat_id``, ``update_detail``, ``join_scene``,
  ``quit_scene``, ``mem_change_cnt``, ``mem_change_list`` (a list of ids) and so on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

try:  # wechatpy 2 names the WeCom package "work"
    from wechatpy.work.crypto import PrpCrypto as WeComPrpCrypto
    from wechatpy.work.exceptions import InvalidCorpIdException
except ImportError:
    from wechatpy.enterprise.crypto import PrpCrypto as WeComPrpCrypto
    from wechatpy.enterprise.exceptions import InvalidCorpIdException

from persona.errors import PersonaError, ProtocolError
from persona.model.inputs import Door, Platform, PlatformEvent
from persona.wechat.protocol import xmlguard
from persona.wechat.protocol.replies import SYSTEM_SENDERS, Callback
from persona.wechat.protocol.wechat import EVENT_ENVELOPE, Endpoint, field_text, event_dedupe_key

_CONTACT_SKIP = EVENT_ENVELOPE | {"UserID", "ExternalUserID"}
_MEMBER_CHANGES = {"add_member": "JoinScene", "del_member": "QuitScene"}


class WeCom(Endpoint):
    """A WeCom self-built app's callback endpoint (messages to the app, customer contact).

    ``now`` is the clock the timestamp check and the reply's CreateTime use; ``agent_id``
    (``WECOM_AGENTID``) is the app a reply names when the callback carries no AgentID.
    """

    platform = Platform.WECOM
    _receiver_name = "corpid"
    _crypto_class = WeComPrpCrypto
    _wrong_receiver = InvalidCorpIdException
    _wecom_replies = True

    def __init__(self, corp_id: str, token: str, aes_key: str,
                 now: Callable[[], float] = time.time, *, agent_id: str | None = None) -> None:
        if not aes_key:
            raise PersonaError("WECOM_AES_KEY is required: WeCom always encrypts callbacks")
        if not corp_id:
            raise PersonaError("WECOM_CORPID is required: WeCom encrypts callbacks for it")
        super().__init__(token, corp_id, aes_key, now, key_name="WECOM_AES_KEY")
        self.corp_id = corp_id
        self.agent_id = agent_id or None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ,
                 now: Callable[[], float] = time.time) -> "WeCom | None":
        """The app ``WECOM_CORPID``/``WECOM_TOKEN``/``WECOM_AES_KEY`` describe, or None."""
        token = environ.get("WECOM_TOKEN")
        if not token:
            return None
        return cls(environ.get("WECOM_CORPID", ""), token, environ.get("WECOM_AES_KEY", ""), now,
                   agent_id=environ.get("WECOM_AGENTID"))

    def verify_url(self, query: Mapping[str, str]) -> str:
        """Answer the console's URL check: the decrypted ``echostr``, exactly, as text.

        Raises :class:`ProtocolError`: 403 for a bad or missing ``msg_signature`` or a stale
        timestamp, 400 when the echostr does not decrypt or names another corp.
        """
        timestamp, nonce = self._fresh(query)
        # base64 has no spaces: a space is a '+' some proxy decoded as form encoding
        echostr = (query.get("echostr") or "").replace(" ", "+")
        if not echostr:
            raise ProtocolError("URL check query lacks echostr", 400)
        self._check("msg_signature", query.get("msg_signature"), timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def parse(self, query: Mapping[str, str], body: bytes | str) -> Callback:
        """Verify, decrypt and parse one callback.

        Raises :class:`ProtocolError`: 413 for a body over 64 KiB, 403 for a bad or missing
        ``msg_signature`` or a stale timestamp, 400 for malformed or hostile XML and for a
        payload that does not decrypt or names another corp. Unknown types parse.
        """
        xmlguard.check_size(body)
        timestamp, nonce = self._fresh(query)
        return self._callback(self._open(query, body, timestamp, nonce), timestamp, nonce, True)

    def _door(self, sender: str) -> Door:
        """Anything not about a customer comes from the platform (``sys``) or from staff using
        the app: never the customer handlers' business."""
        return Door.SYSTEM if sender in SYSTEM_SENDERS else Door.STAFF

    def _event(self, values: dict[str, Any], sender: str) -> PlatformEvent:
        event = field_text(values.get("Event")).lower()
        if event == "change_external_contact":
            return _contact_event(values, sender)
        if event == "change_external_chat":
            return _chat_event(values)
        return super()._event(values, sender)


def _contact_event(values: dict[str, Any], sender: str) -> PlatformEvent:
    change = field_text(values.get("ChangeType")).lower()
    staff = field_text(values.get("UserID"))
    data = xmlguard.snake_fields(values, _CONTACT_SKIP)
    data["staff"] = staff
    return PlatformEvent(
        user=field_text(values.get("ExternalUserID")) or sender,
        dedupe_key=event_dedupe_key(values, "change_external_contact", change, staff),
        platform=Platform.WECOM, door=Door.CUSTOMER if values.get("ExternalUserID") else Door.SYSTEM,
        name=change or "change_external_contact",
        key=field_text(values.get("State")) or None,
        data=data)


def _chat_event(values: dict[str, Any]) -> PlatformEvent:
    change = field_text(values.get("ChangeType")).lower()
    detail = field_text(values.get("UpdateDetail")).lower()
    key: str | None = None
    if change == "update" and detail in _MEMBER_CHANGES:
        name = f"chat_{detail}"
        key = field_text(values.get(_MEMBER_CHANGES[detail])) or None
    else:
        name = f"chat_{change}" if change else "change_external_chat"
        if change == "update":
            key = detail or None
    members = values.get("MemChangeList")
    version = field_text(values.get("CurMemVer")) or (
        ",".join(m for m in members if isinstance(m, str)) if isinstance(members, list) else "")
    chat_id = field_text(values.get("ChatId"))
    if not chat_id:
        raise ProtocolError("change_external_chat callback has no ChatId", 400)
    return PlatformEvent(
        user=f"group:{chat_id}",
        dedupe_key=event_dedupe_key(values, "change_external_chat", change, detail, version),
        platform=Platform.WECOM, door=Door.CUSTOMER,
        name=name, key=key, data=xmlguard.snake_fields(values, EVENT_ENVELOPE))
