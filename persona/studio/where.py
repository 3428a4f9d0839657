"""Where each script is said: the handler, what reaches it (an event, a timer, a keyword...),
and the variables that place gives it — read from the bot's source by lint's analyser, never
by running it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from ..model.handlers import Route
from ..content.lint.broadcasts import broadcast_sites
from ..content.lint.source import Code
from ..model.persona import Persona


@dataclass(frozen=True, slots=True)
class Place:
    script: str
    handler: str       # the method the say() is in ("" when outside any)
    reached_by: str    # "事件 order_placed", "定时 day7", "关键词 订单/物流"...
    file: str
    line: int
    given: frozenset[str] | None  # variables passed there (None: cannot tell)
    states: frozenset[str] | None


@lru_cache(maxsize=32)
def places(persona: type[Persona]) -> dict[str, tuple[Place, ...]]:
    """Script name → every place it is said (computed once per persona class)."""
    code = Code(persona)
    sites, dynamic = code.say_sites()
    sites += broadcast_sites(code, sorted(persona.broadcasts), dynamic)[0]
    reach = {**_reached_by(persona), "broadcast": "群发（persona broadcast）"}
    out: dict[str, list[Place]] = {}
    for site in sites:
        handler = _enclosing(code, site.file, site.line)
        out.setdefault(site.script, []).append(Place(
            site.script, handler, reach.get(handler, ""), site.file, site.line, site.given,
            frozenset(site.states) if site.states is not None else None))
    return {name: tuple(found) for name, found in out.items()}


def _enclosing(code: Code, file: str, line: int) -> str:
    best = ""
    best_start = -1
    for name, funcs in code.funcs.items():
        for func in funcs:
            node = func.node
            if func.file == file and node.lineno <= line <= (node.end_lineno or node.lineno) and node.lineno > best_start:
                best, best_start = name, node.lineno
    return best


def _reached_by(persona: type[Persona]) -> dict[str, str]:
    routes = persona.routes
    out: dict[str, list[str]] = {}

    def add(entries: Iterable[tuple[Route, str]], label: str) -> None:
        for _, attr in entries:
            out.setdefault(attr, []).append(label)

    for name, entries in routes.event.items():
        add(entries, f"事件 {name}")
    for name, entry in routes.timer.items():
        add([entry], f"定时 {name}")
    for name, entries in routes.wechat.items():
        add(entries, f"微信事件 {name}")
    for text, entries in routes.exact.items():
        add(entries, f"回复 {text}")
    for route, attr in routes.keyword:
        add([(route, attr)], "关键词 " + "/".join(route.values))
    add(routes.regex, "正则")
    add(routes.any_text, "任意文字")
    add(routes.media, "图片/语音等")
    for rule in routes.rules:
        out.setdefault(rule, []).append("每次输入后")
    return {attr: "，".join(dict.fromkeys(labels)) for attr, labels in out.items()}
