"""``persona events BOT``: the declared business events, the table each bot's README carries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from persona import DefinitionError, EventDataError, Persona, Turn, on
from persona.cli.events import UNDECLARED, data_cell
from persona.model.persona import load_persona

ROOT = Path(__file__).resolve().parents[2]
BOTS = ("bots.xiaowanzi", "bots.fitness_coach", "bots.finance_secretary")


def readme_data_cells(bot: str) -> dict[str, str]:
    """Every README table row ``| `event` | ... |`` under a header with a ``data`` column."""
    cells: dict[str, str] = {}
    column = None
    for line in (ROOT / bot.replace(".", "/") / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            column = None
            continue
        parts = [p.strip() for p in line.strip().strip("|").split("|")]
        if parts[0] == "event":
            column = parts.index("data") if "data" in parts else None
        elif column is not None and re.fullmatch(r"`[a-z_]+`( / `[a-z_]+`)*", parts[0]):
            for name in re.findall(r"`([a-z_]+)`", parts[0]):  # `joined_group` / `left_group`
                cells[name] = parts[column]
    return cells


@pytest.mark.parametrize("bot", BOTS)
def test_every_event_of_a_bot_is_declared_and_its_readme_shows_the_declaration(bot):
    persona = load_persona(bot)
    cells = readme_data_cells(bot)
    assert set(cells) == set(persona.routes.event), f"{bot}: README events differ from the handlers"
    for event in persona.routes.event:
        assert data_cell(persona, event) != UNDECLARED, f"{bot}: {event} has no data= declaration"
        assert cells[event] == data_cell(persona, event), f"{bot} README, event {event}"


def test_the_command_prints_the_markdown_table(cli):
    done = cli("events", "bots.xiaowanzi")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["| event | data | handled by |", "|---|---|---|"]
    assert ("| `order_placed` | `order_id` (text or whole number), `amount` (number), `items?` (list) "
            "| `order_placed` |") in lines
    assert any(line.startswith("| `registered` | ") and "A member signed up in the mini program" in line
               for line in lines)


def test_declarations_are_checked_at_import():
    with pytest.raises(DefinitionError, match="field 'amount' has type 'float'"):
        on.event("paid", data={"amount": "float"})
    with pytest.raises(DefinitionError, match="declare data= on a handler of one event"):
        on.event("a", "b", data={})
    with pytest.raises(DefinitionError, match="declares data= differently"):
        class Twice(Persona):
            states = ["new", "old"]

            @on.event("paid", states="new", data={"amount": float})
            def first(self, turn: Turn) -> None:
                pass

            @on.event("paid", states="old", data={"amount": int})
            def second(self, turn: Turn) -> None:
                pass


def test_what_each_type_accepts():
    class Shop(Persona):
        states = ["new"]

        @on.event("paid", data={"amount": float, "count?": int, "ok?": bool, "tags?": list,
                                "meta?": dict, "ref?": (str, int), "any?": object})
        def paid(self, turn: Turn) -> None:
            pass

    Shop.check_event("paid", {"amount": 3, "count": 2, "ok": False, "tags": [], "meta": {}, "ref": 7,
                              "any": [1], "extra": "kept"})
    Shop.check_event("paid", {"amount": 9.5, "ref": "R7", "count": None})
    for data, problem in [({"amount": True}, "field 'amount' must be number (got true)"),
                          ({"amount": "9.5"}, "field 'amount' must be number (got \"9.5\")"),
                          ({"amount": 1, "count": 2.5}, "field 'count' must be whole number (got 2.5)"),
                          ({"amount": 1, "count": True}, "field 'count' must be whole number"),
                          ({"amount": 1, "ok": "yes"}, "field 'ok' must be true/false"),
                          ({"amount": 1, "ref": 1.5}, "field 'ref' must be text or whole number"),
                          ({}, "field 'amount' is missing"), ({"amount": None}, "field 'amount' is null")]:
        with pytest.raises(EventDataError) as caught:
            Shop.check_event("paid", data)
        assert problem in str(caught.value) and caught.value.fields
    Shop.check_event("refund", {"anything": 1})  # not declared: not checked here (the service 422s it)
