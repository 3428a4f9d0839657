"""Outbound channels: how a committed message leaves through WeChat's and WeCom's send APIs.

``Router`` picks the API for each message; ``OfficialAccountChannel`` and ``WeComChannel``
call it over one shared async HTTP session; ``TokenCache`` keeps the access tokens in the
store so every process of a bot uses the same one. Failures are ``ChannelError`` s that say
whether the message may be retried.
"""

from .base import HttpSession, Paced, RouteError, SendResult
from .router import Route, Router
from .tokens import TokenCache
from .wechat import OfficialAccountChannel
from .wecom import WeComChannel

__all__ = ["HttpSession", "OfficialAccountChannel", "Paced", "Route", "RouteError", "Router", "SendResult",
           "TokenCache", "WeComChannel"]
