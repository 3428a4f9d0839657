"""The checks: what is wrong with a bot, found from what the two readers tell.

:mod:`.scripts` reads the scripts and :mod:`.source` reads the bot's code; here they meet. A
script said somewhere must exist; every variable it needs (in the states it can be said in)
must be given there, by the keyword arguments of the call, by ``context()`` or by what every
script gets (:data:`BASE_VARIABLES`); its fixed text must fit a WeChat text message; every state
must be reachable; every name passed to ``trigger``/``schedule``/``cancel``/``dispatch`` must
have something that answers it. When a reader cannot tell, nothing is reported.
"""

from __future__ import annotations

import difflib
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import jinja2

from ...model.customer import Customer
from ...model.formlinks import FormLinks
from ...model.inputs import BusinessEvent
from ...model.messages import KINDS, TEXT_LIMIT_BYTES
from ...model.persona import Persona, transition_spec
from ...errors import TemplateError
from ...model.templates import SUFFIX, ScriptBook
from ...model.turn import Turn
from ...model.wording import Said, says
from ..library import LIBRARY_FILE, LibraryError, shipped
from ..risk import Hit, RiskError, RiskList, risk_list
from ..samples import from_file, read_samples
from .broadcasts import broadcast_sites, handoff_sites
from .fields import check_use, known_fields
from .forms import FORM_LINK, check_form_links
from .report import ERROR, WARNING, Report, Severity, display, suggest
from .reach import check_reach
from .scripts import Script, fixed_bytes
from .shapes import Resolver, Shape, Shapes, merge, unknown_keys
from .source import Code, Site, line_of
from .states import States

#: what every script is given by :meth:`persona.model.turn.Turn.render`
BASE_VARIABLES = frozenset({"customer", "tags", "attrs", "counters", "now", "data", "state", FORM_LINK})
#: fixed text above this leaves little room for what the variables add
TEXT_MARGIN_BYTES = 256
#: what a sample file holds besides the variables it gives (see :mod:`persona.content.samples`)
SAMPLE_FIELDS = frozenset({"id", "state", "now", "tags", "attrs", "counters", "data", "scripts"})
_CALLBACK_KEYS = ("conditions", "unless", "before", "after", "prepare")


@dataclass
class Reading:
    """What the two readers found, kept for tools that list it (``persona lint --vars``)."""

    scripts: dict[str, Script] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)
    context: frozenset[str] | None = None


