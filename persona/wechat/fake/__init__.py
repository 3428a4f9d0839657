"""A local stand-in for the WeChat Official Account and WeCom HTTP APIs.

Tests, the chat simulator and ``persona serve`` on a laptop point ``WECHAT_API_BASE`` /
``WECOM_API_BASE`` at it. It speaks the real request and response shapes, checks access
tokens the way the platforms do (a new token knocks out the previous one), records every
accepted message for a test to read, and fails on demand: expired or invalid tokens, rate
limits, "system busy", HTTP 500, dropped connections, a full outage, the spent 48-hour window.

    async with FakeWeChat(clock=clock.now) as fake:
        channel = OfficialAccountChannel(fake.base_url, fake.appid, fake.secret, store)
        fake.fail(45009, times=2)
        ...
        assert [m.text for m in fake.messages(to="alice")] == ["欢迎"]

One module a platform: :mod:`.official` (the Official Account: tokens, customer-service and
template messages), :mod:`.wecom` (WeCom: welcome, mass, customer-service, app and app-chat
messages, customer groups), :mod:`.people` (the unionid behind an openid or an external_userid),
:mod:`.qrcodes` and :mod:`.contact_ways` (the codes that bring customers, and a person scanning
one: :mod:`.callbacks`), on :mod:`.core` (what both share).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from .core import MessageLog, Sent
from .contact_ways import ContactWaysAPI
from .official import OfficialAccountAPI
from .people import PeopleAPI
from .qrcodes import QrCodesAPI
from .wecom import WeComAPI

__all__ = ["FakeWeChat", "MessageLog", "Sent", "serve"]


class FakeWeChat(OfficialAccountAPI, WeComAPI, PeopleAPI, QrCodesAPI, ContactWaysAPI):
    """One Official Account and one WeCom app (corp + agent), served by one aiohttp app; who
    their customers are (:mod:`.people`), and the codes that bring them."""


@asynccontextmanager
async def serve(fake: FakeWeChat | None = None, **options: Any) -> AsyncIterator[str]:
    """Run a fake on a free loopback port for the duration of the block; yields its base URL.

    Keep a reference to ``fake`` (or pass options to build one) to read what it received.
    """
    fake = fake or FakeWeChat(**options)
    async with fake:
        yield fake.base_url


#: The name the testing helpers use.
FakeWeChatAPI = FakeWeChat
