"""Plain transitions are compiled into a lookup; the turn must behave exactly as the machine does."""

from __future__ import annotations

import pytest

from persona import Persona, TextMessage
from persona.model.customer import Customer
from persona.errors import DefinitionError
from persona.model.moves import compile_moves
from persona.model.turn import Turn


class Flow(Persona):
    states = ["new", "lead", "buyer", "vip", "gone"]
    scripts_dir = "none"
    transitions = [
        ["meet", "new", "lead"],
        ["buy", ["new", "lead"], "buyer"],
        {"trigger": "promote", "source": "buyer", "dest": "vip", "conditions": "spent_enough"},
        {"trigger": "promote", "source": "lead", "dest": "buyer", "unless": "is_blocked"},
        {"trigger": "note", "source": "*", "dest": None},  # internal: no state change
        ["stay", "lead", "="],  # reflexive, no hooks on lead
        ["stay", "vip", "="],  # reflexive into a state with an entry hook
        ["leave", "*", "gone"],
        {"trigger": "ping", "source": "new", "dest": "lead", "after": "count_ping"},
    ]

    def spent_enough(self, turn: Turn) -> bool:
        return turn.customer.counters.get("spent", 0) >= 100

    def is_blocked(self, turn: Turn) -> bool:
        return turn.customer.has("blocked")

    def count_ping(self, turn: Turn) -> None:
        turn.incr("pings")

    def on_enter_vip(self, turn: Turn) -> None:
        turn.incr("vip_entries")

    def on_exit_buyer(self, turn: Turn) -> None:
        turn.tag("was_buyer")


def test_only_transitions_that_call_nothing_are_compiled():
    moves = Flow.moves
    assert moves[("meet", "new")] == "lead"
    assert moves[("buy", "new")] == moves[("buy", "lead")] == "buyer"
    assert moves[("note", "vip")] == "vip"  # internal: stays where it is
    assert moves[("stay", "lead")] == "lead"
    assert moves[("leave", "new")] == "gone"
    assert ("promote", "buyer") not in moves  # a condition
    assert ("promote", "lead") not in moves  # unless
    assert ("stay", "vip") not in moves  # re-enters a state with on_enter_vip
    assert ("leave", "buyer") not in moves  # leaves a state with on_exit_buyer
    assert ("leave", "vip") in moves  # vip has an entry hook, not an exit hook
    assert ("ping", "new") not in moves  # an after callback
    assert ("meet", "lead") not in moves  # not allowed from there at all


def test_a_machine_with_callbacks_of_its_own_compiles_nothing():
    machine = Flow._build_machine()
    assert compile_moves(machine)
    machine.before_state_change.append("count_ping")
    assert compile_moves(machine) == {}


def turn_in(state: str, persona: Persona | None = None, **counters: int) -> Turn:
    customer = Customer("u", state, counters=dict(counters))
    return Turn(persona or Flow(), customer, TextMessage(user="u", dedupe_key="m:1", text="hi"), now=1000.0)


CASES = [(trigger, state) for trigger in sorted(Flow.triggers) for state in Flow.states]


@pytest.mark.parametrize(("trigger", "state"), CASES)
async def test_every_trigger_from_every_state_ends_as_the_machine_alone_ends(trigger, state, monkeypatch):
    """The compiled path and the machine agree on the result, the state, the recorded
    transitions, the entry time and every hook's effect."""
    fast = turn_in(state, spent=150)
    fast_done = await fast.trigger(trigger)
    monkeypatch.setattr(Flow, "moves", {})
    slow = turn_in(state, spent=150)
    slow_done = await slow.trigger(trigger)
    assert (fast_done, fast.customer, fast.transitions, fast.entered) == \
        (slow_done, slow.customer, slow.transitions, slow.entered)


async def test_hooks_still_run_where_the_machine_is_needed():
    turn = turn_in("vip")
    assert await turn.trigger("stay") is True
    assert turn.customer.counters["vip_entries"] == 1 and turn.transitions == []
    turn = turn_in("buyer", spent=10)
    assert await turn.trigger("promote") is False and turn.state == "buyer"
    assert await turn.trigger("leave") is True and turn.customer.has("was_buyer")
    assert turn.transitions == [("leave", "buyer", "gone")] and turn.entered == 1000.0


async def test_a_plain_transition_records_the_move_and_a_disallowed_one_returns_false():
    turn = turn_in("new")
    assert await turn.trigger("meet") is True
    assert (turn.state, turn.transitions, turn.entered) == ("lead", [("meet", "new", "lead")], 1000.0)
    assert await turn.trigger("meet") is False and turn.state == "lead"


async def test_an_unknown_trigger_is_still_an_error_naming_the_known_ones():
    with pytest.raises(DefinitionError, match="no trigger 'met'.*meet"):
        await turn_in("new").trigger("met")
