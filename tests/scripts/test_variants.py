"""A/B variants: a stable, weighted assignment that is recorded, kept, and moved when stopped."""

from __future__ import annotations

import json
from collections import Counter

from persona.model.customer import Customer
from persona.content.scripts import ScriptCatalog, ScriptPoller
from persona.testing import Simulation
from persona.model.variants import choose_variant, weighted_pick
from tests.scripts.lab import Lab


def test_ten_thousand_customers_split_near_the_weights_and_keep_their_variant():
    weights = [("a", 50.0), ("b", 30.0), ("c", 20.0)]
    customers = [Customer(f"o{i:06d}", "new") for i in range(10_000)]
    first = [choose_variant("pitch", c, weights) for c in customers]
    shares = Counter(first)
    for name, weight in weights:
        assert abs(shares[name] / 10_000 - weight / 100) < 0.02, shares
    # stable: asked again (another message, another process) each keeps what they got
    assert [choose_variant("pitch", c, weights) for c in customers] == first
    assert all(c.variants["pitch"] == v for c, v in zip(customers, first))
    # and the same customer without the record gets the same pick from the hash
    assert [choose_variant("pitch", Customer(c.id, "new"), weights) for c in customers] == first


def test_the_hash_depends_on_the_script_too():
    picks = [(weighted_pick(f"pitch\x1fu{i}", [("a", 1), ("b", 1)]),
              weighted_pick(f"thanks\x1fu{i}", [("a", 1), ("b", 1)])) for i in range(2000)]
    assert 0.4 < sum(p == q for p, q in picks) / 2000 < 0.6


def test_a_changed_weight_does_not_move_assigned_customers_but_a_stopped_variant_does():
    customers = [Customer(f"o{i}", "new") for i in range(4000)]
    before = [choose_variant("pitch", c, [("a", 50), ("b", 50)]) for c in customers]
    after = [choose_variant("pitch", c, [("a", 10), ("b", 90)]) for c in customers]
    assert after == before
    stopped = [choose_variant("pitch", c, [("a", 10), ("b", 0)]) for c in customers]
    assert set(stopped) == {"a"}
    assert all(c.variants["pitch"] == "a" for c in customers)
    # everyone stopped: the script's own text, nobody reassigned
    assert choose_variant("pitch", Customer("x", "new"), [("a", 0), ("b", 0)]) == "a"


async def test_the_journal_and_metrics_record_each_message_variant():
    async with Simulation(Lab) as sim:
        catalog = ScriptCatalog(Lab, sim.bot.store)
        await catalog.publish("pitch", "B 款 {{ price }}", author="amy", variant="b", weight=50)
        await ScriptPoller(sim.bot.persona.scripts, sim.bot.store).refresh()
        got: dict[str, str] = {}
        for i in range(200):
            user = f"o{i}"
            [first] = await sim.text(user, "hi")
            [second] = await sim.text(user, "again")
            assert first.text == second.text  # one customer, one variant
            got[user] = "b" if first.text.startswith("B 款") else "a"
            out = [json.loads(line) for line in await sim.journal(user) if '"k":"out"' in line]
            assert [line["variant"] for line in out] == [got[user]] * 2 and out[0]["v"] == 1
        assert 60 < sum(v == "b" for v in got.values()) < 140
        metrics = sim.bot.metrics
        for variant in ("a", "b"):
            expected = 2 * sum(v == variant for v in got.values())
            assert metrics.value("script_variant_messages", persona="lab", script="pitch", variant=variant,
                                 action="send") == expected
        assert 'persona_script_variant_messages_total{action="send",persona="lab",script="pitch",variant="b"}' \
            in metrics.render()

        # stopping b: its customers get a from their next message, and stay there
        await catalog.publish("pitch", "B 款 {{ price }}", author="amy", variant="b", weight=0)
        await ScriptPoller(sim.bot.persona.scripts, sim.bot.store).refresh()
        for user, variant in list(got.items())[:40]:
            [sent] = await sim.text(user, "again")
            assert not sent.text.startswith("B 款")
            assert (await sim.customer(user)).variants["pitch"] == "a"


def test_inspect_shows_the_version_and_variant_of_each_message():
    from persona.cli.inspect import journal_line

    line = journal_line('{"t":1795400000,"k":"out","script":"pitch","variant":"b","v":3,"action":"send"}',
                        "Asia/Shanghai")
    assert line.endswith("out        pitch v3 variant b: send")
