"""Access tokens: cached in the store, refreshed once, shared by processes that must not knock
each other's token out."""

from __future__ import annotations

import asyncio

import pytest

from persona import ChannelError, Message
from persona.wechat.channels import OfficialAccountChannel, WeComChannel


async def test_one_token_for_many_sends(official, fake):
    await asyncio.gather(*(official.send_custom(f"u{i}", Message("text", "hi")) for i in range(20)))
    assert fake.token_requests("mp") == 1 and len(fake.messages()) == 20


async def test_expired_token_mid_run_is_refreshed_once_and_the_call_retried(official, fake):
    await official.send_custom("alice", Message("text", "one"))
    fake.expire_tokens()
    await official.send_custom("alice", Message("text", "two"))
    assert fake.token_requests("mp") == 2
    assert [s.text for s in fake.messages()] == ["one", "two"]
    assert ("/cgi-bin/message/custom/send", 42001) in fake.calls


async def test_invalidated_token_mid_run_is_refreshed_once(wecom, fake):
    await wecom.send_app("zhangsan", Message("text", "one"))
    fake.invalidate_tokens()
    await asyncio.gather(*(wecom.send_app("zhangsan", Message("text", str(i))) for i in range(5)))
    assert fake.token_requests("wecom") == 2 and len(fake.messages("app")) == 6


async def test_token_is_refreshed_before_it_expires(official, fake, clock):
    await official.send_custom("alice", Message("text", "one"))
    clock.advance(7200 - 120)  # inside the refresh margin, still valid on the platform
    await official.send_custom("alice", Message("text", "two"))
    assert fake.token_requests("mp") == 2
    assert all(code == 0 for _, code in fake.calls), "no call was refused"


async def test_a_wrong_secret_is_a_permanent_error_naming_the_setting(fake, memstore, clock):
    channel = OfficialAccountChannel(fake.base_url, fake.appid, "wrong", memstore, clock=clock)
    try:
        with pytest.raises(ChannelError) as err:
            await channel.send_custom("alice", Message("text", "hi"))
    finally:
        await channel.close()
    assert not err.value.retryable and err.value.code == 40125 and "WECHAT_APPSECRET" in str(err.value)


async def test_a_refused_token_twice_in_a_row_is_retryable(official, fake):
    fake.fail(40001, times=2)
    with pytest.raises(ChannelError) as err:
        await official.send_custom("alice", Message("text", "hi"))
    assert err.value.retryable and err.value.code == 40001


async def _two_processes(fake, store, clock, kind):
    """Two channels with separate HTTP sessions and memos: two processes on one store."""
    if kind == "mp":
        make = lambda: OfficialAccountChannel(fake.base_url, fake.appid, fake.secret, store, clock=clock)  # noqa: E731
        send = lambda ch, i: ch.send_custom(f"u{i}", Message("text", str(i)))  # noqa: E731
    else:
        make = lambda: WeComChannel(fake.base_url, fake.corpid, fake.corpsecret, fake.agentid, store,  # noqa: E731
                                    clock=clock)
        send = lambda ch, i: ch.send_appchat(f"chat{i}", Message("text", str(i)))  # noqa: E731
    return make(), make(), send


@pytest.mark.parametrize("kind", ["mp", "wecom"])
async def test_two_processes_sharing_a_store_refresh_at_most_once(fake, store, clock, kind):
    a, b, send = await _two_processes(fake, store, clock, kind)
    try:
        await asyncio.gather(*(send(a if i % 2 else b, i) for i in range(20)))
        assert fake.token_requests(kind) == 1 and a.tokens.fetched + b.tokens.fetched == 1

        fake.expire_tokens()  # both hold the same token in memory and both are refused
        await asyncio.gather(*(send(a if i % 2 else b, i) for i in range(20, 40)))
        assert fake.token_requests(kind) == 2

        clock.advance(7200 - 60)  # both see it near expiry at once: one refreshes, one waits
        await asyncio.gather(send(a, 40), send(b, 41))
        assert fake.token_requests(kind) == 3
        assert len(fake.sent) == 42
        refused = [c for p, c in fake.calls if c == 40001]
        assert len(refused) <= 1, "a refresh may knock out at most the other process's stale copy once"
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
@pytest.mark.parametrize("platform", ["mp", "wecom"])
async def test_bots_on_one_account_share_its_token(fake, clock, tmp_path, kind, platform):
    """Two bots (two namespaces) on one appid/corpid keep the token in the store's shared
    account space: a token one fetches is the other's too, so neither knocks the other's out."""
    import uuid

    from persona.store import open_store
    from tests.conftest import drop_namespace, store_url

    url = store_url(kind, tmp_path)
    names = [f"t{uuid.uuid4().hex[:10]}" for _ in range(3)]
    stores = [open_store(url, name) for name in names]
    accounts = stores.pop()  # what `persona serve` opens once for all its bots
    if platform == "mp":
        channels = [OfficialAccountChannel(fake.base_url, fake.appid, fake.secret, s, clock=clock,
                                           token_store=accounts) for s in stores]
        send = lambda ch, i: ch.send_custom(f"u{i}", Message("text", str(i)))  # noqa: E731
    else:
        channels = [WeComChannel(fake.base_url, fake.corpid, fake.corpsecret, fake.agentid, s, clock=clock,
                                 token_store=accounts) for s in stores]
        send = lambda ch, i: ch.send_appchat(f"chat{i}", Message("text", str(i)))  # noqa: E731
    try:
        for i in range(6):
            await send(channels[i % 2], i)
        assert fake.token_requests(platform) == 1
        assert not [c for _, c in fake.calls if c == 40001]
    finally:
        for channel in channels:
            await channel.close()
        for store in (*stores, accounts):
            await store.close()
        if kind == "redis":
            for name in names:
                await drop_namespace(url, name)
