"""The spool: a callback answered ``success`` before its turn committed keeps its input on local
disk until a turn commits it, exactly once, even across a restart of the process."""

from __future__ import annotations

import asyncio
import time

import pytest

from persona.model.inputs import BusinessEvent, Door, MediaMessage, Platform, PlatformEvent, TextMessage
from persona.engine.spool import Spool, SpoolError, decode, encode, leftovers, replay_once
from tests.service.conftest import CUSTOMER, customer, plain, text_xml
from tests.service.desk import Desk


@pytest.mark.parametrize("inp", [
    TextMessage(user="o|1\x1f", dedupe_key="m:1", text="你好\x00", msg_id="1"),
    MediaMessage(user="o2", dedupe_key="m:2", media_type="image", payload={"pic_url": "u", "list": [{"a": "b"}]}),
    PlatformEvent(user="o3", dedupe_key="e:1:subscribe", name="subscribe", key="parcel", data={"x": "1"}),
    PlatformEvent(user="w1", dedupe_key="e:2:change_contact", name="change_contact", platform=Platform.WECOM,
                  door=list(Door)[-1]),
    BusinessEvent(user="o4", dedupe_key="biz:9", name="joined", data={"points": 3}),
], ids=["text", "media", "event", "wecom-system-event", "business"])
def test_inputs_come_back_from_the_spool_equal(inp):
    back = decode(encode(inp))
    assert back == inp and type(back.door) is Door
    assert inp.platform is None or type(back.platform) is Platform


def test_entries_survive_the_process_and_wait_for_their_turn_first(tmp_path):
    spool = Spool(tmp_path / "s.db")
    assert spool.claim("desk") == [] and not (tmp_path / "s.db").exists()  # created when first needed
    first = spool.add("desk", TextMessage(user="u1", dedupe_key="m:1", text="hi"))
    second = spool.add("desk", TextMessage(user="u2", dedupe_key="m:2", text="hi"))
    spool.add("other", TextMessage(user="u3", dedupe_key="m:3", text="hi"))
    assert spool.claim("desk") == []  # still the running turn's
    spool.failed(first, "StoreUnavailable: down", 0.0)
    spool.close()

    again = Spool(tmp_path / "s.db")  # a new process
    [entry] = again.claim("desk")
    assert (entry.id, entry.input.user, entry.attempts) == (first, "u1", 1)
    assert again.claim("desk") == []  # leased to that replay
    again.done(first)
    assert again.size("desk") == 1 and again.size() == 2 and second
    again.close()


def test_a_spool_that_cannot_be_written_says_so():
    with pytest.raises(SpoolError, match="cannot open the spool"):
        Spool("/proc/no-such-dir/spool.db").add("desk", TextMessage(user="u", dedupe_key="m:1", text="hi"))


async def test_a_replay_commits_once_and_a_second_copy_is_a_duplicate(make_bot, tmp_path):
    bot = make_bot()
    spool = Spool(tmp_path / "s.db")
    hello = TextMessage(user=CUSTOMER, dedupe_key="m:77", text="hi", msg_id="77")
    for _ in range(2):  # e.g. two processes both spooled it, or the turn did commit after all
        spool.failed(spool.add("desk", hello), "StoreUnavailable: down", 0.0)
    assert await replay_once(spool, "desk", bot.runtime) == 2
    assert spool.size() == 0
    assert (await customer(bot)).counters == {"hellos": 1}
    spool.close()


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@pytest.fixture
def slow_desk():
    Desk.slow_seconds = 0.3
    yield Desk
    Desk.slow_seconds = 0.6


async def test_a_turn_answered_success_clears_its_entry_when_it_commits(make_bot, serve, slow_desk, tmp_path):
    bot = make_bot()
    spool = Spool(tmp_path / "s.db")
    client = await serve([bot], deadline=0.05, spool=spool)
    resp = await client.post("/wechat/desk", params=(q := plain(text_xml("slow")))[0], data=q[1])
    assert await resp.text() == "success"
    assert spool.size("desk") == 1  # on disk before the answer went out

    async def committed() -> bool:
        return spool.size("desk") == 0 and (await customer(bot)) is not None

    await until(committed)
    assert (await customer(bot)).counters == {"slow": 1}


async def test_without_a_writable_spool_a_late_turn_answers_503_and_the_retry_is_a_duplicate(
        make_bot, serve, slow_desk):
    bot = make_bot()
    client = await serve([bot], deadline=0.05, spool="/proc/no-such-dir/spool.db")
    query, body = plain(text_xml("slow", msg_id="99"))
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 503  # WeChat retries...

    async def committed() -> bool:
        return (await customer(bot)) is not None

    await until(committed)  # ...while the turn still commits
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 200 and (await customer(bot)).counters == {"slow": 1}


def test_only_files_of_workers_a_run_could_have_started_are_taken_over(tmp_path):
    """Worker 1 replays what workers beyond N left; a dated copy beside the spool is not theirs."""
    for name in ("spool.db", "spool-2.db", "spool-3.db", "spool-20240101.db", "spool-x.db", "spool-3.db-wal"):
        (tmp_path / name).write_bytes(b"")
    assert leftovers(tmp_path / "spool.db", 2) == [tmp_path / "spool-3.db"]
    assert leftovers(tmp_path / "spool.db", 3) == []
