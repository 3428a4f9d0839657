"""The shape of the values a bot passes to its scripts, and the keys its scripts read from them.

``turn.say("order_thanks", order=order)`` passes a dict or an object; the script reads
``{{ order.total }}``. A misspelt key (``order.totl``) is nothing lint could see from the names
alone, and at run time it fails for every customer who reaches the script. So the shape of
each value is learnt where the bot already says it:

- from the types in the code: the annotation of a parameter or variable passed, or the return
  annotation of the function or method whose call is passed (``cat.coupon(code) -> Coupon``);
  a ``TypedDict``, a dataclass, a pydantic-style model (``model_fields``) or a class with
  ``__slots__`` has known keys (any other class may set attributes in ``__init__``), and
  ``list[Row]`` items have Row's;
- from the bot's samples (``samples/*.json``, the sample customers a preview offers): a value
  given there has the keys the sample shows.

A key a script reads from a value whose shape is known, and that the shape does not have, is
an error with "did you mean". A value whose shape is not known (``dict[str, Any]``, a call
nobody annotated) is not checked: lint does not guess.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import sys
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes as jn

from ...model.wording import Said, says
from .source import Code, Frame, Func

#: a step into a sequence's items (``{% for row in rows %}``)
ITEM = "[]"
#: attributes a script may call on a mapping or a sequence: keys only where the shape has them
METHODS = frozenset({"get", "items", "keys", "values", "setdefault", "pop", "update", "copy", "append",
                     "index", "count"})
#: modules whose types are leaves to lint: their values are read through methods and filters
LEAF_MODULES = frozenset({"builtins", "datetime", "decimal", "fractions", "pathlib", "uuid"})


@dataclass(frozen=True)
class Shape:
    """What a value holds: its keys, each with its own shape (None: not known), or, for a
    sequence, the shape of its items. ``source`` says where the shape was learnt."""

    keys: Mapping[str, "Shape | None"] | None = None
    item: "Shape | None" = None
    source: str = ""

    def step(self, key: str) -> tuple[bool, "Shape | None"]:
        """Whether ``key`` is known here, and the shape behind it."""
        if key == ITEM:
            return self.item is not None or self.keys is None, self.item
        if self.keys is None:
            return True, None
        if key not in self.keys and key in METHODS:  # order.items: a field if there is one, else the method
            return True, None
        return key in self.keys, self.keys.get(key)


def merge(a: Shape | None, b: Shape | None) -> Shape | None:
    """A value that is sometimes ``a`` and sometimes ``b``: a key either has is known."""
    if a is None or b is None:
        return a or b
    keys: dict[str, Shape | None] | None = None
    if a.keys is not None and b.keys is not None:
        keys = {k: merge(a.keys.get(k), b.keys.get(k)) for k in {*a.keys, *b.keys}}
    elif a.keys is not None or b.keys is not None:
        keys = dict(a.keys or b.keys or {})
    sources = " and ".join(s for s in dict.fromkeys((a.source, b.source)) if s)
    return Shape(keys, merge(a.item, b.item), sources)


# -- from types ----------------------------------------------------------------------------
def from_type(hint: Any, depth: int = 0) -> Shape | None:
    """The shape a value of type ``hint`` has (None: not one lint can know)."""
    if depth > 6 or hint is None or hint is Any:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        shapes = [from_type(arg, depth + 1) for arg in typing.get_args(hint) if arg is not type(None)]
        if any(s is None for s in shapes):
            return None
        found: Shape | None = None
        for shape in shapes:
            found = merge(found, shape)
        return found
    if origin is typing.Annotated:
        return from_type(typing.get_args(hint)[0], depth + 1)
    if origin in (list, tuple, set, frozenset) or (isinstance(origin, type) and origin is not dict
                                                     and issubclass(origin, Iterable)
                                                     and not issubclass(origin, Mapping)):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        item = from_type(args[0], depth + 1) if args else None
        return Shape(item=item, source=_name(hint)) if item is not None else None
    if not isinstance(hint, type) or hint.__module__ in LEAF_MODULES:
        return None
    try:
        hints = typing.get_type_hints(hint)
    except Exception:  # an annotation that does not evaluate: not a shape lint can know
        return None
    if typing.is_typeddict(hint):
        keys = dict(hints)
    elif dataclasses.is_dataclass(hint) or hasattr(hint, "model_fields") or "__slots__" in vars(hint):
        # classes whose fields are all declared; any other may set attributes in __init__
        keys = {**dict.fromkeys(n for n in dir(hint) if not n.startswith("_")), **hints}
        keys.update(dict.fromkeys(getattr(hint, "model_fields", None) or ()))
    else:
        return None
    return Shape({k: from_type(v, depth + 1) if v is not None else None for k, v in keys.items()},
                 source=_name(hint))


def _name(hint: Any) -> str:
    module = getattr(hint, "__module__", "")
    return f"{getattr(hint, '__qualname__', str(hint))}" + (f" ({module})" if module not in LEAF_MODULES else "")


# -- from samples --------------------------------------------------------------------------
def from_value(value: Any, source: str) -> Shape | None:
    """The shape of a sample's value (a JSON document)."""
    if isinstance(value, dict):
        return Shape({str(k): from_value(v, source) for k, v in value.items()}, source=source)
    if isinstance(value, list):
        item: Shape | None = None
        for element in value:
            item = merge(item, from_value(element, source))
        return Shape(item=item, source=source) if item is not None else None
    return None


