"""``persona replay``: a real customer's history, then and now."""

from __future__ import annotations

from persona import BusinessEvent, FakeClock, PlatformEvent, Runtime, TextMessage
from persona.content.scripts import ScriptCatalog, ScriptPoller
from persona.migrate.replay import ScriptsAt, replay, sample
from persona.engine.scheduler import Scheduler
from persona.store import open_store
from tests.cli.conftest import run_persona
from tests.migrate.salon.v1 import SalonV1
from tests.migrate.salon.v2 import SalonV2


async def advance(runtime: Runtime, clock: FakeClock, seconds: float) -> None:
    """Move the clock, firing each timer at its time, as a running scheduler would."""
    scheduler, end = Scheduler(runtime), clock.now() + seconds
    while (due := await runtime.store.next_timer_due()) is not None and due <= end:
        clock.set(max(clock.now(), due))
        await scheduler.run_once()
    clock.set(end)


async def live_history(store) -> None:
    """Two customers live three weeks with version 1: subscribe, chat, a nudge, the day-15 note."""
    clock = FakeClock("2026-11-01 09:00")
    v1 = Runtime(SalonV1(), store, clock)
    await v1.handle(PlatformEvent(user="amy", dedupe_key="e:1", name="subscribe"))
    await advance(v1, clock, 3600)
    await v1.handle(TextMessage(user="amy", dedupe_key="m:1", text="喜欢 美甲"))
    await v1.handle(PlatformEvent(user="bo", dedupe_key="e:2", name="subscribe"))
    await v1.handle(BusinessEvent(user="bo", dedupe_key="b:1", name="joined"))
    await advance(v1, clock, 21 * 86400)


async def test_replaying_against_the_same_version_changes_nothing(store):
    await live_history(store)
    result = await replay(SalonV1, store, "amy")
    assert result.complete and [s.input for s in result.steps] == [
        "wechat subscribe", "text '喜欢 美甲'", "timer nudge", "timer day15"]
    assert result.differences == []
    assert [s.script for s in result.steps[1].now] == ["noted"]
    assert result.steps[1].now[0].text == "记住啦：你喜欢美甲。"


async def test_replay_shows_what_the_new_version_would_say(store):
    await live_history(store)
    result = await replay(SalonV2, store, "amy")
    by_input = {s.input: s for s in result.steps}
    day15 = by_input["timer day15"]
    assert day15.differs and day15.then[0].script == day15.now[0].script == "day15"
    assert day15.now[0].text == "两周多没见啦，这周护理八折。"
    nudge = by_input["timer nudge"]
    assert nudge.then and nudge.now is None  # the removed timer no longer fires
    assert not by_input["text '喜欢 美甲'"].differs  # same words from a renamed attribute
    summary = await sample(SalonV2, store, 5, seed=1)
    assert sorted(r.user for r in summary) == ["amy", "bo"] and all(r.differences for r in summary)


async def writers_at_work(store) -> FakeClock:
    """Three customers subscribe while a writer publishes, rolls back and publishes again; the
    bot's process picks each change up as its poller would. Returns the clock, three weeks on."""
    clock = FakeClock("2026-11-01 09:00")
    bot = Runtime(SalonV1(), store, clock)
    poller = ScriptPoller(bot.persona.scripts, store)
    writer = ScriptCatalog(SalonV1, store, clock=clock.now)
    await bot.handle(PlatformEvent(user="amy", dedupe_key="e:1", name="subscribe"))  # the file
    clock.advance(60)
    await writer.publish("welcome", "欢迎！第一次来送小样。", author="li")
    await writer.publish("day15", "半个月啦，护理八折。", author="li")
    await poller.refresh()
    clock.advance(60)
    await bot.handle(PlatformEvent(user="bo", dedupe_key="e:2", name="subscribe"))  # version 1
    await bot.handle(TextMessage(user="bo", dedupe_key="m:1", text="喜欢 美甲"))
    clock.advance(60)
    await writer.rollback("welcome", to=0, author="li")
    await poller.refresh()
    clock.advance(60)
    await bot.handle(PlatformEvent(user="cy", dedupe_key="e:3", name="subscribe"))  # the file again
    await advance(bot, clock, 21 * 86400)  # every day-15 note says version 1
    clock.advance(3600)
    await writer.publish("day15", "好久不见，护理七折。", author="li")  # after every turn
    return clock


