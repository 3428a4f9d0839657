"""Script templates: the words a persona says, owned by content writers.

Each bot keeps its scripts in ``scripts/`` beside its module. A script is a Jinja2 file whose
body is the message text; it names its kind and fields with top-level ``set`` tags::

    {% set kind = "news" %}
    {% set title = "你的专属券到了" %}
    {% set url = "https://shop.example.com/c/" ~ coupon.code %}
    {{ customer.attrs.name }}，给你留了一张券……

Kinds and the fields they use: ``text``; ``image`` (``media``: a local file or URL the channel
uploads once, or ``media_id``); ``link``/``news`` (``title``, ``url``, ``picurl``; the body is
the description); ``miniprogram`` (``title``, ``appid``, ``pagepath``, ``thumb``). ``category``
is ``marketing`` (the default) or ``service``; ``via`` names the platform API when it matters.

Templates are compiled once, sandboxed and strict: a missing variable or a syntax error is a
:class:`~persona.errors.TemplateError` naming the file, line and variable.

The files are version 0. A version published into the store (``persona scripts publish``)
takes the file's place in every process through :meth:`ScriptBook.install`, and may carry
variants with weights (A/B tests). Every change compiles a whole new set and swaps it in with
one assignment, only if all of it compiles: a render sees one consistent set, never half of
one, and a typo never reaches customers.

A version that compiles and passes lint can still fail for one customer at run time (a value
missing from their record, a division by zero). A published version therefore carries the
versions before it (:attr:`LiveScript.earlier`), and :meth:`ScriptBook.render_with_fallback`
(what a turn says through) renders, when the version in use fails for this customer, the
newest earlier version that renders for *this* customer, down to the file: the version is not
withdrawn for anyone else, and the caller is told what failed (:class:`Fallback`) so it can be
counted, journaled and shown to the writer. When nothing renders, or the failing script is the
file itself, the version in use's error is raised as before.
"""

from __future__ import annotations

import difflib
import functools
import re
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined
from jinja2 import nodes as jn
from jinja2.sandbox import SandboxedEnvironment

from ..errors import TemplateError
from .filters import FILTERS
from .messages import KINDS, TEXT_LIMIT_BYTES, Message
from .wording import Jinja, Said, says

SUFFIX = ".j2"
#: the variant a script's own text is; published variants sit beside it
DEFAULT_VARIANT = "a"
#: the weight a variant gets when none is given (weights are relative: a and b at 50 split evenly)
DEFAULT_WEIGHT = 50.0
#: how many earlier published versions (distinct texts) a script keeps compiled to fall back on,
#: before the file: enough to get past a bad publish or two, few enough to compile every poll
FALLBACK_DEPTH = 3
#: the journal line of a turn whose script fell back (:class:`Fallback`)
FALLBACK_NOTE = "script_fallback"
#: how an earlier version's source is named (``welcome.j2@2``, ``welcome.j2@2#b``); ``@0`` is the file
_AT = "@"
#: what Jinja says of a missing value: a name, an attribute or an element (``x['k']``)
_UNDEFINED = re.compile(r"^'([^']+)' is undefined|has no attribute '([^']+)'|has no element '([^']+)'")
_NO_SUCH = re.compile(r"No (filter|test) named '([^']+)'")
_GIVEN_TO = re.compile(r" \(given to the filter (\w+)\)$")


@dataclass(frozen=True, slots=True)
class Variant:
    """One text of a script. ``weight`` is relative to the script's other variants; 0 stops it."""

    name: str
    text: str
    weight: float = DEFAULT_WEIGHT


@dataclass(frozen=True, slots=True)
class LiveScript:
    """What a published version puts in a script's place: its number and its variants.

    ``earlier`` holds the versions before it, newest first, that a render falls back on when
    this one fails for a customer (one without variants is the file, and ends the chain).
    """

    version: int
    variants: tuple[Variant, ...]
    earlier: tuple["LiveScript", ...] = ()


@dataclass(frozen=True, slots=True)
class Fallback:
    """Version ``version`` of ``script`` (its variant ``variant``; "" for a single text) failed to
    render for a customer with ``error``, and version ``used`` (0: the file) was said instead."""

    script: str
    version: int
    variant: str
    error: str
    used: int

    def note(self) -> dict[str, Any]:
        """The fields of its journal line (:data:`FALLBACK_NOTE`)."""
        return {"script": self.script, "v": self.version, "variant": self.variant or None,
                "used": self.used, "error": self.error}


@dataclass(frozen=True, slots=True)
class _Choice:
    name: str
    weight: float
    template: jinja2.Template


