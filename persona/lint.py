"""Static checks of a bot: what ``persona lint`` reports, reusable from tests and editors.

A script that does not parse, a variable a script uses but nobody gives it, a script said in
code but missing on disk, a state no customer can ever enter, a timer scheduled by a name no
handler answers: each surfaces here as a :class:`Problem` with a ``file:line`` to fix, before
a customer ever meets it.

What a script receives is read from the bot's source: every ``turn.say("name", ...)`` and
``turn.render("name", ...)`` call is found with :mod:`ast`, and the keyword arguments it passes
are added to what every script gets (``customer``, ``tags``, ``attrs``, ``counters``, ``now``,
``data``, ``state``) and to the persona's ``context()`` keys. A script said in several places
must be satisfied by each of them. Script names passed through a helper
(``def offer(self, turn, script): turn.say(script, ...)``) are followed to its callers.

States count on both sides: a variable used only under ``{% if state == "choosing" %}`` is
needed only where the script can be said in ``choosing`` — a handler's ``states=``, narrowed
by ``if turn.state ...`` around the call and widened by the transitions triggered before it.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import jinja2
from jinja2 import meta
from jinja2 import nodes as jn

from .customer import Customer
from .errors import DefinitionError, PersonaError
from .inputs import BusinessEvent
from .messages import KINDS, TEXT_LIMIT_BYTES
from .persona import Persona, transition_spec, load_persona
from .templates import SUFFIX, ScriptBook
from .turn import Turn

ERROR, WARNING = "error", "warning"

#: what every script is given by :meth:`persona.turn.Turn.render`
BASE_VARIABLES = frozenset({"customer", "tags", "attrs", "counters", "now", "data", "state"})
#: keyword arguments of ``Turn.say`` that are not script variables
SAY_OPTIONS = frozenset({"to", "via", "category"})
#: fixed text above this leaves little room for what the variables add
TEXT_MARGIN_BYTES = 256
_JINJA_SPECIAL = frozenset({"loop", "caller", "varargs", "kwargs", "self"})
_CALLBACK_KEYS = ("conditions", "unless", "before", "after", "prepare")
_MAX_DEPTH = 4

#: a set of state names; None means any state
States = frozenset[str] | None


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, printable as ``file:line: severity: message``."""

    file: str
    line: int
    severity: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.message}"


@dataclass
class Report:
    """Everything ``lint`` found for one bot."""

    bot: str
    problems: list[Problem] = field(default_factory=list)
    persona: type[Persona] | None = None
    scripts: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    def add(self, severity: str, file: str | Path, line: int | None, message: str) -> None:
        self.problems.append(Problem(display(file), line or 0, severity, message))


def display(path: str | Path) -> str:
    """A path as short as it can be said from here (relative to the working directory)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


# -- loading ---------------------------------------------------------------------------------
def lint(bot: str | type[Persona]) -> Report:
    """Check one bot (an import path such as ``bots.xiaowanzi``, or a Persona class).

    Raises :class:`~persona.errors.PersonaError` only when there is no such bot to check;
    everything wrong with a bot that exists is a problem in the report.
    """
    report = Report(bot if isinstance(bot, str) else f"{bot.__module__}:{bot.__qualname__}")
    cls = bot if not isinstance(bot, str) else _import(bot, report)
    if cls is None:
        return report
    report.persona = cls
    _Linter(cls, report).run()
    report.problems.sort()
    return report


def _import(path: str, report: Report) -> type[Persona] | None:
    module_name = path.partition(":")[0]
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise PersonaError(f"cannot import bot {module_name!r}: no module named {exc.name!r} "
                               "(run from the folder that holds it, or set PYTHONPATH)") from None
        _import_problem(exc, report)
        return None
    except SyntaxError as exc:
        report.add(ERROR, exc.filename or module_name, exc.lineno, f"syntax error: {exc.msg}")
        return None
    except Exception as exc:  # DefinitionError from the class checks, or the bot's own bug
        _import_problem(exc, report)
        return None
    try:
        return load_persona(path)
    except DefinitionError as exc:
        raise PersonaError(str(exc)) from None


def _import_problem(exc: BaseException, report: Report) -> None:
    """Point at the bot's own line the import failed on (the class statement, usually)."""
    ours = Path(__file__).resolve().parent
    file, line = report.bot, 0
    for frame in traceback.extract_tb(exc.__traceback__):
        name = Path(frame.filename)
        if frame.filename.startswith("<") or ours in name.resolve().parents:
            continue
        if "site-packages" in name.parts or "importlib" in frame.filename:
            continue
        file, line = frame.filename, frame.lineno or 0
    what = str(exc) if isinstance(exc, PersonaError) else f"{type(exc).__name__}: {exc}"
    named = re.match(r"\w+\.(\w+): ", what) if isinstance(exc, DefinitionError) else None
    if named and Path(file).is_file():  # "Shop.ordered: states= names unknown state...": the handler's line
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == named.group(1):
                line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                break
    report.add(ERROR, file, line, f"the bot does not import: {what}")


