"""Customer fields a script reads, against what the persona sets or declares.

A script reads ``attrs.last_visit``, ``tags.source``, ``counters.orders`` or ``customer.id``.
A misspelt one renders as nothing a writer can see until a customer's message fails, so each
is checked here: ``customer.X`` against the fields a :class:`~persona.model.customer.Customer` has;
``attrs``/``tags``/``counters`` keys against the names the bot's code sets or reads anywhere
(``turn.set("X")``, ``turn.tag("X")``, ``turn.incr("X")``, ``customer.attrs["X"]``,
``customer.has("X")``...), the names the framework sets, and what the persona declares
(``attributes = {...}``, ``tag_names = {...}`` for names the brand's data brings in).

A key close to a known one is an error with "did you mean"; a key nobody sets is a warning
(it may come from data the code cannot show). When the code sets names it computes
(``turn.set(key, value)``), a close key is only a warning: it may be one of those.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
from dataclasses import dataclass, field
from enum import StrEnum

from jinja2 import nodes as jn

from ...model.customer import Customer
from ...model.persona import Persona
from ...model.wording import Said, says
from .source import Code


class Namespace(StrEnum):
    """Where a script reads a customer field from."""

    ATTRS = "attrs"
    TAGS = "tags"
    COUNTERS = "counters"
    CUSTOMER = "customer"


#: what the framework itself sets: the platform a customer came from, their time zone, opt-out
FRAMEWORK = {Namespace.ATTRS: frozenset({"platform", "tz", "follow_user", "channel"}), Namespace.TAGS: frozenset({"opted_out"}),
             Namespace.COUNTERS: frozenset()}
#: dict methods a script may call on attrs/tags/counters (never keys)
DICT_METHODS = frozenset({"get", "items", "keys", "values", "setdefault", "pop", "update", "copy"})
#: Turn methods that set a field, and the namespace they set
SETTERS = {"set": Namespace.ATTRS, "tag": Namespace.TAGS, "untag": Namespace.TAGS, "incr": Namespace.COUNTERS}
KEYED = (Namespace.ATTRS, Namespace.TAGS, Namespace.COUNTERS)
#: how close a name must be to count as a misspelling of a known one
CLOSE = 0.75


@dataclass(frozen=True, slots=True)
class FieldUse:
    namespace: Namespace
    key: str
    line: int

    def __str__(self) -> str:
        return f"{self.namespace}.{self.key}"


@dataclass
class KnownFields:
    """The names each namespace can hold, and the namespaces the code sets computed names in."""

    names: dict[Namespace, set[str]] = field(default_factory=lambda: {ns: set(FRAMEWORK[ns]) for ns in KEYED})
    computed: set[Namespace] = field(default_factory=set)


def customer_fields() -> frozenset[str]:
    """What ``customer.X`` may name: the record's fields and its public methods and properties."""
    return frozenset({f.name for f in dataclasses.fields(Customer)}
                     | {n for n in dir(Customer) if not n.startswith("_")})


def field_uses(tree: jn.Template, context: set[str]) -> list[FieldUse]:
    """Every customer field ``tree`` reads through a variable it gets from outside (``context``:
    a script's own ``{% set attrs = ... %}`` is not the customer's)."""

    def namespace(expr: jn.Node) -> Namespace | None:
        if isinstance(expr, jn.Name) and expr.name in KEYED and expr.name in context:
            return Namespace(expr.name)
        if (isinstance(expr, jn.Getattr) and expr.attr in KEYED and isinstance(expr.node, jn.Name)
                and expr.node.name == "customer" and "customer" in context):
            return Namespace(expr.attr)
        return None

    def constant(expr: jn.Node | None) -> str | None:
        return expr.value if isinstance(expr, jn.Const) and isinstance(expr.value, str) else None

    uses: list[FieldUse] = []
    for node in tree.find_all((jn.Getattr, jn.Getitem, jn.Call, jn.Compare)):
        if isinstance(node, jn.Getattr):
            ns = namespace(node.node)
            if ns is not None and node.attr not in DICT_METHODS:
                uses.append(FieldUse(ns, node.attr, node.lineno))
            elif isinstance(node.node, jn.Name) and node.node.name == "customer" and "customer" in context:
                uses.append(FieldUse(Namespace.CUSTOMER, node.attr, node.lineno))
        elif isinstance(node, jn.Getitem):
            ns, key = namespace(node.node), constant(node.arg)
            if ns is not None and key is not None:
                uses.append(FieldUse(ns, key, node.lineno))
        elif isinstance(node, jn.Call) and isinstance(node.node, jn.Getattr) and node.args:
            key = constant(node.args[0])
            if key is None:
                continue
            target = node.node
            if target.attr in ("get", "setdefault", "pop") and (ns := namespace(target.node)) is not None:
                uses.append(FieldUse(ns, key, node.lineno))
            elif (target.attr == "has" and isinstance(target.node, jn.Name) and target.node.name == "customer"
                  and "customer" in context):
                uses.append(FieldUse(Namespace.TAGS, key, node.lineno))
        elif isinstance(node, jn.Compare) and len(node.ops) == 1 and node.ops[0].op in ("in", "notin"):
            key, ns = constant(node.expr), namespace(node.ops[0].expr)
            if key is not None and ns is not None:
                uses.append(FieldUse(ns, key, node.lineno))
    return uses