@dataclass(frozen=True, slots=True)
class _Earlier:
    """An earlier version of a script, compiled, to fall back on (version 0: the file)."""

    version: int
    choices: tuple[_Choice, ...]


@dataclass(frozen=True)
class _Set:
    """One consistent, fully compiled set of scripts (swapped as a whole)."""

    env: SandboxedEnvironment
    scripts: dict[str, tuple[_Choice, ...]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    #: per published script, the earlier versions a render falls back on, newest first
    fallbacks: dict[str, tuple[_Earlier, ...]] = field(default_factory=dict)
    #: why each script that did not compile did not (only a draft book keeps such scripts)
    broken: dict[str, TemplateError] = field(default_factory=dict)


class _Sources(jinja2.BaseLoader):
    """Published texts first, then the files; ``welcome.j2#b`` is variant b of ``welcome``,
    ``welcome.j2@2`` its version 2 and ``welcome.j2@0`` its file, whatever is published.

    Each source gets a file name of its own, so an error's traceback maps to its line.
    """

    def __init__(self, folder: Path, texts: Mapping[str, str]) -> None:
        self.folder = folder
        self.texts = dict(texts)
        self.files = jinja2.FileSystemLoader(str(folder))

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template in self.texts:
            return self.texts[template], str(self.folder / template), lambda: True
        if template.endswith(f"{_AT}0"):
            text, _, uptodate = self.files.get_source(environment, template[: -len(f"{_AT}0")])
            return text, str(self.folder / template), uptodate
        return self.files.get_source(environment, template)


def script_files(folder: Path) -> list[str]:
    """The names of the script files in ``folder`` (without ``.j2``; ``partials/offer`` for a
    file in a subfolder), sorted."""
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder))[: -len(SUFFIX)] for p in folder.rglob(f"*{SUFFIX}"))


