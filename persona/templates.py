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
:class:`~persona.errors.TemplateError` naming the file, line and variable. :meth:`ScriptBook.reload`
compiles every file before swapping, so a typo saved while a bot runs never reaches customers.
"""

from __future__ import annotations

import re
import traceback
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from .errors import TemplateError
from .filters import FILTERS
from .messages import KINDS, TEXT_LIMIT_BYTES, Message

SUFFIX = ".j2"
_UNDEFINED = re.compile(r"^'([^']+)' is undefined")


class ScriptBook:
    """All scripts of one bot, compiled and ready."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.env = self._environment()
        self._templates: dict[str, jinja2.Template] = {}
        if self.folder.is_dir():
            self.reload()

    def _environment(self) -> SandboxedEnvironment:
        env = SandboxedEnvironment(
            loader=jinja2.FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,
            auto_reload=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )
        env.filters.update(FILTERS)
        return env

    # -- loading ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every script name (file name without ``.j2``), sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.folder))[: -len(SUFFIX)]
                      for p in self.folder.rglob(f"*{SUFFIX}"))

    def reload(self) -> None:
        """Compile every script; swap them in only if all compile."""
        env = self._environment()
        compiled, errors = self._compile_all(env)
        if errors:
            raise TemplateError("; ".join(str(e) for e in errors), template=errors[0].template,
                                line=errors[0].line)
        self.env, self._templates = env, compiled

    def problems(self) -> list[TemplateError]:
        """Every script that does not compile (for ``persona lint``), without raising."""
        return self._compile_all(self._environment())[1]

    def _compile_all(self, env: SandboxedEnvironment) -> tuple[dict[str, jinja2.Template], list[TemplateError]]:
        compiled: dict[str, jinja2.Template] = {}
        errors: list[TemplateError] = []
        for name in self.names():
            try:
                compiled[name] = env.get_template(name + SUFFIX)
            except jinja2.TemplateSyntaxError as exc:
                errors.append(TemplateError(f"scripts/{name}{SUFFIX} line {exc.lineno}: {exc.message}",
                                            template=name, line=exc.lineno))
        return compiled, errors

    def source(self, name: str) -> str:
        return (self.folder / f"{name}{SUFFIX}").read_text(encoding="utf-8")

    def __contains__(self, name: str) -> bool:
        return name in self._templates

    # -- rendering -------------------------------------------------------------------------
    def render(self, name: str, context: dict[str, Any], state: str | None = None) -> Message:
        """Render one script into a :class:`Message` (kind, text and fields)."""
        name = name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name
        template = self._templates.get(name)
        if template is None:
            known = ", ".join(self._templates) or "none"
            raise TemplateError(f"script {name!r} not found in {self.folder} (known: {known})",
                                template=name)
        try:
            module = template.make_module(context)
        except jinja2.UndefinedError as exc:
            raise self._undefined(name, exc, state) from None
        except TemplateError:
            raise
        except Exception as exc:  # a filter given bad data, a sandbox refusal...
            line = _template_line(exc, template)
            raise TemplateError(f"scripts/{name}{SUFFIX} line {line}: {type(exc).__name__}: {exc}",
                                template=name, line=line) from None
        return self._message(name, module)

    def _message(self, name: str, module: Any) -> Message:
        exported = {k: getattr(module, k) for k in module.__dict__ if not k.startswith("_")}
        kind = str(exported.pop("kind", "text"))
        if kind not in KINDS:
            raise TemplateError(f"scripts/{name}{SUFFIX}: kind {kind!r} is not one of {', '.join(KINDS)}",
                                template=name)
        category = str(exported.pop("category", "marketing"))
        via = str(exported.pop("via", ""))
        text = str(module).strip()
        if kind == "text" and len(text.encode("utf-8")) > TEXT_LIMIT_BYTES:
            raise TemplateError(
                f"scripts/{name}{SUFFIX}: text is {len(text.encode('utf-8'))} bytes, WeChat allows "
                f"{TEXT_LIMIT_BYTES}; shorten it or split it into two scripts", template=name)
        fields = {k: v for k, v in exported.items() if isinstance(v, (str, int, float, bool, list, dict))}
        return Message(kind=kind, text=text, fields=fields, category=category, via=via, script=name)

    def _undefined(self, name: str, exc: jinja2.UndefinedError, state: str | None) -> TemplateError:
        match = _UNDEFINED.search(str(exc))
        variable = match.group(1) if match else None
        line = _template_line(exc, self._templates[name])
        where = f" for state {state!r}" if state else ""
        what = f"{variable!r} is not defined" if variable else str(exc)
        return TemplateError(f"scripts/{name}{SUFFIX} line {line}: {what}{where}",
                             template=name, line=line, variable=variable)


def _template_line(exc: BaseException, template: jinja2.Template) -> int | None:
    """The template line Jinja attributes the exception to (it rewrites tracebacks so)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if template.filename and frame.filename == template.filename:
            line = template.get_corresponding_lineno(frame.lineno)
    return line