class _LenientBook(ScriptBook):
    """A ScriptBook that does not refuse a folder with broken scripts: lint reports them."""

    def reload(self) -> None:
        pass


# -- the checks --------------------------------------------------------------------------------
@dataclass
class _Script:
    name: str
    path: Path
    tree: jn.Template | None = None
    #: variable -> [(line, states it is used in; None = any)]
    uses: dict[str, list[tuple[int, States]]] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)
    includes: set[str] = field(default_factory=set)
    kind: str | None = None
    kind_line: int = 0


@dataclass
class _Site:
    """One place a script is said, and what that place gives it (None: cannot tell)."""

    script: str
    file: str
    line: int
    given: frozenset[str] | None
    states: States = None  # the states the customer can be in when it is said (None: any)
    via: str = ""  # "from file:line" when the name came through a helper's caller


class _Linter:
    def __init__(self, cls: type[Persona], report: Report) -> None:
        self.cls = cls
        self.report = report
        self.source_file = Path(inspect.getsourcefile(cls) or cls.folder() / "persona.py")
        self.folder = cls.folder() / cls.scripts_dir
        self.book = _LenientBook(self.folder)
        self.code = _Code(cls)

    def run(self) -> None:
        if not self.folder.is_dir():
            self.report.add(ERROR, self.folder, 0, "the scripts folder does not exist")
        scripts = self._scripts()
        self.report.scripts = len(scripts)
        sites, dynamic = self.code.say_sites()
        context = self._context()
        self._check_sites(scripts, sites, context, dynamic)
        self._check_machine()
        self._check_calls()

    # -- scripts -------------------------------------------------------------------------------
    def _scripts(self) -> dict[str, _Script]:
        broken: set[str] = set()
        for problem in self.book.problems():
            name = problem.template or ""
            broken.add(name)
            message = str(problem).split(": ", 1)[-1] if " line " in str(problem) else str(problem)
            self.report.add(ERROR, self.folder / f"{name}{SUFFIX}", problem.line, message)
        scripts: dict[str, _Script] = {}
        for name in self.book.names():
            path = self.folder / f"{name}{SUFFIX}"
            script = _Script(name, path)
            scripts[name] = script
            if name in broken:
                continue
            try:
                script.tree = self.book.env.parse(self.book.source(name), name=name + SUFFIX,
                                                  filename=str(path))
            except jinja2.TemplateSyntaxError:
                continue  # reported by problems()
            self._read_script(script)
        return scripts

    def _read_script(self, script: _Script) -> None:
        tree = script.tree
        assert tree is not None
        declared = meta.find_undeclared_variables(tree) - _JINJA_SPECIAL
        for name, line, states in _template_uses(tree, declared, frozenset(self.cls.states)):
            script.uses.setdefault(name, []).append((line, states))
        for node in tree.find_all(jn.Test):
            if node.name in ("defined", "undefined") and isinstance(node.node, jn.Name):
                script.optional.add(node.node.name)
        for node in tree.find_all(jn.Filter):
            if node.name in ("default", "d") and isinstance(node.node, jn.Name):
                script.optional.add(node.node.name)
        for ref in meta.find_referenced_templates(tree):
            if ref:
                script.includes.add(ref[: -len(SUFFIX)] if ref.endswith(SUFFIX) else ref)
        for node in tree.body:
            if (isinstance(node, jn.Assign) and isinstance(node.target, jn.Name)
                    and node.target.name == "kind" and isinstance(node.node, jn.Const)):
                script.kind, script.kind_line = str(node.node.value), node.lineno
        if script.kind is not None and script.kind not in KINDS:
            self.report.add(ERROR, script.path, script.kind_line,
                            f"kind {script.kind!r} is not one of {', '.join(KINDS)}")
        if script.kind in (None, "text"):
            fixed = _fixed_bytes(tree.body)
            if fixed > TEXT_LIMIT_BYTES:
                self.report.add(ERROR, script.path, 1,
                                f"its longest branch has {fixed} bytes of fixed text; WeChat allows "
                                f"{TEXT_LIMIT_BYTES} bytes in a text message: shorten it or split it")
            elif fixed > TEXT_LIMIT_BYTES - TEXT_MARGIN_BYTES:
                self.report.add(WARNING, script.path, 1,
                                f"its longest branch has {fixed} bytes of fixed text, leaving "
                                f"{TEXT_LIMIT_BYTES - fixed} of WeChat's {TEXT_LIMIT_BYTES} for the variables")

    def _needs(self, scripts: dict[str, _Script], name: str, states: States,
               seen: frozenset[str] = frozenset()) -> Iterator[tuple[_Script, str, int]]:
        """Every variable ``name`` needs from whoever says it in ``states``, with the line it is
        first used on (included scripts see the includer's variables, so their needs are the
        includer's)."""
        script = scripts.get(name)
        if script is None or name in seen:
            return
        for variable, uses in script.uses.items():
            if variable in script.optional:
                continue
            lines = [line for line, where in uses if states is None or where is None or states & where]
            if lines:
                yield script, variable, min(lines)
        for included in sorted(script.includes):
            yield from self._needs(scripts, included, states, seen | {name})

    def _context(self) -> frozenset[str] | None:
        keys = self.code.context_keys()
        if keys is not None:
            return frozenset(keys)
        try:  # not written as a dict literal: ask it, for a sample customer
            persona = self.cls(scripts=self.book)
            customer = Customer("lint:sample", self.cls.initial)
            turn = Turn(persona, customer, BusinessEvent(user=customer.id, name="lint"), time.time())
            return frozenset(persona.context(turn))
        except Exception as exc:
            line = _line_of(getattr(self.cls, "context", None))
            self.report.add(WARNING, self.source_file, line,
                            f"context() failed for a sample customer ({type(exc).__name__}: {exc}); "
                            "variables it gives cannot be checked")
            return None

    def _check_sites(self, scripts: dict[str, _Script], sites: list[_Site], context: frozenset[str] | None,
                     dynamic: list[tuple[str, int]]) -> None:
        said = {s.script for s in sites}
        fallback = self.cls.policy.fallback_template
        if fallback:
            sites = [*sites, _Site(fallback, display(self.source_file), _line_of(self.cls),
                                   frozenset({"original"}), "Policy.fallback_template")]
        missing_reported: set[tuple[str, str, str, int]] = set()
        for site in sites:
            if site.script not in scripts:
                via = f" ({site.via})" if site.via else ""
                self.report.add(ERROR, site.file, site.line,
                                f"script {site.script!r} is said here{via} but "
                                f"{display(self.folder / (site.script + SUFFIX))} does not exist"
                                f"{_suggest(site.script, scripts)}")
                continue
            if site.given is None or context is None:
                continue
            given = BASE_VARIABLES | context | site.given
            for script, variable, line in self._needs(scripts, site.script, site.states):
                if variable in given or (script.name, variable, site.file, site.line) in missing_reported:
                    continue
                missing_reported.add((script.name, variable, site.file, site.line))
                where = f"{site.file}:{site.line}" + (f" ({site.via})" if site.via else "")
                if site.states is not None and site.states != frozenset(self.cls.states):
                    where += f" (in state {', '.join(sorted(site.states))})"
                included = f" (included by {site.script}{SUFFIX})" if script.name != site.script else ""
                self.report.add(ERROR, script.path, line,
                                f"{variable!r} is not given where this script is said{included} at {where}; "
                                f"pass {variable}=... there, add it to context(), or guard it with "
                                f"'{{% if {variable} is defined %}}'")
        included = {i for s in scripts.values() for i in s.includes}
        for name, script in sorted(scripts.items()):
            if name in said or name in included or name == fallback:
                continue
            hint = ""
            if dynamic:
                places = ", ".join(f"{display(f)}:{n}" for f, n in dynamic[:3])
                hint = f" (script names computed at {places} could not be followed)"
            self.report.add(WARNING, script.path, 0, f"script {name!r} is never said by the persona{hint}")

    # -- the state machine --------------------------------------------------------------------
    def _check_machine(self) -> None:
        cls = self.cls
        states = list(cls.states)
        edges: dict[str, set[str]] = {s: set() for s in states}
        line = _line_of(cls)
        for t in cls.transitions:
            spec = transition_spec(t, cls.__name__)
            sources = spec["source"] if isinstance(spec["source"], (list, tuple)) else [spec["source"]]
            sources = states if "*" in sources else sources
            for source in sources:
                dest = source if spec["dest"] in ("=", None) else spec["dest"]
                edges.setdefault(source, set()).add(dest)
            for key in _CALLBACK_KEYS:
                names = spec.get(key) or []
                for name in [names] if isinstance(names, str) else names:
                    if isinstance(name, str) and not callable(getattr(cls, name, None)):
                        self.report.add(ERROR, self.source_file, self.code.line_of_text(repr(name)[1:-1]) or line,
                                        f"transition {spec['trigger']!r}: {key}={name!r} is not a method of "
                                        f"{cls.__name__}")
        reached, todo = {cls.initial}, [cls.initial]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        for state in states:
            if state not in reached:
                self.report.add(ERROR, self.source_file, self.code.line_of_text(f'"{state}"') or line,
                                f"state {state!r} cannot be reached from the initial state {cls.initial!r}: "
                                "no transition leads to it")
        for attr in dir(cls):
            for moment in ("on_enter_", "on_exit_"):
                if attr.startswith(moment) and callable(getattr(cls, attr)) and attr[len(moment):] not in states:
                    self.report.add(WARNING, self.source_file, _line_of(getattr(cls, attr)),
                                    f"{attr} is never called: {attr[len(moment):]!r} is not a state")

    def _check_calls(self) -> None:
        cls = self.cls
        triggers = set(cls.triggers)
        timers = set(cls.routes.timer)
        events = set(cls.routes.event)
        fired: set[str] = set()
        dynamic_triggers = False
        for call in self.code.calls("trigger", "schedule", "cancel", "dispatch"):
            index = 1 if call.method == "dispatch" else 0
            names = call.strings(index)
            if names is None:
                dynamic_triggers |= call.method == "trigger"
                continue
            for name in names:
                if call.method == "trigger":
                    fired.add(name)
                    if name not in triggers:
                        self.report.add(ERROR, call.file, call.line,
                                        f"trigger {name!r} is not a transition of {cls.__name__}"
                                        f"{_suggest(name, triggers)}")
                elif call.method == "schedule" and name not in timers:
                    self.report.add(ERROR, call.file, call.line,
                                    f"timer {name!r} is scheduled but has no @on.timer({name!r}) handler"
                                    f"{_suggest(name, timers)}")
                elif call.method == "cancel" and name not in timers:
                    self.report.add(WARNING, call.file, call.line,
                                    f"timer {name!r} is cancelled but has no @on.timer({name!r}) handler"
                                    f"{_suggest(name, timers)}")
                elif call.method == "dispatch" and name not in events:
                    self.report.add(ERROR, call.file, call.line,
                                    f"event {name!r} is dispatched but has no @on.event({name!r}) handler"
                                    f"{_suggest(name, events)}")
        if not dynamic_triggers:
            for name in sorted(triggers - fired):
                self.report.add(WARNING, self.source_file, self.code.line_of_text(f'"{name}"') or _line_of(cls),
                                f"transition {name!r} is never triggered (no turn.trigger({name!r}))")