async def test_each_turn_replays_with_the_versions_live_at_its_time(store):
    await writers_at_work(store)
    for user in ("amy", "bo", "cy"):
        result = await replay(SalonV1, store, user)
        assert result.differences == [], user
    bo = {s.input: s for s in (await replay(SalonV1, store, "bo")).steps}
    assert bo["wechat subscribe"].now[0].text == "欢迎！第一次来送小样。"
    assert bo["timer day15"].now[0].text == "半个月啦，护理八折。"
    cy = {s.input: s for s in (await replay(SalonV1, store, "cy")).steps}
    assert cy["wechat subscribe"].now[0].text == "欢迎光临！"  # after the rollback
    assert not any(r.differences for r in await sample(SalonV1, store, 10, seed=1))


async def test_with_the_scripts_live_now_a_replay_shows_what_they_would_say(store):
    await writers_at_work(store)
    amy = await replay(SalonV1, store, "amy", scripts=ScriptsAt.NOW)
    [changed] = amy.differences  # she was welcomed by the file, which is live again
    assert changed.input == "timer day15" and changed.now[0].text == "好久不见，护理七折。"
    bo = await replay(SalonV1, store, "bo", scripts=ScriptsAt.NOW)
    assert [s.input for s in bo.differences] == ["wechat subscribe", "timer day15"]
    assert bo.differences[0].now[0].text == "欢迎光临！"


async def test_a_turn_in_the_moment_before_its_process_saw_a_publish_replays_with_the_old_text(store):
    """The publish is stored at 09:00:00.9; the process answers amy at 09:00:01.4, before its
    poller looked: her journal says the file answered, and so does the replay. Bo, after the
    poller's look, got the new version, then as now."""
    clock = FakeClock("2026-11-01 09:00")
    bot = Runtime(SalonV1(), store, clock)
    clock.advance(0.9)
    await ScriptCatalog(SalonV1, store, clock=clock.now).publish("welcome", "欢迎！第一次来送小样。", author="li")
    clock.advance(0.5)
    await bot.handle(PlatformEvent(user="amy", dedupe_key="e:1", name="subscribe"))
    await ScriptPoller(bot.persona.scripts, store).refresh()
    clock.advance(0.5)
    await bot.handle(PlatformEvent(user="bo", dedupe_key="e:2", name="subscribe"))
    amy, bo = await replay(SalonV1, store, "amy"), await replay(SalonV1, store, "bo")
    assert amy.differences == bo.differences == []
    assert (amy.steps[0].now[0].text, bo.steps[0].now[0].text) == ("欢迎光临！", "欢迎！第一次来送小样。")


async def test_a_customer_keeps_the_variant_the_journal_says_they_got(store):
    """Half of forty customers got variant b; then the writer moves the weights to 10/90. Replayed
    with the scripts live now, each customer is still given their own variant, as they would
    be served (a changed weight moves no one already assigned)."""
    clock = FakeClock("2026-11-01 09:00")
    bot = Runtime(SalonV1(), store, clock)
    poller = ScriptPoller(bot.persona.scripts, store)
    writer = ScriptCatalog(SalonV1, store, clock=clock.now)
    await writer.publish("welcome", "欢迎！B 款。", author="li", variant="b", weight=50)
    await poller.refresh()
    users = [f"c{i:02d}" for i in range(40)]
    for i, user in enumerate(users):
        clock.advance(60)
        await bot.handle(PlatformEvent(user=user, dedupe_key=f"e:{i}", name="subscribe"))
    clock.advance(3600)
    await writer.publish("welcome", "欢迎光临，A2 款。", author="li", weight=10)
    await writer.publish("welcome", "欢迎！B2 款。", author="li", variant="b", weight=90)
    then = {user: (await replay(SalonV1, store, user)).steps[0] for user in users}
    assert all(not step.differs for step in then.values())
    got = {user: step.then[0].variant for user, step in then.items()}
    assert set(got.values()) == {"a", "b"}
    for user in users:
        [now] = (await replay(SalonV1, store, user, scripts=ScriptsAt.NOW)).steps[0].now
        assert now.variant == got[user], user
        assert now.text == ("欢迎！B2 款。" if got[user] == "b" else "欢迎光临，A2 款。")