class Linter:
    """Runs every check on one persona class, adding what it finds to ``report``; what it read
    is left in ``read``."""

    def __init__(self, cls: type[Persona], report: Report, scripts: ScriptBook | None = None) -> None:
        self.cls = cls
        self.report = report
        self.source_file = Path(inspect.getsourcefile(cls) or cls.folder() / "persona.py")
        self.folder = cls.folder() / cls.scripts_dir
        self.book = scripts if scripts is not None else ScriptBook.draft(self.folder, {})
        self.code = Code(cls)
        self.fields = known_fields(cls, self.code)
        self.samples, self.broken_samples = read_samples(cls)
        self.risk = RiskList()
        self.shapes = Shapes()
        for name, raw in self.samples.items():
            scripts = raw.get("scripts")
            self.shapes.add_sample(name, {k: v for k, v in raw.items() if k not in SAMPLE_FIELDS},
                                   frozenset(map(str, scripts)) if isinstance(scripts, list) else None)
        self.read = Reading()

    def run(self) -> None:
        if not self.folder.is_dir():
            self.report.add(ERROR, self.folder, 0, says("lint.no_folder"))
        scripts = self._scripts()
        self.report.scripts = len(scripts)
        sites, dynamic = self.code.say_sites()
        broadcast, dynamic = broadcast_sites(self.code, sorted(self.cls.broadcasts), dynamic)
        sites += broadcast + handoff_sites(self.code)
        context = self._context()
        self.read = Reading(scripts, sites, context)
        self._check_sites(scripts, sites, context, dynamic)
        self._check_keys(scripts, sites)
        self._check_risk(scripts)
        for path, line, finding in check_form_links(self.cls, scripts):
            self.report.add(ERROR, path, line, finding)
        for path, why in self.broken_samples:
            self.report.add(ERROR, path, 0, says("lint.sample_broken", detail=why))
        try:  # the 内容库 the bot ships: what agents put into chats must pass the same checks
            shipped(self.cls)
        except (LibraryError, RiskError) as exc:
            self.report.add(ERROR, self.cls.folder() / LIBRARY_FILE, 0, says("lint.library", detail=str(exc)))
        self._check_samples(scripts, context)
        self._check_machine()
        self._check_calls()
        check_reach(self.cls, self.code, scripts, sites, self.report)

    # -- scripts -------------------------------------------------------------------------------
    def _scripts(self) -> dict[str, Script]:
        broken: set[str] = set()
        for problem in self.book.problems():
            name = problem.template or ""
            broken.add(name)
            self.report.add(ERROR, self.folder / f"{name}{SUFFIX}", problem.line, _detail(problem))
        scripts: dict[str, Script] = {}
        for name in self.book.names():
            path = self.folder / f"{name}{SUFFIX}"
            script = Script(name, path)
            scripts[name] = script
            if name in broken:
                continue
            try:
                tree = self.book.env.parse(self.book.source(name), name=name + SUFFIX, filename=str(path))
            except jinja2.TemplateSyntaxError:
                continue  # reported by problems()
            script.read(tree, frozenset(self.cls.states))
            self._check_script(script)
        return scripts

    def _check_script(self, script: Script) -> None:
        assert script.tree is not None
        reported: set[tuple[str, str]] = set()
        for use in script.fields:
            finding = check_use(use, self.fields, self.cls.__name__)
            if finding is not None and (str(use), finding.message) not in reported:
                reported.add((str(use), finding.message))
                self.report.add(ERROR if finding.error else WARNING, script.path, use.line, finding.said)
        if script.kind is not None and script.kind not in KINDS:
            self.report.add(ERROR, script.path, script.kind_line,
                            says("lint.kind", kind=script.kind, kinds=", ".join(KINDS)))
        if script.kind in (None, "text"):
            fixed = fixed_bytes(script.tree.body)
            if fixed > TEXT_LIMIT_BYTES:
                self.report.add(ERROR, script.path, 1, says("lint.fixed_too_long", fixed=fixed, limit=TEXT_LIMIT_BYTES))
            elif fixed > TEXT_LIMIT_BYTES - TEXT_MARGIN_BYTES:
                self.report.add(WARNING, script.path, 1, says("lint.fixed_near_limit", fixed=fixed,
                                                              left=TEXT_LIMIT_BYTES - fixed, limit=TEXT_LIMIT_BYTES))

    def _needs(self, scripts: dict[str, Script], name: str, states: States,
               seen: frozenset[str] = frozenset()) -> Iterator[tuple[Script, str, int]]:
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
            line = line_of(getattr(self.cls, "context", None))
            self.report.add(WARNING, self.source_file, line,
                            says("lint.context_failed", kind=type(exc).__name__, detail=str(exc)))
            return None

    def _check_sites(self, scripts: dict[str, Script], sites: list[Site], context: frozenset[str] | None,
                     dynamic: list[tuple[str, int]]) -> None:
        said = {s.script for s in sites}
        fallback = self.cls.policy.fallback_template
        if fallback:
            sites = [*sites, Site(fallback, display(self.source_file), line_of(self.cls),
                                   frozenset({"original"}), via="Policy.fallback_template")]
        missing_reported: set[tuple[str, str, str, int]] = set()
        for site in sites:
            if site.script not in scripts:
                via = f" ({site.via})" if site.via else ""
                self.report.add(ERROR, site.file, site.line,
                                says("lint.script_missing", script=site.script, via=via,
                                     file=display(self.folder / (site.script + SUFFIX)),
                                     hint=suggest(site.script, scripts)))
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
                close = difflib.get_close_matches(variable, sorted(given), n=1)
                fix = (says("lint.not_given.close", close=close[0], variable=variable) if close
                       else says("lint.not_given.fix", variable=variable))
                self.report.add(ERROR, script.path, line, says("lint.not_given", variable=variable, included=included,
                                                               where=where, fix=fix))
        includes = {i for s in scripts.values() for i in s.includes}
        for name, script in sorted(scripts.items()):
            if name in said or name in includes or name == fallback:
                continue
            hint: Said | str = ""
            if dynamic:
                hint = says("lint.never_said.dynamic", places=", ".join(f"{display(f)}:{n}" for f, n in dynamic[:3]))
            self.report.add(WARNING, script.path, 0, says("lint.never_said", script=name, hint=hint))

    def _check_keys(self, scripts: dict[str, Script], sites: list[Site]) -> None:
        """Every key a script reads off a value passed to it, against the value's shape (from the
        types at each place it is said, and from the samples)."""
        resolver = Resolver(self.code)
        reported: set[tuple[str, int, str]] = set()
        said: dict[str, list[dict[str, Shape | None]]] = {}
        for site in sites:
            typed = {k: resolver.shape(expr, frame) for k, (expr, frame) in site.values.items()}
            said.setdefault(site.script, []).append(typed)
        for name, script in scripts.items():
            shown = self.shapes.for_script(name)
            for typed in said.get(name) or [{}]:
                shapes = {v: merge(typed.get(v), shown.get(v)) for v in {*typed, *shown} - BASE_VARIABLES}
                for unknown in unknown_keys(script.keys, shapes):
                    if (name, unknown.use.line, unknown.message) not in reported:
                        reported.add((name, unknown.use.line, unknown.message))
                        self.report.add(ERROR, script.path, unknown.use.line, unknown.said)

    def _check_risk(self, scripts: dict[str, Script]) -> None:
        """风控: no script, no variant, holds a word the bot's ``risk.yaml`` forbids."""
        try:
            self.risk = risk_list(self.cls)
        except RiskError as exc:
            self.report.add(ERROR, exc.file, exc.line, says("lint.risk_file", detail=exc.detail))
            return
        for name, script in sorted(scripts.items()):
            for variant, _ in self.book.variants(name):
                for hit in self.risk.find(self.book.source(name, variant)):
                    self.report.add(ERROR, script.path, hit.line, _forbidden(hit))

    def _check_samples(self, scripts: dict[str, Script], context: frozenset[str] | None) -> None:
        """Render each script, every variant, with each sample that gives all it needs: a
        division by zero or a value the sample shows missing fails here, not for a customer."""
        if context is None:
            return
        persona = self.cls(scripts=self.book)
        persona.form_links = FormLinks.preview()
        failing = {p.file for p in self.report.problems if p.severity == ERROR}  # said already
        for sample_name, raw in self.samples.items():
            sample = from_file(self.cls, sample_name, raw)
            given = BASE_VARIABLES | context | set(sample.variables)
            turn = Turn(persona, sample.customer, BusinessEvent(user=sample.customer.id, name="lint",
                                                                data=sample.data), sample.now)
            for name, script in sorted(scripts.items()):
                needed = {v for _, v, _ in self._needs(scripts, name, None)}
                if (script.tree is None or not sample.renders(name) or not needed <= given
                        or display(script.path) in failing):
                    continue
                rendered = self.report.rendered.setdefault(name, [])
                rendered.append(sample_name)
                for variant, _ in self.book.variants(name):
                    try:
                        message = self.book.render(name, turn.variables(**sample.variables), state=turn.state,
                                                   variant=variant)
                        for hit in self.risk.find(message.text):  # a word the values brought in
                            self.report.add(ERROR, script.path, 0, says("lint.forbidden_rendered", sample=sample_name,
                                                                        word=hit.found, why=_why(hit)))
                    except TemplateError as exc:
                        self.report.add(ERROR, script.path, exc.line or 0,
                                        says("lint.sample_render", sample=sample_name, detail=_detail(exc)))
                    except Exception as exc:  # the bot's own context() meeting the sample
                        self.report.add(WARNING, script.path, 0, says("lint.sample_crash", sample=sample_name,
                                                                      kind=type(exc).__name__, detail=str(exc)))

    # -- the state machine --------------------------------------------------------------------
    def _check_machine(self) -> None:
        cls = self.cls
        states = list(cls.states)
        edges: dict[str, set[str]] = {s: set() for s in states}
        line = line_of(cls)
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
                                        says("lint.callback", trigger=spec["trigger"], key=key, name=name,
                                             persona=cls.__name__))
        reached, todo = {cls.initial}, [cls.initial]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        for state in states:
            if state not in reached:
                self.report.add(ERROR, self.source_file, self.code.line_of_text(f'"{state}"') or line,
                                says("lint.unreachable", state=state, initial=cls.initial))
        for attr in dir(cls):
            for moment in ("on_enter_", "on_exit_"):
                if attr.startswith(moment) and callable(getattr(cls, attr)) and attr[len(moment):] not in states:
                    self.report.add(WARNING, self.source_file, line_of(getattr(cls, attr)),
                                    says("lint.never_called", method=attr, state=attr[len(moment):]))

    def _check_calls(self) -> None:
        cls = self.cls
        triggers = set(cls.triggers)
        # what answers each call, how bad it is when nothing does, and how to say so
        answered: dict[str, tuple[set[str], Severity]] = {
            "trigger": (triggers, ERROR), "schedule": (set(cls.routes.timer), ERROR),
            "cancel": (set(cls.routes.timer), WARNING), "dispatch": (set(cls.routes.event), ERROR),
        }
        fired: set[str] = set()
        dynamic_triggers = False
        for call in self.code.calls(*answered):
            names = call.strings(1 if call.method == "dispatch" else 0)
            if names is None:
                dynamic_triggers |= call.method == "trigger"
                continue
            known, severity = answered[call.method]
            if call.method == "trigger":
                fired |= names
            for name in names:
                if name not in known:
                    self.report.add(severity, call.file, call.line,
                                    says(f"lint.unanswered.{call.method}", name=name, persona=cls.__name__,
                                         hint=suggest(name, known)))
        if not dynamic_triggers:
            for name in sorted(triggers - fired):
                self.report.add(WARNING, self.source_file, self.code.line_of_text(f'"{name}"') or line_of(cls),
                                says("lint.never_triggered", name=name))


def _detail(error: TemplateError) -> Said | str:
    """A render error's message without its ``scripts/NAME.j2 line N:`` (the finding says where)."""
    said = error.said
    if isinstance(said, Said) and "detail" in said.args and said.code == "render.syntax":
        return says("lint.detail", detail=said.args["detail"])
    if isinstance(said, Said) and said.code in ("render.undefined",):
        return says("lint.detail.undefined", what=said.args["what"], where=said.args["where"])
    if isinstance(said, Said) and said.code == "render.failed":
        return says("lint.detail.failed", kind=said.args["kind"], detail=said.args["detail"])
    text = str(error)
    return text.split(": ", 1)[-1] if " line " in text else (said if isinstance(said, Said) else text)


def _why(hit: Hit) -> Said | str:
    return says("lint.forbidden.why", why=hit.rule.why) if hit.rule.why else ""


def _forbidden(hit: Hit) -> Said:
    """A forbidden word, as lint says it."""
    return says("lint.forbidden", word=hit.found, why=_why(hit))