# -- from the code -------------------------------------------------------------------------
class Resolver:
    """The types of the expressions a bot passes, read with the bot's own imported modules
    (lint imports the bot to check it; nothing is called)."""

    def __init__(self, code: Code) -> None:
        self.code = code
        self.cls = code.cls

    def shape(self, expr: ast.expr, frame: Frame, depth: int = 0) -> Shape | None:
        if depth > 4:
            return None
        if isinstance(expr, ast.Call):
            target = self._callable(expr.func, frame.func)
            if isinstance(target, type):
                return from_type(target)
            return from_type(_hints(target).get("return")) if target is not None else None
        if isinstance(expr, ast.Name):
            if expr.id in frame.bindings:  # a helper's parameter, bound by its caller
                bound, caller = frame.bindings[expr.id]
                return self.shape(bound, caller, depth + 1)
            func = frame.func
            if func is None:
                return None
            if expr.id in (*func.params, *func.kwonly):
                return from_type(_hints(self._runtime(func)).get(expr.id))
            for stmt in _assignments(func, expr.id, expr.lineno):
                if isinstance(stmt, ast.AnnAssign):
                    return from_type(self._evaluate(stmt.annotation, func))
                if stmt.value is not None:
                    return self.shape(stmt.value, frame, depth + 1)
        return None

    def _globals(self, func: Func | None) -> dict[str, Any]:
        module = sys.modules.get(self.cls.__module__)
        for klass in self.cls.__mro__:
            if func is not None and func.node.name in vars(klass):
                module = sys.modules.get(klass.__module__)
                break
        return vars(module) if module is not None else {}

    def _runtime(self, func: Func) -> Any:
        return getattr(self.cls, func.node.name, None) if func.method else self._globals(func).get(func.node.name)

    def _callable(self, target: ast.expr, func: Func | None) -> Any:
        if isinstance(target, ast.Name):
            return self._globals(func).get(target.id)
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            owner = self.cls if target.value.id in ("self", "cls") else self._globals(func).get(target.value.id)
            if owner is None:
                return None
            found = getattr(owner, target.attr, None)
            return found if callable(found) else None
        return None

    def _evaluate(self, annotation: ast.expr, func: Func) -> Any:
        try:  # the bot's own annotation, in its own module (as typing.get_type_hints does)
            return eval(compile(ast.Expression(annotation), "<annotation>", "eval"), self._globals(func))
        except Exception:
            return None


def _hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:
        return {}


def _assignments(func: Func, name: str, before: int) -> Iterator[ast.Assign | ast.AnnAssign]:
    """Assignments to ``name`` in ``func`` above line ``before``, the nearest first."""
    found: list[ast.Assign | ast.AnnAssign] = []
    for node in ast.walk(func.node):
        if isinstance(node, ast.Assign) and node.lineno < before and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            found.append(node)
        elif (isinstance(node, ast.AnnAssign) and node.lineno < before and isinstance(node.target, ast.Name)
              and node.target.id == name):
            found.append(node)
    yield from sorted(found, key=lambda n: -n.lineno)


# -- what a script reads -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyUse:
    """``variable`` read along ``path`` on ``line`` (``offer.title``: offer, ("title",))."""

    variable: str
    path: tuple[str, ...]
    line: int

    def show(self, upto: int | None = None) -> str:
        steps = self.path if upto is None else self.path[:upto]
        return self.variable + "".join("[...]" if s == ITEM else f".{s}" for s in steps)


def key_uses(tree: jn.Template, outside: set[str]) -> list[KeyUse]:
    """Every key path ``tree`` reads from a variable it gets from outside, loop variables
    followed to the items of what they loop over."""
    uses: list[KeyUse] = []
    walk(tree, {name: (name, ()) for name in outside}, uses)
    return sorted(set(uses), key=lambda u: (u.line, u.variable, u.path))


