"""A bot served in-process on a real port, the fake WeChat / WeCom beside it, and the callback
targets the fake posts a scan to (the service's own /wechat URL, sealed with wechatpy)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp.test_utils import TestClient, TestServer

from persona.engine.bot import Bot
from persona.service import create_app
from persona.store import Store
from persona.wechat.channels.router import Router
from persona.wechat.fake import FakeWeChat
from persona.wechat.fake.callbacks import CallbackTarget

TOKEN = "acquisition-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def environ(fake: FakeWeChat) -> dict[str, str]:
    """The bot's credentials, pointed at the fake (WeCom and the Official Account)."""
    return {"WECOM_CORPID": fake.corpid, "WECOM_SECRET": fake.corpsecret, "WECOM_AGENTID": str(fake.agentid),
            "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_API_BASE": fake.base_url,
            "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": fake.appid, "WECHAT_APPSECRET": fake.secret,
            "WECHAT_AES_KEY": AES_KEY, "WECHAT_API_BASE": fake.base_url}


@dataclass
class Served:
    """One bot's service on a real local port, and what the fake needs to reach it."""

    bot: Bot
    client: TestClient
    router: Router

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    @property
    def wecom(self) -> CallbackTarget:
        env = self.bot.environ
        return CallbackTarget(self.url(f"/wechat/{self.bot.name}"), TOKEN, env["WECOM_CORPID"], AES_KEY)

    @property
    def official(self) -> CallbackTarget:
        env = self.bot.environ
        return CallbackTarget(self.url(f"/wechat/{self.bot.name}"), TOKEN, env["WECHAT_APPID"], AES_KEY)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as api:
        yield api


@pytest.fixture
async def serve(fake: FakeWeChat) -> AsyncIterator:
    """``served = await serve(store)``: 小完子 on ``store`` behind the service app."""
    started: list[Served] = []

    async def start(store: Store, bot: str = "bots.xiaowanzi") -> Served:
        made = Bot(bot, store, environ=environ(fake))
        client = TestClient(TestServer(create_app([made], run_bots=False)))
        await client.start_server()
        served = Served(made, client, Router.from_env(environ(fake), store))
        started.append(served)
        return served

    yield start
    for served in started:
        await served.client.close()
        await served.router.close()
