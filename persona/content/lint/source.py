"""The Python source analyser: where a bot says its scripts, with what, and in which states.

It reads the persona's own files (its class and its Persona base classes) with :mod:`ast`,
never runs them, and answers three questions for :mod:`.checks` and ``persona graph``: which
scripts are said where and with which keyword arguments (:meth:`Code.say_sites`), which names
are passed to ``trigger``/``schedule``/``cancel``/``dispatch`` (:meth:`Code.calls`), and which
keys ``context()`` returns (:meth:`Code.context_keys`).

It is a reader of ordinary bot code, not a type checker; these are its heuristics:

- a call counts when its receiver is a variable whose name ends in ``turn`` (``turn.say``,
  ``self_turn.trigger``); ``say`` counts on any receiver, ``render`` only on a ``...turn``;
  ``turn.state`` and ``turn.customer.state`` are the customer's state;
- a name is followed through literals, ``x if c else y``, assignments in the same function,
  ``for`` loops over a literal tuple/list/set, module-level constants, the callers of a helper
  (``self.name(...)``/``cls.name(...)`` for methods, ``name(...)`` for functions; calls with
  ``*args`` are skipped) and ``**`` spreads of dict literals, ``dict(...)`` and functions that
  return them;
- following stops at a depth of ``MAX_DEPTH`` (4) helpers, constants or returned dicts, and
  whatever is not followed is "cannot tell" (``None``), which no check ever reports on;
- states at a line: the handler's ``states=``, narrowed by enclosing ``if turn.state ==``/
  ``in``/``!=``/``not in`` tests and widened by the destinations of ``turn.trigger(...)``
  calls earlier in the same function.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ...model.persona import Persona, transition_spec
from .report import display
from .states import States, join, meet

#: keyword arguments of ``Turn.say`` that are not script variables
SAY_OPTIONS = frozenset({"to", "via", "category"})
#: how many helpers, constants or returned dicts deep a name is followed
MAX_DEPTH = 4


@dataclass
class Site:
    """One place a script is said, and what that place gives it (None: cannot tell)."""

    script: str
    file: str
    line: int
    given: frozenset[str] | None
    states: States = None  # the states the customer can be in when it is said (None: any)
    via: str = ""  # "from file:line" when the name came through a helper's caller
    #: each keyword argument's expression, and the frame it is read in (for its type)
    values: dict[str, tuple[ast.expr, "Frame"]] = field(default_factory=dict)


def line_of(obj: Any) -> int:
    """The line ``obj`` (a class or function) is defined on; 0 when it has no source."""
    try:
        return inspect.getsourcelines(obj)[1]
    except (TypeError, OSError):
        return 0


@dataclass
class Func:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    file: str
    method: bool  # defined in a class body: called as self.name(...)

    @property
    def params(self) -> list[str]:
        args = self.node.args
        names = [a.arg for a in (*args.posonlyargs, *args.args)]
        return names[1:] if self.method and names else names

    @property
    def kwonly(self) -> list[str]:
        return [a.arg for a in self.node.args.kwonlyargs]

    @property
    def kwarg(self) -> str | None:
        return self.node.args.kwarg.arg if self.node.args.kwarg else None


@dataclass
class Frame:
    """A function being read, with what its parameters were bound to by one caller."""

    func: Func | None
    bindings: dict[str, tuple[ast.expr, "Frame"]] = field(default_factory=dict)
    extra_keys: frozenset[str] | None = None  # the keywords a caller sent to **kwargs
    depth: int = 0
    caller: tuple[str, int] | None = None
    entry: States = None  # the states at the caller's call (for a frame with a caller)


@dataclass
class Call:
    method: str
    node: ast.Call
    frame: Frame
    file: str
    code: "Code"

    @property
    def line(self) -> int:
        return self.node.lineno

    def strings(self, index: int) -> set[str] | None:
        """The names this call can pass at ``index``, from every caller of a helper."""
        if len(self.node.args) <= index:
            return None
        values: set[str] = set()
        for frame in self.code._frames(self.frame.func, self.node):
            got = self.code.strings(self.node.args[index], frame)
            if got is None:
                return None
            values |= got
        return values


class Code:
    """The persona's source files (its class and its Persona base classes), parsed once."""

    def __init__(self, cls: type[Persona]) -> None:
        self.cls = cls
        self.funcs: dict[str, list[Func]] = {}
        self.trees: list[tuple[str, ast.Module]] = []
        self.owner: dict[int, Func] = {}
        self.parents: dict[int, ast.AST] = {}
        #: every call in the files by the name it calls (``x.name(...)`` or ``name(...)``), in order
        self.calls_to: dict[str, list[tuple[str, ast.Call]]] = {}
        self.constants: dict[str, ast.expr] = {}
        self.all_states = frozenset(cls.states)
        self.handlers = handler_states(cls)
        self.texts: list[tuple[str, list[str]]] = []
        files: list[str] = []
        for klass in cls.__mro__:
            if klass is Persona or not (isinstance(klass, type) and issubclass(klass, Persona)):
                continue
            path = inspect.getsourcefile(klass)
            if path and path not in files:
                files.append(path)
        for path in files:
            source = Path(path).read_text(encoding="utf-8")
            tree = ast.parse(source, filename=path)
            self.trees.append((display(path), tree))
            self.texts.append((display(path), source.splitlines()))
            self._index(display(path), tree)

    def _index(self, file: str, tree: ast.Module) -> None:
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[id(child)] = parent
            if isinstance(parent, ast.Call):
                target = parent.func
                callee = target.attr if isinstance(target, ast.Attribute) else (
                    target.id if isinstance(target, ast.Name) else None)
                if callee is not None:
                    self.calls_to.setdefault(callee, []).append((file, parent))
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.constants.setdefault(target.id, stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                self.constants.setdefault(stmt.target.id, stmt.value)
        def visit(node: ast.AST, owner: Func | None, in_class: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = owner
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    inner = Func(child, file, in_class)
                    self.funcs.setdefault(child.name, []).append(inner)
                if inner is not None:
                    self.owner[id(child)] = inner
                visit(child, inner, isinstance(child, ast.ClassDef))

        visit(tree, None, False)

    def line_of_text(self, needle: str) -> int:
        """The first line of the persona's own file containing ``needle`` (for class-level findings)."""
        own = display(inspect.getsourcefile(self.cls) or "")
        for file, lines in self.texts:
            if file == own:
                for number, text in enumerate(lines, 1):
                    if needle in text:
                        return number
        return 0

    # -- calls ---------------------------------------------------------------------------------
    def _method_calls(self, *methods: str) -> Iterator[tuple[str, ast.Call]]:
        for file, tree in self.trees:
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in methods and node.args):
                    receiver = node.func.value
                    if node.func.attr == "render":
                        if not (isinstance(receiver, ast.Name) and receiver.id.endswith("turn")):
                            continue
                    elif node.func.attr != "say" and not (isinstance(receiver, ast.Name)
                                                          and receiver.id.endswith("turn")):
                        continue
                    yield file, node

    def calls(self, *methods: str) -> Iterator[Call]:
        for file, node in self._method_calls(*methods):
            yield Call(node.func.attr, node, Frame(self.owner.get(id(node))), file, self)  # type: ignore[attr-defined]

    def say_sites(self) -> tuple[list[Site], list[tuple[str, int]]]:
        """Every place a script is said, and the say() calls whose script could not be followed."""
        sites: list[Site] = []
        dynamic: list[tuple[str, int]] = []
        for file, node in self._method_calls("say", "render"):
            method = node.func.attr  # type: ignore[attr-defined]
            func = self.owner.get(id(node))
            found = False
            for frame in self._frames(func, node):
                names = self.strings(node.args[0], frame)
                if names is None:
                    continue
                found = True
                given = self._given(node, frame, method)
                via = f"from {frame.caller[0]}:{frame.caller[1]}" if frame.caller else ""
                states = self.states_at(node, frame)
                values = {kw.arg: (kw.value, frame) for kw in node.keywords if kw.arg is not None}
                for name in sorted(names):
                    sites.append(Site(name, file, node.lineno, given, states, via, values))
            if not found:
                dynamic.append((file, node.lineno))
        return sites, dynamic

    def _given(self, node: ast.Call, frame: Frame, method: str) -> frozenset[str] | None:
        names = self._keywords(node.keywords, frame, skip=SAY_OPTIONS if method == "say" else frozenset())
        return None if names is None else frozenset(names)

    def _keywords(self, keywords: list[ast.keyword], frame: Frame,
                  skip: frozenset[str] | set[str] = frozenset()) -> set[str] | None:
        """The names ``keywords`` give (``**mapping`` unpacked), or None when they cannot be told."""
        names: set[str] = set()
        for kw in keywords:
            if kw.arg is None:
                keys = self.keys(kw.value, frame)
                if keys is None:
                    return None
                names |= keys
            elif kw.arg not in skip:
                names.add(kw.arg)
        return names

    def _frames(self, func: Func | None, node: ast.AST, depth: int = 0) -> list[Frame]:
        """One frame per caller when ``node`` reads the function's parameters; else one."""
        if func is None:
            return [Frame(None)]
        params = set(func.params) | set(func.kwonly) | ({func.kwarg} if func.kwarg else set())
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & params
        if not used or depth >= MAX_DEPTH:
            return [Frame(func, depth=depth)]
        frames = [f for f in self._caller_frames(func, depth)]
        return frames or [Frame(func, depth=depth)]

    def _caller_frames(self, func: Func, depth: int) -> Iterator[Frame]:
        name = func.node.name
        for file, call in self.calls_to.get(name, ()):
            target = call.func
            if func.method:
                if not (isinstance(target, ast.Attribute) and target.attr == name
                        and isinstance(target.value, ast.Name) and target.value.id in ("self", "cls")):
                    continue
            elif not (isinstance(target, ast.Name) and target.id == name):
                continue
            if any(isinstance(a, ast.Starred) for a in call.args):
                continue
            caller_func = self.owner.get(id(call))
            for caller in self._frames(caller_func, call, depth + 1):
                bindings: dict[str, tuple[ast.expr, Frame]] = {}
                for param, arg in zip(func.params, call.args):
                    bindings[param] = (arg, caller)
                extra: set[str] | None = set()
                for kw in call.keywords:
                    if kw.arg is None:
                        keys = self.keys(kw.value, caller)
                        extra = None if keys is None or extra is None else extra | keys
                    elif kw.arg in func.params or kw.arg in func.kwonly:
                        bindings[kw.arg] = (kw.value, caller)
                    elif extra is not None:
                        extra.add(kw.arg)
                yield Frame(func, bindings, frozenset(extra) if extra is not None else None,
                             depth + 1, (file, call.lineno), self.states_at(call, caller))

    # -- states --------------------------------------------------------------------------------
    def states_at(self, node: ast.AST, frame: Frame) -> States:
        """The states the customer may be in when ``node`` runs: the handler's ``states=`` (or
        the caller's states), narrowed by enclosing ``if turn.state ...`` tests and widened by
        the transitions triggered before it."""
        func = frame.func
        if func is None:
            return None
        states = frame.entry if frame.caller else self.handlers.get(func.node.name) if func.method else None
        steps: list[tuple[int, int, bool, States]] = []
        child, parent = node, self.parents.get(id(node))
        while parent is not None and parent is not func.node:
            if isinstance(parent, ast.If):
                true, false = self._condition(parent.test)
                if any(child is n for n in parent.body):
                    steps.append((parent.test.lineno, parent.test.col_offset, True, true))
                elif any(child is n for n in parent.orelse):
                    steps.append((parent.test.lineno, parent.test.col_offset, True, false))
            child, parent = parent, self.parents.get(id(parent))
        for call in ast.walk(func.node):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "trigger"
                    and call.args and self.owner.get(id(call)) is func
                    and (call.lineno, call.col_offset) < (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))):
                names = self.strings(call.args[0], frame)
                steps.append((call.lineno, call.col_offset, False, self._destinations(names)))
        for _, _, narrow, change in sorted(steps, key=lambda s: (s[0], s[1])):
            if narrow:
                states = change if states is None else states & change if change is not None else states
            else:
                states = None if states is None or change is None else states | change
        return states

    def bound_states(self, node: ast.AST, frame: Frame) -> States:
        """Where a timer scheduled at ``node`` is bound: the destinations of the transitions
        triggered before it in its function (the path on which they happened), otherwise the
        states it runs in."""
        func = frame.func
        if func is None:
            return None
        here = (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))
        last: tuple[tuple[int, int], States] | None = None
        for call in ast.walk(func.node):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "trigger"
                    and call.args and self.owner.get(id(call)) is func and (call.lineno, call.col_offset) < here):
                at = (call.lineno, call.col_offset)
                if last is None or at > last[0]:
                    last = (at, self._destinations(self.strings(call.args[0], frame)))
        return last[1] if last is not None else self.states_at(node, frame)

    def _destinations(self, triggers: set[str] | None) -> States:
        if triggers is None:
            return None
        dests: set[str] = set()
        for t in self.cls.transitions:
            spec = transition_spec(t, self.cls.__name__)
            if spec["trigger"] not in triggers:
                continue
            if spec["dest"] in ("=", None):
                source = spec["source"]
                if source == "*" or (isinstance(source, (list, tuple)) and "*" in source):
                    return None
                dests |= set([source] if isinstance(source, str) else source)
            else:
                dests.add(spec["dest"])
        return frozenset(dests)

    def _condition(self, test: ast.expr) -> tuple[frozenset[str], frozenset[str]]:
        """The states in which ``test`` may be true, and those in which it may be false."""
        everything = self.all_states
        if isinstance(test, ast.BoolOp):
            parts = [self._condition(v) for v in test.values]
            if isinstance(test.op, ast.And):
                return meet(p[0] for p in parts), join(p[1] for p in parts)
            return join(p[0] for p in parts), meet(p[1] for p in parts)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            true, false = self._condition(test.operand)
            return false, true
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, op, right = test.left, test.ops[0], test.comparators[0]
            if not _is_state(left) and _is_state(right) and isinstance(op, (ast.Eq, ast.NotEq)):
                left, right = right, left
            if _is_state(left):
                values = self._state_names(right)
                if values is not None:
                    if isinstance(op, (ast.Eq, ast.In)):
                        return values & everything, everything - values
                    if isinstance(op, (ast.NotEq, ast.NotIn)):
                        return everything - values, values & everything
        return everything, everything

    def _state_names(self, expr: ast.expr, depth: int = 0) -> frozenset[str] | None:
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return frozenset({expr.value})
        if isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
            names: set[str] = set()
            for element in expr.elts:
                inner = self._state_names(element.value if isinstance(element, ast.Starred) else element, depth)
                if inner is None:
                    return None
                names |= inner
            return frozenset(names)
        if isinstance(expr, ast.Name) and expr.id in self.constants and depth < MAX_DEPTH:
            return self._state_names(self.constants[expr.id], depth + 1)
        return None

    # -- values --------------------------------------------------------------------------------
    def strings(self, expr: ast.expr, frame: Frame) -> set[str] | None:
        """The string values ``expr`` can take, or None when it cannot be told from the source."""
        if isinstance(expr, ast.Constant):
            return {expr.value} if isinstance(expr.value, str) else None
        if isinstance(expr, ast.IfExp):
            a, b = self.strings(expr.body, frame), self.strings(expr.orelse, frame)
            return None if a is None or b is None else a | b
        if not isinstance(expr, ast.Name):
            return None
        name = expr.id
        if name in frame.bindings:
            bound, where = frame.bindings[name]
            return self.strings(bound, where)
        func = frame.func
        if func is None:
            return None
        if name in func.params or name in func.kwonly:
            return None  # a parameter no caller bound: said with whatever it is called with
        values: set[str] = set()
        found = False
        for node in ast.walk(func.node):
            if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                position = _target_position(node.target, name)
                if position is None:
                    continue
                found = True
                items = node.iter.elts if isinstance(node.iter, (ast.Tuple, ast.List, ast.Set)) else None
                if items is None:
                    return None
                for item in items:
                    value = item
                    for index in position:
                        if not isinstance(value, (ast.Tuple, ast.List)) or index >= len(value.elts):
                            return None
                        value = value.elts[index]
                    got = self.strings(value, frame)
                    if got is None:
                        return None
                    values |= got
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = True
                got = self.strings(node.value, frame)
                if got is None:
                    return None
                values |= got
        return values if found else None

    def keys(self, expr: ast.expr, frame: Frame) -> set[str] | None:
        """The keys of a dict given as ``**expr``, or None when they cannot be told."""
        if isinstance(expr, ast.Dict):
            return _literal_keys(expr, lambda value: self.keys(value, frame))
        if isinstance(expr, ast.Call):
            target = expr.func
            if isinstance(target, ast.Name) and target.id == "dict":
                keys = self._keywords(expr.keywords, frame)
                if keys is None:
                    return None
                if expr.args:
                    inner = self.keys(expr.args[0], frame)
                    if inner is None:
                        return None
                    keys |= inner
                return keys
            name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else None
            if name and frame.depth < MAX_DEPTH:
                return self._returned_keys(name, frame.depth + 1)
            return None
        if isinstance(expr, ast.Name):
            if expr.id in frame.bindings:
                bound, where = frame.bindings[expr.id]
                return self.keys(bound, where)
            func = frame.func
            if func is None:
                return None
            if expr.id == func.kwarg:
                return set(frame.extra_keys) if frame.extra_keys is not None else None
            keys = set()
            found = False
            for node in ast.walk(func.node):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id == expr.id:
                            found = True
                            inner = self.keys(node.value, frame)
                            if inner is None:
                                return None
                            keys |= inner
                        elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                              and target.value.id == expr.id and isinstance(target.slice, ast.Constant)):
                            keys.add(str(target.slice.value))
            return keys if found else None
        return None

    def _returned_keys(self, name: str, depth: int) -> set[str] | None:
        funcs = self.funcs.get(name)
        if not funcs:
            return None
        keys: set[str] = set()
        for func in funcs:
            returns = [n for n in ast.walk(func.node) if isinstance(n, ast.Return) and n.value is not None
                       and self.owner.get(id(n)) is func]
            if not returns:
                return None
            for ret in returns:
                assert ret.value is not None
                inner = self.keys(ret.value, Frame(func, depth=depth))
                if inner is None:
                    return None
                keys |= inner
        return keys

    def context_keys(self, start: type | None = None) -> set[str] | None:
        """The keys ``context()`` returns when they can be read from the source (None if not);
        ``**super().context(turn)`` is followed up the class hierarchy."""
        mro = self.cls.__mro__
        for klass in mro[mro.index(start) + 1 if start else 0:]:
            if "context" not in vars(klass):
                continue
            if klass is Persona:
                return set()
            line = line_of(vars(klass)["context"])
            funcs = [f for f in self.funcs.get("context", []) if f.method and f.node.lineno <= line
                     and line <= (f.node.end_lineno or line)]
            if len(funcs) != 1:
                return None
            keys: set[str] = set()
            for ret in (n for n in ast.walk(funcs[0].node) if isinstance(n, ast.Return)):
                if ret.value is None:
                    return None
                inner = self._context_return(ret.value, Frame(funcs[0]), klass)
                if inner is None:
                    return None
                keys |= inner
            return keys
        return set()

    def _context_return(self, expr: ast.expr, frame: Frame, klass: type) -> set[str] | None:
        if isinstance(expr, ast.Dict):
            return _literal_keys(expr, lambda value: self._context_return(value, frame, klass))
        if (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "context"
                and isinstance(expr.func.value, ast.Call) and isinstance(expr.func.value.func, ast.Name)
                and expr.func.value.func.id == "super"):
            return self.context_keys(start=klass)
        return self.keys(expr, frame)