def fired_triggers(cls: type[Persona]) -> dict[str, frozenset[str] | None]:
    """For each method of the persona, the transitions it triggers, directly or through the
    helpers it calls on ``self`` (None when a trigger name is computed at run time).
    ``persona graph`` draws a timer that moves the customer as an edge to the new state."""
    code = _Code(cls)
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
        seen, todo, fired = {name}, [name], set()  # type: ignore[var-annotated]
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


def _suggest(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'order_status'?`` or the known names, briefly."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    if not names:
        return " (there are none)"
    listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f" (known: {listed})"


def _fixed_bytes(body: list[jn.Node]) -> int:
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
            branches = [node.body, *([e] for e in node.elif_), node.else_]
            total += max(_fixed_bytes(b) for b in branches)
        elif isinstance(node, (jn.For, jn.Macro, jn.CallBlock, jn.FilterBlock)):
            continue
        elif hasattr(node, "body") and isinstance(getattr(node, "body"), list):
            total += _fixed_bytes(node.body)
    return total


def _line_of(obj: Any) -> int:
    try:
        return inspect.getsourcelines(obj)[1]
    except (TypeError, OSError):
        return 0


# -- reading the bot's source ------------------------------------------------------------------
@dataclass
class _Func:
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
class _Frame:
    """A function being read, with what its parameters were bound to by one caller."""

    func: _Func | None
    bindings: dict[str, tuple[ast.expr, "_Frame"]] = field(default_factory=dict)
    extra_keys: frozenset[str] | None = None  # the keywords a caller sent to **kwargs
    depth: int = 0
    caller: tuple[str, int] | None = None
    entry: States = None  # the states at the caller's call (for a frame with a caller)


@dataclass
class _Call:
    method: str
    node: ast.Call
    frame: _Frame
    file: str
    code: "_Code"

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


class _Code:
    """The persona's source files (its class and its Persona base classes), parsed once."""

    def __init__(self, cls: type[Persona]) -> None:
        self.cls = cls
        self.funcs: dict[str, list[_Func]] = {}
        self.trees: list[tuple[str, ast.Module]] = []
        self.owner: dict[int, _Func] = {}
        self.parents: dict[int, ast.AST] = {}
        self.constants: dict[str, ast.expr] = {}
        self.all_states = frozenset(cls.states)
        self.handlers = _handler_states(cls)
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
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.constants.setdefault(target.id, stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                self.constants.setdefault(stmt.target.id, stmt.value)
        def visit(node: ast.AST, owner: _Func | None, in_class: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inner = owner
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    inner = _Func(child, file, in_class)
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

    def calls(self, *methods: str) -> Iterator[_Call]:
        for file, node in self._method_calls(*methods):
            yield _Call(node.func.attr, node, _Frame(self.owner.get(id(node))), file, self)  # type: ignore[attr-defined]

    def say_sites(self) -> tuple[list[_Site], list[tuple[str, int]]]:
        """Every place a script is said, and the say() calls whose script could not be followed."""
        sites: list[_Site] = []
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
                for name in sorted(names):
                    sites.append(_Site(name, file, node.lineno, given, states, via))
            if not found:
                dynamic.append((file, node.lineno))
        return sites, dynamic

    def _given(self, node: ast.Call, frame: _Frame, method: str) -> frozenset[str] | None:
        names: set[str] = set()
        for kw in node.keywords:
            if kw.arg is None:
                keys = self.keys(kw.value, frame)
                if keys is None:
                    return None
                names |= keys
            elif not (method == "say" and kw.arg in SAY_OPTIONS):
                names.add(kw.arg)
        return frozenset(names)

    def _frames(self, func: _Func | None, node: ast.AST, depth: int = 0) -> list[_Frame]:
        """One frame per caller when ``node`` reads the function's parameters; else one."""
        if func is None:
            return [_Frame(None)]
        params = set(func.params) | set(func.kwonly) | ({func.kwarg} if func.kwarg else set())
        used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & params
        if not used or depth >= _MAX_DEPTH:
            return [_Frame(func, depth=depth)]
        frames = [f for f in self._caller_frames(func, depth)]
        return frames or [_Frame(func, depth=depth)]

    def _caller_frames(self, func: _Func, depth: int) -> Iterator[_Frame]:
        name = func.node.name
        for file, tree in self.trees:
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call):
                    continue
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
                    bindings: dict[str, tuple[ast.expr, _Frame]] = {}
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
                    yield _Frame(func, bindings, frozenset(extra) if extra is not None else None,
                                 depth + 1, (file, call.lineno), self.states_at(call, caller))

    # -- states --------------------------------------------------------------------------------
    def states_at(self, node: ast.AST, frame: _Frame) -> States:
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
                return _meet(p[0] for p in parts), _join(p[1] for p in parts)
            return _join(p[0] for p in parts), _meet(p[1] for p in parts)
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
        if isinstance(expr, ast.Name) and expr.id in self.constants and depth < _MAX_DEPTH:
            return self._state_names(self.constants[expr.id], depth + 1)
        return None

    # -- values --------------------------------------------------------------------------------
    def strings(self, expr: ast.expr, frame: _Frame) -> set[str] | None:
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

    def keys(self, expr: ast.expr, frame: _Frame) -> set[str] | None:
        """The keys of a dict given as ``**expr``, or None when they cannot be told."""
        if isinstance(expr, ast.Dict):
            return _literal_keys(expr, lambda value: self.keys(value, frame))
        if isinstance(expr, ast.Call):
            target = expr.func
            if isinstance(target, ast.Name) and target.id == "dict":
                keys = {kw.arg for kw in expr.keywords if kw.arg}
                for kw in expr.keywords:
                    if kw.arg is None:
                        inner = self.keys(kw.value, frame)
                        if inner is None:
                            return None
                        keys |= inner
                if expr.args:
                    inner = self.keys(expr.args[0], frame)
                    if inner is None:
                        return None
                    keys |= inner
                return keys
            name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else None
            if name and frame.depth < _MAX_DEPTH:
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
                inner = self.keys(ret.value, _Frame(func, depth=depth))
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
            line = _line_of(vars(klass)["context"])
            funcs = [f for f in self.funcs.get("context", []) if f.method and f.node.lineno <= line
                     and line <= (f.node.end_lineno or line)]
            if len(funcs) != 1:
                return None
            keys: set[str] = set()
            for ret in (n for n in ast.walk(funcs[0].node) if isinstance(n, ast.Return)):
                if ret.value is None:
                    return None
                inner = self._context_return(ret.value, _Frame(funcs[0]), klass)
                if inner is None:
                    return None
                keys |= inner
            return keys
        return set()

    def _context_return(self, expr: ast.expr, frame: _Frame, klass: type) -> set[str] | None:
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


def _meet(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    result: frozenset[str] | None = None
    for s in sets:
        result = s if result is None else result & s
    return result or frozenset()


def _join(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    result: frozenset[str] = frozenset()
    for s in sets:
        result |= s
    return result


def _handler_states(cls: type[Persona]) -> dict[str, States]:
    """For each handler method, the states it runs in (None: any)."""
    entries: list[tuple[Any, str]] = []
    routes = cls.routes
    for table in (routes.exact, routes.wechat, routes.event):
        for listed in table.values():
            entries += listed
    entries += routes.keyword + routes.regex + routes.any_text + routes.media + list(routes.timer.values())
    found: dict[str, States] = {attr: None for attr in routes.rules}
    for route, attr in entries:
        if attr in found and found[attr] is None:
            continue
        if route.states is None:
            found[attr] = None
        else:
            found[attr] = (found.get(attr) or frozenset()) | route.states
    return found


def _template_uses(tree: jn.Template, names: set[str], everything: frozenset[str]
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

    def narrow(states: States, other: frozenset[str]) -> States:
        return other if states is None else states & other

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
