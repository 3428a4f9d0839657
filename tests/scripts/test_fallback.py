"""A published version that fails for one customer at run time: that customer gets the last
version that renders for them (the file at worst), the failure is counted, journaled and kept
for the writer, and everyone else keeps the new version."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from persona.cli.inspect import journal_line
from persona.content.scripts import ScriptCatalog, ScriptPoller
from persona.content.scripts.failures import KEEP, recent_failures
from persona.errors import TemplateError
from persona.model.templates import FALLBACK_DEPTH, LiveScript, ScriptBook, Variant
from persona.studio.timeline import RowKind, rows
from persona.testing import Simulation
from tests.conftest import STORE_KINDS, drop_namespace, store_url
from tests.scripts.lab import Lab
from tests.service.conftest import serve  # noqa: F401 (a fixture)

LAB = Path(__file__).parent / "lab"
FREE_SHIPPING = '{% set category = "service" %}\n限时价 {{ price|money }}，今天下单包邮'
BY_NAME = '{% set category = "service" %}\n{{ attrs.nickname }}，给你留了一份：{{ price|money }}'


@pytest.fixture(params=STORE_KINDS)
async def simulation(request, tmp_path, namespace) -> AsyncIterator[Callable[..., Simulation]]:
    """``async with simulation(Lab) as sim`` on memory, SQLite and Redis."""
    url = store_url(request.param, tmp_path)
    yield lambda persona: Simulation(persona, store=url, namespace=namespace)
    if request.param == "redis":
        await drop_namespace(url, namespace)


async def publish(sim: Simulation, persona: type, *texts: str) -> None:
    """A writer publishes ``texts`` of pitch in turn, through the catalog, on the simulation's clock;
    the running bot picks them up as its poller does."""
    catalog = ScriptCatalog(persona, sim.store, clock=sim.clock.now)
    for text in texts:
        await catalog.publish("pitch", text, author="amy")
    await ScriptPoller(sim.bot.persona.scripts, sim.store).refresh()


def entries(journal: list[str], kind: str) -> list[dict]:
    return [entry for entry in map(json.loads, journal) if entry["k"] == kind]


async def test_a_customer_the_new_version_fails_for_gets_the_last_one_that_renders(simulation, serve):
    async with simulation(Lab) as sim:
        await publish(sim, Lab, FREE_SHIPPING, BY_NAME)
        await sim.event("o_amy", "registered", {"nickname": "小美"})
        await sim.event("o_bob", "registered", {"city": "上海"})  # no nickname: v2 fails for him

        [to_amy] = await sim.text("o_amy", "hi")
        [to_bob] = await sim.text("o_bob", "hi")
        assert to_amy.text == "小美，给你留了一份：¥99.00"
        assert to_bob.text == "限时价 ¥99.00，今天下单包邮"  # version 1, not nothing, not the file
        [again] = await sim.text("o_amy", "again")  # v2 is not withdrawn for those it renders for
        assert again.text == to_amy.text
        assert (await sim.customer("o_bob")).state == "pitched"  # the turn itself went through

        journal = await sim.journal("o_bob")
        [fell] = entries(journal, "script_fallback")
        assert (fell["script"], fell["v"], fell["used"]) == ("pitch", 2, 1)
        assert "'attrs.nickname' is not defined" in fell["error"]
        assert [out["v"] for out in entries(journal, "out")] == [1]
        assert entries(await sim.journal("o_amy"), "script_fallback") == []
        raw = next(line for line in journal if '"script_fallback"' in line)
        assert "pitch v2 failed, v1 said instead: scripts/pitch.j2 line 2: 'attrs.nickname'" in journal_line(
            raw, "Asia/Shanghai")
        [row] = [r for r in rows(journal, "Asia/Shanghai", personal=True) if r.kind is RowKind.FALLBACK]
        assert (row.label, row.text) == ("话术出错", "pitch v2 渲染失败，改发 v1")

        assert sim.bot.metrics.value("script_fallbacks", persona="lab", script="pitch", version=2) == 1
        client = await serve([sim.bot])
        page = await (await client.get("/metrics")).text()
        assert 'persona_script_fallbacks_total{persona="lab",script="pitch",version="2"} 1' in page

        [failure] = await recent_failures(sim.store, "pitch")
        assert (failure.customer, failure.at) == ("o_bob", sim.clock.now())
        assert (failure.fallback.version, failure.fallback.used) == (2, 1)
        assert failure.fallback.error == fell["error"]


async def test_down_to_the_file_and_when_even_the_file_fails_the_turn_fails_as_before(simulation, bot_copy):
    cls, folder = bot_copy
    (folder / "pitch.j2").write_text('{% set category = "service" %}\n{{ attrs.city }}的朋友，新品只要 {{ price|money }}',
                                     encoding="utf-8")
    async with simulation(cls) as sim:
        await sim.event("o_eve", "registered", {})
        assert await sim.text("o_eve", "hi") == []  # the file itself failing: an error, as it always was
        [error] = entries(await sim.journal("o_eve"), "error")
        assert "'attrs.city' is not defined" in error["error"] and "version" not in error["error"]

        await publish(sim, cls, BY_NAME)
        await sim.event("o_amy", "registered", {"nickname": "小美"})
        await sim.event("o_cat", "registered", {"city": "上海"})
        await sim.event("o_dan", "registered", {})
        [to_amy] = await sim.text("o_amy", "hi")
        [to_cat] = await sim.text("o_cat", "hi")
        assert (to_amy.text, to_cat.text) == ("小美，给你留了一份：¥99.00", "上海的朋友，新品只要 ¥99.00")
        [fell] = entries(await sim.journal("o_cat"), "script_fallback")
        assert (fell["v"], fell["used"]) == (1, 0)

        assert await sim.text("o_dan", "hi") == []  # neither v1 nor the file renders for dan
        [error] = entries(await sim.journal("o_dan"), "error")
        assert "'attrs.nickname' is not defined" in error["error"]
        assert "(version 1; no earlier version renders for this customer either)" in error["error"]
        assert entries(await sim.journal("o_dan"), "script_fallback") == []
        assert (await sim.customer("o_dan")).state == "new"  # nothing of the failed turn was kept
        metrics = sim.bot.metrics
        assert metrics.value("handler_errors", persona="lab", kind="text") == 2
        assert metrics.value("script_fallbacks", persona="lab", script="pitch", version=1) == 1
        assert [f.customer for f in await recent_failures(sim.store, "pitch")] == ["o_cat"]


async def test_the_writer_sees_the_last_failures_of_a_script_newest_first(simulation):
    async with simulation(Lab) as sim:
        await publish(sim, Lab, FREE_SHIPPING, BY_NAME)
        customers = [f"o{i:02d}" for i in range(KEEP + 5)]
        for user in customers:
            await sim.text(user, "hi")
            sim.clock.advance(60)
        kept = await recent_failures(sim.store, "pitch")
        assert [f.customer for f in kept] == customers[::-1][:KEEP]
        assert [f.at for f in kept] == sorted((f.at for f in kept), reverse=True)
        assert [f.customer for f in await recent_failures(sim.store, "pitch", limit=3)] == customers[::-1][:3]
        assert await recent_failures(sim.store, "thanks") == []


def test_the_chain_keeps_the_customers_variant_passes_over_what_fails_and_render_stays_strict():
    v1 = LiveScript(1, (Variant("a", "A1 {{ price }}"), Variant("b", "B1 {{ price }}")))
    v2 = LiveScript(2, (Variant("a", "A2 {{ 100 // count }}"), Variant("b", "B2 {{ 100 // count }}")))
    v3 = LiveScript(3, (Variant("a", "A3 {{ nick }}"), Variant("b", "B3 {{ nick }}")), earlier=(v2, v1))
    book = ScriptBook(LAB / "scripts", {"pitch": v3})

    def said(context: dict, variant: str | None = "b") -> tuple:
        message, fallback = book.render_with_fallback("pitch", context, variant=variant)
        return message.text, message.version, message.variant, fallback and (fallback.version, fallback.variant,
                                                                              fallback.used)

    assert said({"nick": "x"}) == ("B3 x", 3, "b", None)
    assert said({"price": 5, "count": 4}) == ("B2 25", 2, "b", (3, "b", 2))
    assert said({"price": 5, "count": 0}) == ("B1 5", 1, "b", (3, "b", 1))  # division by zero in v2 too
    # render() is the version in use or its error: lint and the previews read it so
    with pytest.raises(TemplateError, match="'nick' is not defined"):
        book.render("pitch", {"price": 5, "count": 0}, variant="b")
    # a draft is judged as it is, never rescued by the versions before it
    with pytest.raises(TemplateError, match="'nick' is not defined"):
        ScriptBook.draft(LAB / "scripts", {"pitch": v3}).render_with_fallback("pitch", {"price": 5}, variant="b")

    # an earlier version that does not compile here is passed over (the set in use is not refused),
    # one without variant b gives its own text, and the file comes last
    broken = LiveScript(4, (Variant("a", "{% if %}"),))
    single = LiveScript(5, (Variant("a", "S5 {{ 100 // count }}"),))
    book.install({"pitch": LiveScript(6, v3.variants, earlier=(single, broken, v2))})
    assert said({"price": 5, "count": 4}) == ("S5 25", 5, "", (6, "b", 5))
    assert said({"price": 5, "count": 0}) == ("新品只要 ¥5.00，要不要看看？", 0, "", (6, "b", 0))

    # FALLBACK_DEPTH earlier texts are kept, past them the file; a version repeating a text (a
    # rollback, a weight change) is not one more
    failing = [LiveScript(n, (Variant("a", f"V{n} {{{{ nick }}}}"),)) for n in range(10, 10 + FALLBACK_DEPTH)]
    reweighted = LiveScript(20, (Variant("a", failing[0].variants[0].text, 30.0),))
    book.install({"pitch": LiveScript(30, (Variant("a", "{{ nick }}"),), earlier=(*failing, v1))})
    assert said({"price": 5}, None) == ("新品只要 ¥5.00，要不要看看？", 0, "", (30, "", 0))
    book.install({"pitch": LiveScript(30, (Variant("a", "{{ nick }}"),),
                                      earlier=(failing[0], reweighted, *failing[1:-1], v1))})
    assert said({"price": 5}, None) == ("A1 5", 1, "a", (30, "", 1))
