"""WeChat and WeCom callbacks in, persona inputs out, passive replies back.

Pure protocol: no HTTP server and no store. The service calls, per platform endpoint,
``verify_url(query)`` for the console's GET check, ``parse(query, body)`` for a POST, and
``reply(callback, message_or_None)`` for the answer; every rejection is a
:class:`~persona.errors.ProtocolError` carrying the HTTP status to answer with.
"""

from persona.wechat.protocol.replies import (PASSIVE_KINDS, SUCCESS, Callback, ReplyError,
                                      can_reply)
from persona.wechat.protocol.wechat import MAX_CLOCK_SKEW, Endpoint, OfficialAccount
from persona.wechat.protocol.wecom import WeCom
from persona.wechat.protocol.xmlguard import MAX_BODY_BYTES

__all__ = ["MAX_BODY_BYTES", "MAX_CLOCK_SKEW", "PASSIVE_KINDS", "SUCCESS", "Callback",
           "Endpoint", "OfficialAccount", "ReplyError", "WeCom", "can_reply"]