def test_the_replay_command_prints_then_and_now_side_by_side(tmp_path):
    import asyncio

    url = f"sqlite:///{tmp_path}/salon.db"

    async def setup() -> None:
        store = open_store(url, "salon")
        await live_history(store)
        await store.close()

    asyncio.run(setup())
    out = run_persona("replay", "tests.migrate.salon.v2", "amy", "--store", url)
    assert out.returncode == 0, out.stderr
    assert "timer day15   ≠" in out.stdout
    assert "day15 (drop): 两周多没见啦，这周护理八折。" in out.stdout  # the 48-hour window had closed, then as now
    assert "(no such turn)" in out.stdout
    many = run_persona("replay", "tests.migrate.salon.v2", "--sample", "10", "--store", url)
    assert many.returncode == 0, many.stderr
    assert many.stdout.startswith("2 customers replayed, 2 with differences")
    missing = run_persona("replay", "tests.migrate.salon.v2", "nobody", "--store", url)
    assert missing.returncode == 1 and "no journal for 'nobody'" in missing.stdout
    assert run_persona("replay", "tests.migrate.salon.v2", "--store", url).returncode == 2



def test_every_journaled_kind_of_input_comes_back_as_it_was():
    from persona.model.inputs import AgentAction, AgentInput, Door, MediaMessage, Platform, from_record, to_record
    import dataclasses
    import json

    inputs = [
        TextMessage(user="u", dedupe_key="m:1", text="你好", msg_id="1", platform=Platform.WECOM),
        MediaMessage(user="u", dedupe_key="m:2", media_type="image", payload={"media_id": "M1"}),
        PlatformEvent(user="u", dedupe_key="e:1", name="click", key="MENU_1", data={"x": 1},
                      platform=Platform.WECHAT, door=Door.STAFF),
        BusinessEvent(user="u", dedupe_key="b:1", name="joined", data={"plan": "gold"}),
        AgentInput(user="u", dedupe_key="a:1", agent="zhang", action=AgentAction.CLOSE),
    ]
    for inp in inputs:
        raw = json.loads(json.dumps(to_record(inp)))  # as the journal keeps it
        back = from_record("u", raw, inp.dedupe_key)
        if hasattr(inp, "msg_id"):  # WeChat's id of the original message is not the replay's
            inp = dataclasses.replace(inp, msg_id=None)
        assert back == inp, raw
    from persona import TimerFired
    assert to_record(TimerFired(user="u", name="day15")) is None


def test_after_a_publish_the_replay_command_shows_no_false_difference(tmp_path):
    import asyncio

    url = f"sqlite:///{tmp_path}/salon.db"

    async def setup() -> float:
        store = open_store(url, "salon")
        clock = await writers_at_work(store)
        await store.close()
        return clock.now()

    now = asyncio.run(setup())
    out = run_persona("replay", "tests.migrate.salon.v1", "bo", "--store", url, at=now)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("replay of bo: 4 turns, 0 differ"), out.stdout
    assert "day15 (drop): 半个月啦，护理八折。" in out.stdout  # the 48-hour window had closed
    live = run_persona("replay", "tests.migrate.salon.v1", "bo", "--store", url, "--scripts", "now", at=now)
    assert live.returncode == 0, live.stderr
    assert "2 differ" in live.stdout and "scripts: the versions live now" in live.stdout
    assert "day15 (drop): 好久不见，护理七折。" in live.stdout
    many = run_persona("replay", "tests.migrate.salon.v1", "--sample", "5", "--store", url, at=now)
    assert many.stdout.startswith("3 customers replayed, 0 with differences"), many.stdout