def walk(node: jn.Node, scope: dict[str, tuple[str, tuple[str, ...]]], uses: list[KeyUse]) -> None:
    if isinstance(node, jn.For):
        walk(node.iter, scope, uses)
        inner = dict(scope)
        root = _path(node.iter, scope)
        for target in _names(node.target):  # a loop variable hides an outside one
            inner.pop(target, None)
        if root is not None and isinstance(node.target, jn.Name):
            inner[node.target.name] = (root[0], (*root[1], ITEM))
        for child in (*node.body, *node.else_):
            walk(child, inner, uses)
        if node.test is not None:
            walk(node.test, inner, uses)
        return
    if isinstance(node, (jn.Getattr, jn.Getitem)):
        found = _path(node, scope)
        if found is not None and found[1]:
            uses.append(KeyUse(found[0], found[1], node.lineno))
            return
    if isinstance(node, (jn.Macro, jn.CallBlock)):
        return  # their arguments shadow names; not followed
    for child in node.iter_child_nodes():
        walk(child, scope, uses)


def _names(target: jn.Node) -> list[str]:
    if isinstance(target, jn.Name):
        return [target.name]
    if isinstance(target, jn.Tuple):
        return [n for item in target.items for n in _names(item)]
    return []


def _path(expr: jn.Node, scope: dict[str, tuple[str, tuple[str, ...]]]) -> tuple[str, tuple[str, ...]] | None:
    """``(variable, keys)`` when ``expr`` reads keys off an outside variable (a method's name is a
    step too: :meth:`Shape.step` tells it from a key)."""
    if isinstance(expr, jn.Name):
        return scope.get(expr.name)
    if isinstance(expr, jn.Getattr):
        inner = _path(expr.node, scope)
        return None if inner is None else (inner[0], (*inner[1], expr.attr))
    if isinstance(expr, jn.Getitem):
        inner = _path(expr.node, scope)
        if inner is None:
            return None
        if isinstance(expr.arg, jn.Const) and isinstance(expr.arg.value, str):
            return inner[0], (*inner[1], expr.arg.value)
        if isinstance(expr.arg, jn.Const) and isinstance(expr.arg.value, int):
            return inner[0], (*inner[1], ITEM)
        return None
    return None


# -- the check -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Unknown:
    """A key the shape of its value does not have."""

    use: KeyUse
    at: int  # the index in the path of the key not found
    shape: Shape

    @property
    def said(self) -> Said:
        key = self.use.path[self.at]
        keys = sorted(k for k in (self.shape.keys or {}) if not k.startswith("_"))
        close = difflib.get_close_matches(key, keys, n=1)
        fix = (says("lint.key_unknown.close", suggestion=f"{self.use.show(self.at)}.{close[0]}") if close else
               says("lint.key_unknown.keys", keys=", ".join(keys[:12]) + (", ..." if len(keys) > 12 else ""))
               if keys else says("lint.key_unknown.none"))
        return says("lint.key_unknown", path=self.use.show(self.at + 1), owner=self.use.show(self.at), key=key,
                    source=self.shape.source or "the code", fix=fix)

    @property
    def message(self) -> str:
        return str(self.said)


def unknown_keys(uses: Iterable[KeyUse], shapes: Mapping[str, Shape | None]) -> list[Unknown]:
    """The uses that read a key their value's shape does not have."""
    found: list[Unknown] = []
    for use in uses:
        shape = shapes.get(use.variable)
        for index, key in enumerate(use.path):
            if shape is None:
                break
            known, behind = shape.step(key)
            if not known:
                found.append(Unknown(use, index, shape))
                break
            shape = behind
    return found


@dataclass
class Shapes:
    """The shapes the bot's samples show for the values they give, each sample for the scripts
    it is for (all of them, unless it names some)."""

    samples: list[tuple[frozenset[str] | None, dict[str, Shape | None]]] = field(default_factory=list)

    def add_sample(self, name: str, variables: Mapping[str, Any], scripts: frozenset[str] | None = None) -> None:
        self.samples.append((scripts, {v: from_value(value, f"samples/{name}.json") for v, value in variables.items()}))

    def for_script(self, script: str) -> dict[str, Shape | None]:
        """What the samples meant for ``script`` show, merged."""
        found: dict[str, Shape | None] = {}
        for scripts, shapes in self.samples:
            if scripts is None or script in scripts:
                for variable, shape in shapes.items():
                    found[variable] = merge(found.get(variable), shape)
        return found
