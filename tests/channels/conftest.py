"""Fixtures for the outbound side: a fake clock, the fake WeChat/WeCom API on loopback, channels
pointed at it, and a helper that commits messages to the outbox the way a turn does."""

from __future__ import annotations

import json
from typing import AsyncIterator

import pytest

from persona import FakeClock, Message
from persona.wechat.channels import HttpSession, OfficialAccountChannel, Router, WeComChannel
from persona.engine.delivery import Deliverer
from persona.fakeapi import FakeWeChat
from persona.store import Store, open_store
from persona.store.base import Commit, OutboxItem


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 10:00")


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat(clock=clock.now) as api:
        yield api


@pytest.fixture
async def memstore() -> AsyncIterator[Store]:
    s = open_store("memory://", "bot")
    yield s
    await s.close()


def env_for(fake: FakeWeChat, *, mp: bool = True, wecom: bool = True, kf: str | None = None) -> dict[str, str]:
    """The environment ``persona serve`` would get, pointed at the fake."""
    env: dict[str, str] = {}
    if mp:
        env.update(WECHAT_APPID=fake.appid, WECHAT_APPSECRET=fake.secret, WECHAT_API_BASE=fake.base_url)
    if wecom:
        env.update(WECOM_CORPID=fake.corpid, WECOM_SECRET=fake.corpsecret, WECOM_AGENTID=str(fake.agentid),
                   WECOM_API_BASE=fake.base_url)
    if kf:
        env["WECOM_KF_ID"] = kf
    return env


@pytest.fixture
async def official(fake: FakeWeChat, memstore: Store, clock: FakeClock) -> AsyncIterator[OfficialAccountChannel]:
    channel = OfficialAccountChannel(fake.base_url, fake.appid, fake.secret, memstore, clock=clock)
    yield channel
    await channel.close()


@pytest.fixture
async def wecom(fake: FakeWeChat, memstore: Store, clock: FakeClock) -> AsyncIterator[WeComChannel]:
    channel = WeComChannel(fake.base_url, fake.corpid, fake.corpsecret, fake.agentid, memstore, clock=clock,
                           kf_id="wkKF01")
    yield channel
    await channel.close()


@pytest.fixture
async def deliverer(fake: FakeWeChat, memstore: Store, clock: FakeClock) -> AsyncIterator[Deliverer]:
    router = Router.from_env(env_for(fake), memstore, http=HttpSession(timeout=0.5))
    d = Deliverer(memstore, router, clock, max_attempts=4)
    yield d
    await d.close()


async def enqueue(store: Store, clock: FakeClock, *messages: Message, user: str = "alice",
                  welcome_code: str | None = None, payloads: list[dict] | None = None,
                  due: float | None = None) -> list[OutboxItem]:
    """Commit messages (and raw payloads) for ``user`` exactly as the runtime's turn would."""
    loaded = await store.load(user)
    version = loaded.version + 1
    items = []
    for i, message in enumerate(messages):
        payload = {"type": "message", "user": user, "message": message.to_dict()}
        if welcome_code:
            payload["welcome_code"] = welcome_code
        items.append(OutboxItem(f"{user}:{version}:{i}", user, clock.now() if due is None else due,
                                json.dumps(payload, ensure_ascii=False)))
    for j, payload in enumerate(payloads or []):
        items.append(OutboxItem(f"{user}:{version}:e{j}", user, clock.now() if due is None else due,
                                json.dumps(payload, ensure_ascii=False)))
    result = await store.commit(Commit(user=user, expected_version=loaded.version, record=b"{}", outbox=items))
    assert result.ok
    return items
