"""The report against simulations whose effect is known: customers run through the real runtime."""

from __future__ import annotations

import random

import pytest

from persona.clock import FakeClock
from persona.model.inputs import BusinessEvent, TextMessage
from persona.engine.runtime import Runtime
from persona.content.scripts import ScriptCatalog, ScriptPoller
from persona.content.scripts.report import Goal, Verdict, newcombe_interval, script_report, wilson_interval
from persona.store import open_store
from tests.scripts.lab import Lab
from tests.cli.conftest import run_persona
from tests.faketime import needs_faketime
from tests.service.test_serve import ROOT

DAY = 86400.0
#: a moment after every simulated window closed (the report is read then, on the tests' own clock)
LATER = FakeClock("2027-06-01 00:00").now()


async def simulate(store, rates: dict[str, float], customers: int, seed: int, *, first: int = 0,
                   start: str = "2026-11-23 09:00") -> dict[str, dict[str, int]]:
    """Each customer says hi (and gets the pitch in their variant); with the variant's rate they
    order a day later, and some of the rest order after the 7-day window. Returns what happened.
    ``first``: the number of the first customer; ``start``: when they say hi."""
    clock = FakeClock(start)
    runtime = Runtime(Lab(), store, clock)
    await ScriptCatalog(Lab, store).publish("pitch", "B 款 {{ price }}", author="amy", variant="b", weight=50)
    await ScriptPoller(runtime.persona.scripts, store).refresh()
    rng = random.Random(seed)
    truth = {v: {"customers": 0, "reached": 0, "messages": 0} for v in rates}
    late: list[str] = []
    buyers: list[str] = []
    for i in range(first, first + customers):
        user = f"o{i:05d}"
        outcome = await runtime.handle(TextMessage(user=user, dedupe_key=f"m{i}", text="hi"))
        variant = "b" if outcome.messages[0][0].text.startswith("B 款") else "a"
        truth[variant]["customers"] += 1
        truth[variant]["messages"] += 1
        if rng.random() < rates[variant]:
            truth[variant]["reached"] += 1
            buyers.append(user)
        elif rng.random() < 0.2:
            late.append(user)
    clock.advance(DAY)
    for user in buyers:
        await runtime.handle(BusinessEvent(user=user, name="order", dedupe_key=f"o:{user}"))
    clock.advance(9 * DAY)
    for user in late:
        await runtime.handle(BusinessEvent(user=user, name="order", dedupe_key=f"o:{user}"))
    return truth


@pytest.mark.parametrize("goal", ["state:buyer", "event:order"])
async def test_a_known_effect_is_counted_exactly_and_called_a_win(goal):
    store = open_store("memory://", "lab")
    truth = await simulate(store, {"a": 0.20, "b": 0.35}, 4000, seed=11)
    report = await script_report(store, "pitch", Goal.parse(goal), within=7 * DAY, horizon=1900, now=LATER)
    figures = {f.variant: f for f in report.variants}
    for variant, expected in truth.items():
        got = figures[variant]
        assert (got.customers, got.messages, got.reached) == (expected["customers"], expected["messages"],
                                                              expected["reached"])
        assert got.low < got.reached / got.customers < got.high
    [vs] = report.comparisons
    assert (vs.variant, vs.control, vs.verdict, vs.customers) == ("b", "a", Verdict.BETTER, 1900)
    assert vs.low < 0.15 < vs.high  # the true effect is inside the interval


async def test_no_effect_is_not_called_a_win():
    store = open_store("memory://", "lab")
    await simulate(store, {"a": 0.25, "b": 0.25}, 3000, seed=5)
    report = await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, horizon=1400, now=LATER)
    [vs] = report.comparisons
    assert vs.verdict == Verdict.UNCLEAR and vs.low < 0 < vs.high


async def test_one_customer_per_variant_gets_no_verdict_however_the_rates_look():
    store = open_store("memory://", "lab")
    await simulate(store, {"a": 0.0, "b": 1.0}, 4, seed=3)  # b: everyone bought, a: nobody
    report = await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, now=LATER)
    [vs] = report.comparisons
    assert vs.verdict == Verdict.NOT_ENOUGH
    assert vs.says == f"not enough data yet: {vs.customers} of 100 customers per variant" and vs.customers <= 2


async def test_a_verdict_reads_the_fixed_horizon_and_later_customers_do_not_move_it():
    store = open_store("memory://", "lab")
    await simulate(store, {"a": 0.20, "b": 0.40}, 600, seed=7)
    first = (await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, horizon=200, now=LATER)).comparisons
    # a month on, the writer looks again: more customers, doing something else
    await simulate(store, {"a": 0.40, "b": 0.20}, 600, seed=8, first=600, start="2026-12-23 09:00")
    later = (await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, horizon=200, now=LATER)).comparisons
    assert first == later and first[0].customers == 200


async def test_a_window_shorter_than_the_orders_counts_none():
    store = open_store("memory://", "lab")
    await simulate(store, {"a": 0.5, "b": 0.5}, 200, seed=1)
    report = await script_report(store, "pitch", Goal.parse("state:buyer"), within=3600, now=LATER)
    assert sum(f.reached for f in report.variants) == 0
    assert sum(f.customers for f in report.variants) == 200


