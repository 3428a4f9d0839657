"""The Jinja walker: what a script uses, and in which states.

A script is parsed once with the bot's own Jinja environment (so a filter the bot adds is known)
and read into a :class:`Script`: the variables it uses with the line of each use and the states
that use is rendered in (``{% if state == "new" %}``, ``state in (...)``, ``not``, ``and``, ``or``
narrow them; anything else leaves them as they are), the variables it guards (``is defined``,
``|default``), the scripts it includes, its ``{% set kind = ... %}``, and the bytes of fixed text
on its longest branch. Nothing here reports: :mod:`.checks` decides what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from jinja2 import meta
from jinja2 import nodes as jn

from ...model.templates import SUFFIX
from .fields import FieldUse, field_uses
from .shapes import KeyUse, key_uses
from .states import States, narrow

#: names Jinja gives a template itself, never the caller
JINJA_SPECIAL = frozenset({"loop", "caller", "varargs", "kwargs", "self"})


@dataclass
class Script:
    """One script file, as read from its source."""

    name: str
    path: Path
    tree: jn.Template | None = None
    #: variable -> [(line, states it is used in; None = any)]
    uses: dict[str, list[tuple[int, States]]] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)
    includes: set[str] = field(default_factory=set)
    kind: str | None = None
    kind_line: int = 0
    #: the customer fields it reads (attrs.X, tags.X, counters.X, customer.X)
    fields: list[FieldUse] = field(default_factory=list)
    #: what its top-level ``{% set name = "constant" %}`` tags say (kind, via, category...)
    settings: dict[str, str] = field(default_factory=dict)
    #: the keys it reads off the values it is given (``offer.title``), for their shapes
    keys: list[KeyUse] = field(default_factory=list)

    def read(self, tree: jn.Template, all_states: frozenset[str]) -> None:
        """Fill in what the script uses from its parsed ``tree``."""
        self.tree = tree
        declared = meta.find_undeclared_variables(tree) - JINJA_SPECIAL
        self.fields = field_uses(tree, declared)
        self.keys = key_uses(tree, declared)
        for name, line, states in template_uses(tree, declared, all_states):
            self.uses.setdefault(name, []).append((line, states))
        for test in tree.find_all(jn.Test):
            if test.name in ("defined", "undefined") and isinstance(test.node, jn.Name):
                self.optional.add(test.node.name)
        for filt in tree.find_all(jn.Filter):
            if filt.name in ("default", "d") and isinstance(filt.node, jn.Name):
                self.optional.add(filt.node.name)
        for ref in meta.find_referenced_templates(tree):
            if ref:
                self.includes.add(ref[: -len(SUFFIX)] if ref.endswith(SUFFIX) else ref)
        for node in tree.body:
            if (isinstance(node, jn.Assign) and isinstance(node.target, jn.Name)
                    and isinstance(node.node, jn.Const)):
                self.settings[node.target.name] = str(node.node.value)
                if node.target.name == "kind":
                    self.kind, self.kind_line = str(node.node.value), node.lineno


def template_uses(tree: jn.Template, names: set[str], everything: frozenset[str]
                   ) -> Iterator[tuple[str, int, States]]:
    """Each use of ``names`` in a script, with the states it is rendered in: branches on
    ``state`` (``{% if state == "new" %}``, ``state in (...)``) narrow them."""

    def condition(test: jn.Node) -> tuple[frozenset[str], frozenset[str]]:
        if isinstance(test, jn.And):
            (t1, f1), (t2, f2) = condition(test.left), condition(test.right)
            return t1 & t2, f1 | f2
        if isinstance(test, jn.Or):
            (t1, f1), (t2, f2) = condition(test.left), condition(test.right)
            return t1 | t2, f1 & f2
        if isinstance(test, jn.Not):
            true, false = condition(test.node)
            return false, true
        if (isinstance(test, jn.Compare) and isinstance(test.expr, jn.Name) and test.expr.name == "state"
                and len(test.ops) == 1):
            op, operand = test.ops[0].op, test.ops[0].expr
            values: set[str] | None = None
            if isinstance(operand, jn.Const) and isinstance(operand.value, str):
                values = {operand.value}
            elif isinstance(operand, jn.Const) and isinstance(operand.value, (tuple, list, frozenset, set)):
                values = {str(v) for v in operand.value}  # a literal tuple, folded by the parser
            elif isinstance(operand, (jn.Tuple, jn.List)) and all(
                    isinstance(i, jn.Const) and isinstance(i.value, str) for i in operand.items):
                values = {i.value for i in operand.items}  # type: ignore[attr-defined]
            if values is not None and op in ("eq", "in"):
                return everything & values, everything - values
            if values is not None and op in ("ne", "notin"):
                return everything - values, everything & values
        return everything, everything

    def walk(node: jn.Node, states: States) -> Iterator[tuple[str, int, States]]:
        if isinstance(node, jn.If):
            yield from walk(node.test, states)
            true, false = condition(node.test)
            for child in node.body:
                yield from walk(child, narrow(states, true))
            remaining = narrow(states, false)
            for branch in node.elif_:
                yield from walk(branch.test, remaining)
                true, false = condition(branch.test)
                for child in branch.body:
                    yield from walk(child, narrow(remaining, true))
                remaining = narrow(remaining, false)
            for child in node.else_:
                yield from walk(child, remaining)
            return
        if isinstance(node, jn.CondExpr):
            yield from walk(node.test, states)
            true, false = condition(node.test)
            yield from walk(node.expr1, narrow(states, true))
            if node.expr2 is not None:
                yield from walk(node.expr2, narrow(states, false))
            return
        if isinstance(node, jn.Name) and node.ctx == "load" and node.name in names:
            yield node.name, node.lineno, states
        for child in node.iter_child_nodes():
            yield from walk(child, states)

    yield from walk(tree, None)


def fixed_bytes(body: list[jn.Node]) -> int:
    """Bytes of literal text on the longest path through a script (loops counted zero times,
    so this much text is certain whenever that path is taken)."""
    total = 0
    for node in body:
        if isinstance(node, jn.Output):
            for child in node.nodes:
                if isinstance(child, jn.TemplateData):
                    total += len(child.data.encode("utf-8"))
                elif isinstance(child, jn.Const) and isinstance(child.value, str):
                    total += len(child.value.encode("utf-8"))
        elif isinstance(node, jn.If):
            branches: list[list[jn.Node]] = [node.body, *([e] for e in node.elif_), node.else_]  # type: ignore[list-item]
            total += max(fixed_bytes(b) for b in branches)
        elif isinstance(node, (jn.For, jn.Macro, jn.CallBlock, jn.FilterBlock)):
            continue
        elif hasattr(node, "body") and isinstance(getattr(node, "body"), list):
            total += fixed_bytes(node.body)
    return total