def _is_state(expr: ast.expr) -> bool:
    """``turn.state`` or ``turn.customer.state``."""
    if not (isinstance(expr, ast.Attribute) and expr.attr == "state"):
        return False
    owner = expr.value
    if isinstance(owner, ast.Attribute) and owner.attr == "customer":
        owner = owner.value
    return isinstance(owner, ast.Name) and owner.id.endswith("turn")


def handler_states(cls: type[Persona]) -> dict[str, States]:
    """For each handler method, the states it runs in (None: any)."""
    routes = cls.routes
    found: dict[str, States] = {attr: None for attr in routes.rules}
    for route, attr in routes.entries():
        if attr in found and found[attr] is None:
            continue
        if route.states is None:
            found[attr] = None
        else:
            found[attr] = (found.get(attr) or frozenset()) | route.states
    return found


def _target_position(target: ast.expr, name: str) -> tuple[int, ...] | None:
    """Where ``name`` sits in a for-loop target: () for ``for name in``, (1,) for ``for _, name in``."""
    if isinstance(target, ast.Name):
        return () if target.id == name else None
    if isinstance(target, (ast.Tuple, ast.List)):
        for index, element in enumerate(target.elts):
            inner = _target_position(element, name)
            if inner is not None:
                return (index, *inner)
    return None