class ScriptBook:
    """All scripts of one bot, compiled and ready."""

    def __init__(self, folder: Path | str, live: Mapping[str, LiveScript] | None = None) -> None:
        self.folder = Path(folder)
        self._live: dict[str, LiveScript] = dict(live or {})
        self._set = _Set(self._environment({}))
        if self.folder.is_dir() or self._live:
            self.reload()

    def _environment(self, texts: Mapping[str, str]) -> SandboxedEnvironment:
        env = SandboxedEnvironment(
            loader=_Sources(self.folder, texts),
            undefined=StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )
        env.filters.update({name: _refusing_undefined(name, fn) for name, fn in FILTERS.items()})
        return env

    @property
    def env(self) -> SandboxedEnvironment:
        """The environment of the set in use (lint parses with it)."""
        return self._set.env

    # -- loading ---------------------------------------------------------------------------
    def files(self) -> list[str]:
        """The names of the script files (version 0), sorted."""
        return script_files(self.folder)

    def names(self) -> list[str]:
        """Every script name (file name without ``.j2``, or a published one), sorted."""
        return sorted({*self.files(), *self._live})

    def reload(self) -> None:
        """Compile every script (the files, with published versions in their place); swap them
        in only if all compile, else raise :class:`TemplateError` and keep the set in use."""
        self._swap(self._live)

    def install(self, live: Mapping[str, LiveScript]) -> None:
        """Put published versions in the files' place (a script left out is its file again).

        All or nothing: raises :class:`TemplateError` and keeps the set in use when any script
        of the new set does not compile.
        """
        self._swap(dict(live))

    def with_texts(self, texts: Mapping[str, str]) -> "ScriptBook":
        """This book's scripts with ``texts`` (name -> source) in their place, compiled
        leniently: for checking a text before it is published."""
        return ScriptBook.draft(self.folder, self._live, texts)

    @staticmethod
    def draft(folder: Path | str, live: Mapping[str, LiveScript],
              texts: Mapping[str, str] | None = None) -> "ScriptBook":
        """A book of ``folder`` with ``live`` versions and ``texts`` (name -> source, as a
        script's own text) in place of the files, that does not refuse what fails to compile:
        lint reads it and reports every problem. It has no fallbacks: a draft is checked and
        previewed as it is, never rescued by an earlier version."""
        merged = dict(live)
        for name, text in (texts or {}).items():
            merged[name] = LiveScript(merged[name].version if name in merged else 0,
                                      (Variant(DEFAULT_VARIANT, text),))
        return _Unchecked(folder, merged)

    def problems(self) -> list[TemplateError]:
        """Every script that does not compile (for ``persona lint``), without raising."""
        return self._compile(self._live)[1]

    def _swap(self, live: dict[str, LiveScript]) -> None:
        compiled, errors = self._compile(live)
        if errors:
            raise TemplateError("; ".join(str(e) for e in errors), template=errors[0].template,
                                line=errors[0].line)
        self._live, self._set = live, compiled

    def _compile(self, live: Mapping[str, LiveScript]) -> tuple[_Set, list[TemplateError]]:
        texts: dict[str, str] = {}
        for name, script in live.items():
            for i, variant in enumerate(script.variants):
                texts[_source_name(name, None if i == 0 else variant.name)] = variant.text
            for earlier in _earlier(script):
                for variant in earlier.variants:
                    texts[_source_name(name, variant.name, earlier.version)] = variant.text
        env = self._environment(texts)
        compiled = _Set(env, versions={name: script.version for name, script in live.items()})
        errors: list[TemplateError] = []
        for name in sorted({*self.files(), *live}):
            variants = live[name].variants if name in live and live[name].variants else (
                Variant(DEFAULT_VARIANT, ""),)
            choices: list[_Choice] = []
            for i, variant in enumerate(variants):
                source = _source_name(name, None if i == 0 or name not in live else variant.name)
                try:
                    choices.append(_Choice(variant.name, variant.weight, env.get_template(source)))
                except jinja2.TemplateSyntaxError as exc:
                    errors.append(_error(says("render.syntax", script=name + SUFFIX, label=_label(variant, live.get(name)),
                                              line=exc.lineno, detail=Jinja(_with_hint(env, exc))),
                                         template=name, line=exc.lineno))
                    compiled.broken.setdefault(name, errors[-1])
                except jinja2.TemplateNotFound as exc:
                    errors.append(_error(says("render.include_missing", script=name + SUFFIX, included=exc.name),
                                         template=name))
                    compiled.broken.setdefault(name, errors[-1])
            compiled.scripts[name] = tuple(choices)
            if name in live and live[name].variants:
                compiled.fallbacks[name] = self._fallbacks(env, name, live[name])
        return compiled, errors

    def _fallbacks(self, env: SandboxedEnvironment, name: str, script: LiveScript) -> tuple[_Earlier, ...]:
        """The earlier versions of a published script that compile here, then its file.

        Best effort: an earlier version that no longer compiles (the bot's code changed since)
        is left out of the chain rather than refusing the set in use."""
        chain: list[_Earlier] = []
        for earlier in _earlier(script):
            try:
                chain.append(_Earlier(earlier.version, tuple(
                    _Choice(v.name, v.weight, env.get_template(_source_name(name, v.name, earlier.version)))
                    for v in earlier.variants)))
            except (jinja2.TemplateSyntaxError, jinja2.TemplateNotFound):
                continue
        if (self.folder / f"{name}{SUFFIX}").is_file():
            try:
                chain.append(_Earlier(0, (_Choice(DEFAULT_VARIANT, DEFAULT_WEIGHT,
                                                  env.get_template(_source_name(name, None, 0))),)))
            except (jinja2.TemplateSyntaxError, jinja2.TemplateNotFound):
                pass
        return tuple(chain)

    def source(self, name: str, variant: str | None = None) -> str:
        """The text in use for ``name`` (its first variant unless ``variant`` is named)."""
        script = self._live.get(name)
        if script is not None and script.variants:
            for i, v in enumerate(script.variants):
                if v.name == variant or (variant is None and i == 0):
                    return v.text
            raise _error(says("render.no_variant", script=name, variant=variant), template=name)
        return (self.folder / f"{name}{SUFFIX}").read_text(encoding="utf-8")

    def live(self) -> dict[str, LiveScript]:
        """The published versions in use, by script name (the rest are their files)."""
        return dict(self._live)

    def version(self, name: str) -> int:
        """The published version in use for ``name`` (0: the file)."""
        return self._set.versions.get(name, 0)

    def variants(self, name: str) -> list[tuple[str, float]]:
        """The variants of ``name`` in use, as ``(variant, weight)``; one for a plain script."""
        return [(c.name, c.weight) for c in self._set.scripts.get(name, ())]

    def __contains__(self, name: str) -> bool:
        return name in self._set.scripts

    # -- rendering -------------------------------------------------------------------------
    def render(self, name: str, context: dict[str, Any], state: str | None = None,
               variant: str | None = None) -> Message:
        """Render one script into a :class:`Message` (kind, text and fields): the version in
        use, or its :class:`TemplateError`.

        ``variant`` picks one of the script's variants (default: its first).
        """
        return self._render(name, context, state, variant, fall_back=False)[0]

    def render_with_fallback(self, name: str, context: dict[str, Any], state: str | None = None,
                             variant: str | None = None) -> tuple[Message, Fallback | None]:
        """:meth:`render`, except that a published version failing for this ``context`` gives
        way to the newest earlier version that renders for it (the same variant where that
        version has it, else its first), down to the file; the :class:`Fallback` says what
        failed (None when the version in use rendered). When nothing renders, or the script in
        use is its file, the version in use's error is raised."""
        return self._render(name, context, state, variant, fall_back=True)

    def _render(self, name: str, context: dict[str, Any], state: str | None, variant: str | None,
                fall_back: bool) -> tuple[Message, Fallback | None]:
        name = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
        current = self._set  # one set for the whole render, whatever is swapped in meanwhile
        choices = current.scripts.get(name)
        if not choices:
            if name in current.broken:  # a draft that does not compile says why, not "not found"
                raise current.broken[name]
            known = ", ".join(current.scripts) or "none"
            # the folder by its own name: the message may reach a writer's page, never a server path
            raise _error(says("render.not_found", script=name, folder=self.folder.name, known=known), template=name)
        choice = next((c for c in choices if c.name == variant), choices[0])
        version = current.versions.get(name, 0)
        try:
            message = self._make(name, choice.template, context, state)
        except TemplateError as exc:
            chain = current.fallbacks.get(name, ()) if fall_back else ()
            for earlier in chain:
                again = next((c for c in earlier.choices if c.name == choice.name), earlier.choices[0])
                try:
                    message = self._make(name, again.template, context, state)
                except TemplateError:
                    continue
                if len(earlier.choices) > 1:
                    message.variant = again.name
                message.version = earlier.version
                return message, Fallback(name, version, choice.name if len(choices) > 1 else "", str(exc),
                                         earlier.version)
            if chain:
                raise TemplateError(f"{exc} (version {version}; no earlier version renders for this "
                                    "customer either)", template=exc.template, line=exc.line,
                                    variable=exc.variable, said=exc.said) from None
            raise
        if len(choices) > 1:
            message.variant = choice.name
        message.version = version
        return message, None

    def _make(self, name: str, template: jinja2.Template, context: dict[str, Any],
              state: str | None) -> Message:
        try:
            module = template.make_module(context)
        except jinja2.UndefinedError as exc:
            raise self._undefined(name, template, exc, state) from None
        except TemplateError:
            raise
        except Exception as exc:  # a filter given bad data, a sandbox refusal...
            line = _template_line(exc, template)
            raise _error(says("render.failed", script=name + SUFFIX, line=line, kind=type(exc).__name__,
                              detail=str(exc)), template=name, line=line) from None
        return self._message(name, module)

    def _message(self, name: str, module: Any) -> Message:
        exported = {k: getattr(module, k) for k in module.__dict__ if not k.startswith("_")}
        kind = str(exported.pop("kind", "text"))
        if kind not in KINDS:
            raise _error(says("render.kind", script=name + SUFFIX, kind=kind, kinds=", ".join(KINDS)), template=name)
        category = str(exported.pop("category", "marketing"))
        via = str(exported.pop("via", ""))
        text = str(module).strip()
        if kind == "text" and len(text.encode("utf-8")) > TEXT_LIMIT_BYTES:
            raise _error(says("render.too_long", script=name + SUFFIX, size=len(text.encode("utf-8")),
                              limit=TEXT_LIMIT_BYTES), template=name)
        fields = {k: v for k, v in exported.items() if isinstance(v, (str, int, float, bool, list, dict))}
        return Message(kind=kind, text=text, fields=fields, category=category, via=via, script=name)

    def _undefined(self, name: str, template: jinja2.Template, exc: jinja2.UndefinedError,
                   state: str | None) -> TemplateError:
        message = str(exc)
        match = _UNDEFINED.search(message)
        missing = next((g for g in match.groups() if g), None) if match else None
        line = _template_line(exc, template)
        variable = _expression(template, line, missing) if missing and line else missing
        where = says("render.undefined.state", state=state) if state else ""
        given = _GIVEN_TO.search(message)
        what: Said | Jinja = Jinja(message)
        if variable:
            to = says("render.undefined.filter", filter=given.group(1)) if given else ""
            what = says("render.undefined.variable", variable=variable, filter=to)
        return _error(says("render.undefined", script=name + SUFFIX, line=line, what=what, where=where),
                      template=name, line=line, variable=variable)


