"""The plain part of a persona's machine, compiled into a dict the hot path reads directly.

A persona declares its machine with ``transitions``; one shared ``AsyncMachine`` per class
runs it. Awaiting that machine costs about a third of a turn (its callback lists are
gathered even when empty), yet most transitions are plain: no conditions, no callbacks, no
``on_enter_``/``on_exit_`` hooks on the states they leave or enter. For those, firing the
trigger only means "from this state, go to that one", so :func:`compile_moves` turns them
into ``{(trigger, source): destination}``. Anything the machine would call on the way
stays with the machine: a pair is compiled only when nothing at all would run for it.
"""

from __future__ import annotations

from transitions.extensions.asyncio import AsyncMachine

#: Callback lists on the machine itself; any of them makes every trigger go through it.
_MACHINE_CALLBACKS = ("prepare_event", "before_state_change", "after_state_change",
                      "finalize_event", "on_final")


def compile_moves(machine: AsyncMachine) -> dict[tuple[str, str], str]:
    """``{(trigger, source): destination}`` for every pair whose firing calls nothing.

    The destination of an internal transition (``dest=None``) is its source: the state does
    not change, as with the machine. Pairs whose first transition has conditions, ``unless``,
    ``prepare``/``before``/``after`` callbacks, or leaves/enters a state with hooks are left
    out, and so is everything when the machine has callbacks of its own or an exception hook.
    """
    if machine.on_exception or any(getattr(machine, name, None) for name in _MACHINE_CALLBACKS):
        return {}
    moves: dict[tuple[str, str], str] = {}
    for trigger, event in machine.events.items():
        for source, candidates in event.transitions.items():
            # the machine takes the first candidate whose conditions hold; one without
            # conditions always holds, so it decides alone
            first = candidates[0]
            if first.conditions or first.prepare or first.before or first.after:
                continue
            if first.dest is None:
                moves[(trigger, source)] = source
                continue
            leaving, entering = machine.get_state(source), machine.get_state(first.dest)
            if leaving.on_exit or entering.on_enter or entering.final:
                continue
            moves[(trigger, source)] = first.dest
    return moves