def known_fields(cls: type[Persona], code: Code) -> KnownFields:
    """What the persona's code sets or reads in each namespace, and what it declares."""
    known = KnownFields()
    known.names[Namespace.ATTRS] |= set(cls.attributes)
    known.names[Namespace.TAGS] |= set(cls.tag_names) | set(cls.indexed_tags or ())
    for call in code.calls(*SETTERS):
        first = call.node.args[0]
        # a literal name needs no following through helpers (the slow part of reading code)
        names = {first.value} if isinstance(first, ast.Constant) and isinstance(first.value, str) else call.strings(0)
        if names is None:
            known.computed.add(SETTERS[call.method])
        else:
            known.names[SETTERS[call.method]] |= names
    for _, tree in code.trees:
        for node in ast.walk(tree):
            _read_python(node, known)
    return known


def _read_python(node: ast.AST, known: KnownFields) -> None:
    """``x.attrs["k"]``, ``x.attrs.get("k")``, ``x.has("k")``, ``x.attrs.update(k=...)``."""

    def namespace(expr: ast.expr) -> Namespace | None:
        if isinstance(expr, ast.Attribute) and expr.attr in KEYED:
            return Namespace(expr.attr)
        return None

    def constant(expr: ast.expr) -> str | None:
        return expr.value if isinstance(expr, ast.Constant) and isinstance(expr.value, str) else None

    if isinstance(node, ast.Subscript) and (ns := namespace(node.value)) is not None:
        key = constant(node.slice)
        if key is not None:
            known.names[ns].add(key)
        elif isinstance(node.ctx, ast.Store):
            known.computed.add(ns)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, receiver = node.func.attr, node.func.value
        first = constant(node.args[0]) if node.args else None
        if method in ("get", "setdefault", "pop") and (ns := namespace(receiver)) is not None and first:
            known.names[ns].add(first)
        elif method == "has" and first:
            known.names[Namespace.TAGS].add(first)
        elif method == "update" and (ns := namespace(receiver)) is not None:
            known.names[ns] |= {kw.arg for kw in node.keywords if kw.arg}
            for arg in node.args:
                if isinstance(arg, ast.Dict) and all(constant(k) for k in arg.keys if k is not None):
                    known.names[ns] |= {constant(k) for k in arg.keys if k is not None}  # type: ignore[misc]
                else:
                    known.computed.add(ns)
            if any(kw.arg is None for kw in node.keywords):
                known.computed.add(ns)


@dataclass(frozen=True, slots=True)
class FieldFinding:
    use: FieldUse
    error: bool
    said: Said

    @property
    def message(self) -> str:
        return str(self.said)


def check_use(use: FieldUse, known: KnownFields, persona: str) -> FieldFinding | None:
    """What is wrong with one field a script reads, if anything."""
    if use.namespace == Namespace.CUSTOMER:
        fields = customer_fields()
        if use.key in fields:
            return None
        close = difflib.get_close_matches(use.key, sorted(fields), n=1, cutoff=0.6)
        hint = says("lint.customer_field.close", close=close[0]) if close else says(
            "lint.customer_field.fields", fields=", ".join(f.name for f in dataclasses.fields(Customer)
                                                           if f.name != "budget"))
        return FieldFinding(use, True, says("lint.customer_field", key=use.key, hint=hint))
    names = known.names[use.namespace]
    if use.key in names:
        return None
    close = difflib.get_close_matches(use.key, sorted(names), n=1, cutoff=CLOSE)
    setter = {Namespace.ATTRS: "turn.set", Namespace.TAGS: "turn.tag", Namespace.COUNTERS: "turn.incr"}
    if close:
        computed = use.namespace in known.computed
        return FieldFinding(use, not computed, says("lint.field_close", field=str(use), persona=persona, close=close[0],
                                                    computed=says("lint.field_close.computed") if computed else ""))
    declare = {Namespace.ATTRS: "attributes", Namespace.TAGS: "tag_names", Namespace.COUNTERS: None}[use.namespace]
    how = says("lint.field_unset.declare", persona=persona, declare=declare) if declare else ""
    return FieldFinding(use, False, says("lint.field_unset", field=str(use), persona=persona,
                                         setter=setter[use.namespace], key=use.key, how=how))