def _literal_keys(expr: ast.Dict, spread: Callable[[ast.expr], set[str] | None]) -> set[str] | None:
    """The string keys of a dict literal; ``spread`` tells the keys of each ``**value`` in it.
    None when some key cannot be told."""
    keys: set[str] = set()
    for key, value in zip(expr.keys, expr.values):
        if key is None:
            inner = spread(value)
            if inner is None:
                return None
            keys |= inner
        elif isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value)
        else:
            return None
    return keys


def fired_triggers(cls: type[Persona]) -> dict[str, frozenset[str] | None]:
    """For each method of the persona, the transitions it triggers, directly or through the
    helpers it calls on ``self`` (None when a trigger name is computed at run time).
    ``persona graph`` draws a timer that moves the customer as an edge to the new state."""
    code = Code(cls)
    direct: dict[str, set[str] | None] = {}
    for call in code.calls("trigger"):
        owner = code.owner.get(id(call.node))
        if owner is None:
            continue
        names = call.strings(0)
        known = direct.setdefault(owner.node.name, set())
        direct[owner.node.name] = None if names is None or known is None else known | names
    helpers: dict[str, set[str]] = {}
    for funcs in code.funcs.values():
        for func in funcs:
            helpers.setdefault(func.node.name, set()).update(
                n.func.attr for n in ast.walk(func.node)
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and isinstance(n.func.value, ast.Name) and n.func.value.id == "self")
    result: dict[str, frozenset[str] | None] = {}
    for name in helpers:
        seen, todo, fired = {name}, [name], set[str]()
        unknown = False
        while todo:
            current = todo.pop()
            got = direct.get(current, set())
            if got is None:
                unknown = True
            else:
                fired |= got
            for callee in helpers.get(current, ()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        result[name] = None if unknown else frozenset(fired)
    return result



def scheduled_states(cls: type[Persona]) -> dict[str, frozenset[str] | None]:
    """For each timer the persona schedules by hand, the states it is bound to: the state the
    customer is in at each ``turn.schedule(...)`` (after the transitions triggered before it);
    None when one call is unbound (``bound=False``) or its state cannot be told.
    ``persona graph`` draws such a timer on those states, not as one of "any state"."""
    code = Code(cls)
    found: dict[str, frozenset[str] | None] = {}
    for call in code.calls("schedule"):
        names = call.strings(0)
        if names is None:
            continue
        unbound = any(kw.arg == "bound" and not (isinstance(kw.value, ast.Constant) and kw.value.value is True)
                      for kw in call.node.keywords)
        states = None if unbound else code.bound_states(call.node, call.frame)
        for name in names:
            known = found.get(name, frozenset())
            found[name] = None if states is None or known is None else known | states
    return found
