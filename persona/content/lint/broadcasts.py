"""Scripts the framework says for a persona: by ``persona broadcast``, and on a handoff.

A broadcast reaches each customer of a segment through :meth:`Persona.broadcast`, which says
the script it is handed: ``turn.say(script, ...)`` with ``script`` its parameter, a name no
reader of the code can follow. The persona declares those scripts (``broadcasts = {...}``),
so each is said at that call with that call's keyword arguments — or, where the persona keeps
the default ``broadcast``, with nothing beyond what every script gets and ``context()``.

A :class:`~persona.model.staffing.HandoffSpec`'s scripts are said by the framework on every
handover and handback, each with what its kind is given (:meth:`HandoffSpec.scripts`); the
话术库 (``Persona.agent_scripts``) is rendered for the customer in the agents' sidebar.
"""

from __future__ import annotations

import ast
import inspect

from ...model.persona import Persona
from .report import display
from .source import Code, Frame, Site, line_of


def broadcast_sites(code: Code, names: list[str], dynamic: list[tuple[str, int]]
                    ) -> tuple[list[Site], list[tuple[str, int]]]:
    """A site per broadcast script at each ``say`` of the persona's ``broadcast`` method, and
    ``dynamic`` without those calls (they are followed now)."""
    if not names:
        return [], dynamic
    sites: list[Site] = []
    followed: set[tuple[str, int]] = set()
    for func in code.funcs.get("broadcast", []):
        params = func.params
        if not func.method or len(params) < 2:
            continue
        for node in ast.walk(func.node):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "say" and node.args and isinstance(node.args[0], ast.Name)
                    and node.args[0].id == params[1]):
                continue
            frame = Frame(func)
            given = code._given(node, frame, "say")
            values = {kw.arg: (kw.value, frame) for kw in node.keywords if kw.arg is not None}
            followed.add((func.file, node.lineno))
            sites += [Site(name, func.file, node.lineno, given, None, "broadcast()", values) for name in names]
    if not followed:  # Persona.broadcast: the script, with what every script gets
        file = display(inspect.getsourcefile(code.cls) or "")
        sites = [Site(name, file, line_of(code.cls), frozenset(), None, f"{Persona.__name__}.broadcast")
                 for name in names]
    return sites, [d for d in dynamic if d not in followed]


def handoff_sites(code: Code) -> list[Site]:
    """A site per script of the persona's handoff, with what the framework gives it, and per
    script of its 话术库 (``agent_scripts``, rendered in the WeCom sidebar with what every script
    gets), at its class."""
    file = display(inspect.getsourcefile(code.cls) or "")
    spec = code.cls.handoff
    sites = [Site(name, file, line_of(code.cls), given, None, "HandoffSpec")
             for name, given in (spec.scripts() if spec is not None else {}).items()]
    return sites + [Site(name, file, line_of(code.cls), frozenset(), None, "agent_scripts")
                    for name in sorted(code.cls.agent_scripts)]
