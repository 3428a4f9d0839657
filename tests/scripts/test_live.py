"""A process's scripts follow the store (whole sets only) and, in development, the folder."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from persona.model.customer import Customer
from persona.errors import ScriptRejected, TemplateError
from persona.model.inputs import BusinessEvent
from persona.content.scripts import ScriptPoller, reload_checked, watch_folder
from persona.content.scripts.versions import ScriptVersion
from persona.model.templates import LiveScript, ScriptBook, Variant
from persona.model.turn import Turn
from tests.scripts.lab import Lab

LAB = Path(__file__).parent / "lab"


def say(persona, script: str = "pitch") -> str:
    turn = Turn(persona, Customer("u1", "new"), BusinessEvent(user="u1", name="x"), 1_800_000_000)
    return turn.render(script, price=5).text


async def append(store, script: str, *variants: Variant) -> None:
    number = len(await store.script_versions(script))
    entry = ScriptVersion(script, number + 1, tuple(variants), author="t").dump()
    assert await store.append_script_version(script, number, entry)


async def test_the_poller_installs_whole_sets_and_keeps_the_old_one_when_any_part_breaks(store):
    persona = Lab()
    poller = ScriptPoller(persona.scripts, store)
    assert await poller.refresh() and not await poller.refresh()  # nothing new: nothing done
    await append(store, "pitch", Variant("a", "P1 {{ price }}"))
    await append(store, "thanks", Variant("a", "T1"))
    assert await poller.refresh()
    assert (say(persona), say(persona, "thanks")) == ("P1 5", "T1")
    # a set where one script compiles and another does not (published from other code): none of it
    await append(store, "pitch", Variant("a", "P2 {{ price }}"))
    await append(store, "thanks", Variant("a", "{% if %}"))
    assert not await poller.refresh()
    assert (say(persona), say(persona, "thanks")) == ("P1 5", "T1")
    assert persona.scripts.version("pitch") == 1
    await append(store, "thanks", Variant("a", "T3"))
    assert await poller.refresh()
    assert (say(persona), say(persona, "thanks")) == ("P2 5", "T3")
    assert persona.scripts.version("thanks") == 3


async def test_the_poller_loop_picks_up_a_publish_within_its_interval(store):
    persona = Lab()
    poller = ScriptPoller(persona.scripts, store, interval=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await append(store, "pitch", Variant("a", "快 {{ price }}"))
        for _ in range(100):
            if say(persona) == "快 5":
                break
            await asyncio.sleep(0.02)
        assert say(persona) == "快 5"
    finally:
        stop.set()
        await task


def test_a_render_in_progress_keeps_the_set_it_started_with():
    book = ScriptBook(LAB / "scripts")
    book.install({"pitch": LiveScript(1, (Variant("a", "{% include 'thanks.j2' %} {{ swap() }}"),)),
                  "thanks": LiveScript(1, (Variant("a", "old"),))})

    def swap() -> str:  # a publish lands while the script renders
        book.install({"pitch": LiveScript(2, (Variant("a", "new {{ price }}"),)),
                      "thanks": LiveScript(2, (Variant("a", "new"),))})
        return "!"

    assert book.render("pitch", {"swap": swap}).text == "old !"
    assert book.render("pitch", {"price": 1}).text == "new 1"


def test_install_refuses_a_set_that_does_not_compile_with_the_script_and_line():
    book = ScriptBook(LAB / "scripts")
    with pytest.raises(TemplateError, match=r"scripts/thanks.j2 \(version 4\) line 2"):
        book.install({"thanks": LiveScript(4, (Variant("a", "ok\n{{ x }"),))})
    with pytest.raises(TemplateError, match=r"variant b\) line 1"):
        book.install({"thanks": LiveScript(4, (Variant("a", "ok"), Variant("b", "{% for %}")))})
    assert book.version("thanks") == 0 and book.render("thanks", {}).text == "谢谢惠顾！"


def test_an_edited_file_that_passes_lint_is_swapped_in_and_a_broken_one_is_not(bot_copy):
    cls, folder = bot_copy
    persona = cls()
    (folder / "pitch.j2").write_text("改了 {{ price }}", encoding="utf-8")
    assert "reloaded" in reload_checked(cls, persona.scripts)
    assert say(persona) == "改了 5"
    (folder / "pitch.j2").write_text("改坏了 {{ prize }}", encoding="utf-8")
    with pytest.raises(ScriptRejected, match="'prize' is not given"):
        reload_checked(cls, persona.scripts)
    assert say(persona) == "改了 5"


async def test_the_folder_watcher_swaps_in_an_edit_and_reports_a_broken_one(bot_copy):
    cls, folder = bot_copy
    persona = cls()
    lines: list[str] = []
    stop = asyncio.Event()
    task = asyncio.create_task(watch_folder(cls, persona.scripts, stop, lines.append))

    async def until(predicate) -> None:
        for _ in range(150):
            if predicate():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"watcher said {lines}")

    try:
        await asyncio.sleep(0.3)  # the watcher is up
        (folder / "pitch.j2").write_text("热更新 {{ price }}", encoding="utf-8")
        await until(lambda: say(persona) == "热更新 5")
        (folder / "pitch.j2").write_text("{{ price }", encoding="utf-8")
        await until(lambda: any("lint found problems" in line for line in lines))
        assert say(persona) == "热更新 5"
    finally:
        stop.set()
        await task