def test_the_intervals_match_worked_examples():
    # Newcombe (1998), Statistics in Medicine 17, 873-890, table II: 56/70 against 48/80
    assert newcombe_interval(56, 70, 48, 80) == pytest.approx((0.2000, 0.0524, 0.3339), abs=1e-4)
    # and at the edges, where a Wald interval collapses to a point: 0/10 against 10/10
    diff, low, high = newcombe_interval(0, 10, 10, 10)
    assert diff == -1.0 and low == pytest.approx(-1.0, abs=1e-9) and high == pytest.approx(-0.6075, abs=1e-3)
    assert wilson_interval(40, 200) == pytest.approx((0.15052, 0.26094), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize("text", ["paid", "mood:happy", "state:"])
def test_a_goal_is_state_or_event(text):
    from persona.errors import PersonaError

    with pytest.raises(PersonaError, match="state:NAME or event:NAME"):
        Goal.parse(text)


@needs_faketime
async def test_the_report_command_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/lab.db"
    store = open_store(url, "lab")
    truth = await simulate(store, {"a": 0.1, "b": 0.6}, 300, seed=3)
    await store.close()
    # the command reads the report at the simulation's time, after every window closed
    done = run_persona("scripts", "report", "tests.scripts.lab", "pitch", "--store", url, "--goal", "state:buyer",
                       "--within", "7d", pythonpath=ROOT, at=LATER)
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:4]}
    for variant in ("a", "b"):
        assert rows[variant][1:4] == [str(truth[variant][k]) for k in ("customers", "messages", "reached")]
    assert "b vs a: " in done.stdout and done.stdout.rstrip().endswith(": better")
    bad = run_persona("scripts", "report", "tests.scripts.lab", "pitch", "--store", url, "--goal", "paid",
                      pythonpath=ROOT, at=LATER)
    assert bad.returncode == 2 and "state:NAME or event:NAME" in bad.stderr


async def test_the_timeline_gives_each_arm_its_rate_and_interval_by_day_and_the_studio_draws_it():
    from defusedxml import ElementTree

    from persona.studio.charts import rates_over_time

    store = open_store("memory://", "lab")
    await simulate(store, {"a": 0.2, "b": 0.4}, 300, seed=2, start="2026-11-23 09:00")
    await simulate(store, {"a": 0.2, "b": 0.4}, 300, seed=3, first=300, start="2026-11-24 09:00")
    report = await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, tz="Asia/Shanghai", now=LATER)
    assert set(report.timeline) == {"a", "b"}
    for figures in report.variants:
        days = report.timeline[figures.variant]
        assert [p.day for p in days] == ["2026-11-23", "2026-11-24"]
        last = days[-1]  # cumulative: the last day is the whole arm
        assert (last.customers, last.reached, last.low, last.high) == (figures.customers, figures.reached,
                                                                       figures.low, figures.high)
        assert days[0].customers < last.customers and last.high - last.low < days[0].high - days[0].low

    svg = ElementTree.fromstring(str(rates_over_time(report.timeline)))
    arms = svg.findall("{*}g")
    assert [g.get("data-variant") for g in arms] == ["a", "b"]
    for g in arms:
        assert len(g.find("{*}polyline").get("points").split()) == 2  # a point a day
        assert len(g.find("{*}polygon").get("points").split()) == 4  # the band: highs, then lows back
    assert str(rates_over_time({})) == ""


def test_a_variant_name_is_escaped_in_the_chart():
    from persona.content.scripts.report import Point
    from persona.studio.charts import rates_over_time

    drawn = str(rates_over_time({"<b>": (Point("2026-11-23", 10, 2, 0.05, 0.5),)}))
    assert "<b>" not in drawn and "&lt;b&gt;" in drawn


async def test_a_customer_whose_window_is_still_open_is_not_yet_in_the_comparison():
    store = open_store("memory://", "lab")
    await simulate(store, {"a": 0.2, "b": 0.4}, 400, seed=9)  # said hi on 2026-11-23 09:00
    inside = FakeClock("2026-11-25 09:00").now()  # two days on: every 7-day window still open
    [early] = (await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, horizon=10,
                                   now=inside)).comparisons
    assert early.customers == 0 and early.verdict == Verdict.NOT_ENOUGH
    [late] = (await script_report(store, "pitch", Goal.parse("state:buyer"), within=7 * DAY, horizon=10,
                                  now=LATER)).comparisons
    assert late.customers == 10


def test_the_charts_place_days_by_date_and_draw_the_empty_ones():
    from defusedxml import ElementTree

    from persona.content.scripts.report import Point
    from persona.studio.charts import bars, rates_over_time

    points = (Point("2026-11-01", 10, 2, 0.05, 0.5), Point("2026-11-02", 20, 4, 0.08, 0.4),
              Point("2026-11-09", 30, 6, 0.1, 0.35))
    line = ElementTree.fromstring(str(rates_over_time({"a": points}))).find("{*}g/{*}polyline").get("points")
    xs = [float(p.split(",")[0]) for p in line.split()]
    assert (xs[1] - xs[0]) * 7 == pytest.approx(xs[2] - xs[1], abs=1)  # a day, then a week (to 0.1 px)
    drawn = ElementTree.fromstring(str(bars({"20261101": 2, "20261104": 1}, "转人工")))
    assert [r.get("data-day") for r in drawn.findall("{*}rect")] == ["20261101", "20261102", "20261103", "20261104"]
