"""Publishing, history and rollback, on the three stores; what a running bot renders after each."""

from __future__ import annotations

import pytest

from persona.errors import PersonaError, ScriptRejected
from persona.content.scripts import Action, ScriptCatalog, ScriptPoller
from persona.content.scripts.catalog import load_live
from persona.testing import Simulation
from tests.scripts.lab import Lab

FILE_TEXT = "新品只要 ¥99.00，要不要看看？"


@pytest.fixture
def catalog(store):
    ticks = iter(range(1_800_000_000, 1_900_000_000, 60))
    return ScriptCatalog(Lab, store, clock=lambda: float(next(ticks)))


async def rendered(store, text: str = "hi", user: str = "u1") -> str:
    """What a fresh bot process on ``store`` answers ``text`` with, after loading published scripts."""
    async with Simulation(Lab, store="memory://") as sim:
        poller = ScriptPoller(sim.bot.persona.scripts, store)
        await poller.refresh()
        sent = await sim.text(user, text)
    return sent[0].text


async def test_publish_numbers_versions_and_the_next_render_uses_the_newest(catalog, store):
    assert await rendered(store) == FILE_TEXT
    v1 = await catalog.publish("pitch", "只要 {{ price|money }}！", author="amy", note="shorter")
    assert (v1.number, v1.author, v1.note, v1.action) == (1, "amy", "shorter", Action.PUBLISH)
    assert await rendered(store) == "只要 ¥99.00！"
    v2 = await catalog.publish("pitch", "今天 {{ price|money }}", author="bo")
    assert v2.number == 2 and await rendered(store) == "今天 ¥99.00"
    live = await load_live(store)
    assert live["pitch"].version == 2 and "thanks" not in live


async def test_a_version_that_fails_lint_is_refused_and_nothing_changes(catalog, store):
    await catalog.publish("pitch", "只要 {{ price|money }}！", author="amy")
    with pytest.raises(ScriptRejected) as refused:
        await catalog.publish("pitch", "只要 {{ prise|money }}！", author="amy")
    assert "'prise' is not given" in str(refused.value) and refused.value.problems
    with pytest.raises(ScriptRejected, match=r"pitch.j2:1: error: Expected an expression"):
        await catalog.publish("pitch", "{% if %}", author="amy")
    assert [v.number for v in await catalog.versions("pitch")] == [0, 1]
    assert await rendered(store) == "只要 ¥99.00！"


@pytest.mark.parametrize("name,message", [
    ("pitch.j2", "without .j2"), ("../etc/passwd", "a script name"), ("a b", "a script name"),
])
async def test_bad_script_names_are_refused_before_the_store_is_touched(catalog, store, name, message):
    with pytest.raises(PersonaError, match=message):
        await catalog.publish(name, "hi", author="amy")
    assert await store.script_generation() == 0


async def test_bad_weights_variants_and_empty_texts_are_refused(catalog):
    for kwargs, message in (({"weight": -1}, "weight"), ({"weight": float("nan")}, "weight"),
                            ({"variant": "b c"}, "variant")):
        with pytest.raises(PersonaError, match=message):
            await catalog.publish("pitch", "x {{ price }}", author="amy", **kwargs)
    with pytest.raises(PersonaError, match="empty"):
        await catalog.publish("pitch", "  \n", author="amy")


async def test_history_is_newest_first_with_diff_stats_down_to_the_file(catalog):
    await catalog.publish("pitch", "一\n二 {{ price }}\n", author="amy", note="two lines")
    await catalog.publish("pitch", "一\n三 {{ price }}\n四\n", author="bo")
    history = await catalog.history("pitch")
    assert [e.version.number for e in history] == [2, 1, 0]
    newest = history[0]
    assert (newest.added, newest.removed) == (2, 1)
    assert "-二 {{ price }}" in newest.diff and "+三 {{ price }}" in newest.diff
    assert history[1].version.note == "two lines" and history[1].removed == 2
    assert history[2].version.number == 0 and history[2].diff == ""


async def test_rollback_is_a_new_version_and_can_go_back_to_the_file(catalog, store):
    await catalog.publish("pitch", "一 {{ price }}", author="amy")
    await catalog.publish("pitch", "二 {{ price }}", author="amy")
    back = await catalog.rollback("pitch", author="bo")  # default: the version before the live one
    assert (back.number, back.action, back.restores) == (3, Action.ROLLBACK, 1)
    assert await rendered(store) == "一 99"
    assert await catalog.rollback("pitch", to=2, author="bo") and await rendered(store) == "二 99"
    to_file = await catalog.rollback("pitch", to=0, author="bo")
    assert to_file.number == 5 and to_file.is_file
    assert await rendered(store) == FILE_TEXT
    history = await catalog.history("pitch")
    assert [e.version.number for e in history] == [5, 4, 3, 2, 1, 0]
    assert history[0].version.note == "rollback to version 0"
    with pytest.raises(PersonaError, match="no version 9"):
        await catalog.rollback("pitch", to=9, author="bo")


async def test_nothing_to_roll_back_says_so(catalog):
    with pytest.raises(PersonaError, match="nothing was published"):
        await catalog.rollback("pitch", author="bo")


async def test_publishing_a_variant_keeps_the_script_and_weights(catalog):
    v1 = await catalog.publish("pitch", "B {{ price }}", author="amy", variant="b", weight=30)
    assert [(v.name, v.weight) for v in v1.variants] == [("a", 50), ("b", 30)]
    assert v1.variant("a").text.strip().endswith("要不要看看？")  # the file's text stands for a
    v2 = await catalog.publish("pitch", "B2 {{ price }}", author="amy", variant="b")
    assert [(v.name, v.weight, v.text) for v in v2.variants][1] == ("b", 30, "B2 {{ price }}")
    v3 = await catalog.publish("pitch", "A {{ price }}", author="amy", weight=20)
    assert [(v.name, v.weight) for v in v3.variants] == [("a", 20), ("b", 30)]
    [status] = [s for s in await catalog.scripts() if s.script == "pitch"]
    assert status.version.number == 3 and status.variants == (("a", 20), ("b", 30))
    with pytest.raises(ScriptRejected, match=r"variant c"):
        await catalog.publish("pitch", "{{ nothing }}", author="amy", variant="c")


async def test_a_variant_of_a_script_with_no_file_needs_the_script_first(catalog):
    with pytest.raises(PersonaError, match="publish the script itself first"):
        await catalog.publish("brand_new", "hi", author="amy", variant="b")


async def test_scripts_lists_files_and_published_ones(catalog):
    await catalog.publish("extra", "就这样", author="amy", note="new")
    rows = {s.script: s for s in await catalog.scripts()}
    assert set(rows) == {"pitch", "thanks", "extra"}
    assert rows["pitch"].version.number == 0 and rows["extra"].version.author == "amy"