def _error(said: Said, **where: Any) -> TemplateError:
    """A :class:`TemplateError` saying ``said`` (in English; in any language by ``.text``)."""
    return TemplateError(str(said), said=said, **where)


def _with_hint(env: SandboxedEnvironment, exc: jinja2.TemplateSyntaxError) -> str:
    """Jinja's message, with "did you mean" after "No filter named 'time_cm'"."""
    message = exc.message or "syntax error"
    match = _NO_SUCH.search(message)
    if match is None:
        return message
    known = env.filters if match.group(1) == "filter" else env.tests
    close = difflib.get_close_matches(match.group(2), sorted(known), n=1)
    return f"{message.rstrip('.')}; did you mean {close[0]!r}?" if close else message


def _refusing_undefined(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a filter that fails on an undefined value the way the template itself does, so
    the error names the variable and line instead of being the filter's own TypeError."""
    @functools.wraps(fn)
    def strict(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, jinja2.Undefined):
                try:
                    value._fail_with_undefined_error()
                except jinja2.UndefinedError as exc:
                    raise jinja2.UndefinedError(f"{exc} (given to the filter {name})") from None
        return fn(*args, **kwargs)
    return strict


def _expression(template: jinja2.Template, line: int, missing: str) -> str:
    """The whole expression that came out undefined on ``line`` (``attrs.last_vist`` rather than
    ``last_vist``), read from the template's source; ``missing`` when it cannot be told."""
    env = template.environment
    if env.loader is None or template.name is None:
        return missing
    try:
        tree = env.parse(env.loader.get_source(env, template.name)[0])
    except (jinja2.TemplateError, OSError):
        return missing
    for node in tree.find_all((jn.Getattr, jn.Getitem)):
        key: str | None
        if isinstance(node, jn.Getattr):
            key = node.attr
        else:
            key = node.arg.value if isinstance(node, jn.Getitem) and isinstance(node.arg, jn.Const) else None
        if node.lineno == line and key == missing:
            return _dotted(node) or missing
    return missing


def _dotted(node: jn.Node) -> str | None:
    if isinstance(node, jn.Name):
        return node.name
    if isinstance(node, jn.Getattr):
        base = _dotted(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, jn.Getitem) and isinstance(node.arg, jn.Const):
        base = _dotted(node.node)
        return f"{base}[{node.arg.value!r}]" if base else None
    return None


class _Unchecked(ScriptBook):
    """A book built by :meth:`ScriptBook.draft`: compiled once, without refusing, for lint."""

    def __init__(self, folder: Path | str, live: Mapping[str, LiveScript] | None = None) -> None:
        self._errors: list[TemplateError] = []
        super().__init__(folder, live)

    def reload(self) -> None:
        self._set, self._errors = self._compile(self._live)

    def problems(self) -> list[TemplateError]:
        return list(self._errors)

    def _fallbacks(self, env: SandboxedEnvironment, name: str, script: LiveScript) -> tuple[_Earlier, ...]:
        return ()


def _source_name(name: str, variant: str | None, version: int | None = None) -> str:
    """The loader's name of a script's text: ``welcome.j2``, ``welcome.j2#b``, ``welcome.j2@2#b``."""
    base = f"{name}{SUFFIX}" if version is None else f"{name}{SUFFIX}{_AT}{version}"
    return base if variant is None else f"{base}#{variant}"


def _earlier(script: LiveScript) -> list[LiveScript]:
    """The earlier versions of ``script`` a render may fall back on, newest first: distinct
    texts only, up to :data:`FALLBACK_DEPTH`, stopping at a version that is the file (the file
    comes last anyway)."""
    seen = {_texts(script)}
    out: list[LiveScript] = []
    for earlier in script.earlier:
        if not earlier.variants or len(out) == FALLBACK_DEPTH:
            break
        if _texts(earlier) not in seen:  # a weight change or a rollback renders the same way
            seen.add(_texts(earlier))
            out.append(earlier)
    return out


def _texts(script: LiveScript) -> tuple[tuple[str, str], ...]:
    return tuple((v.name, v.text) for v in script.variants)


def _label(variant: Variant, script: LiveScript | None) -> str:
    if script is None:
        return ""
    return f" (version {script.version}" + (f", variant {variant.name})" if len(script.variants) > 1 else ")")


def _template_line(exc: BaseException, template: jinja2.Template) -> int | None:
    """The template line Jinja attributes the exception to (it rewrites tracebacks so)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if template.filename and frame.filename == template.filename and frame.lineno is not None:
            line = template.get_corresponding_lineno(frame.lineno)
    return line
