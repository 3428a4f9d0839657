"""A persona drawn: its states, transitions and timers (which triggers its code fires is read by
lint's analyser) as a Mermaid or Graphviz diagram, and a timer's schedule in words (English for
``persona graph``, Chinese for the studio)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from ..model.persona import Persona, transition_spec
from ..model.timers import TimerSpec

#: the languages :func:`describe` and :class:`Graph` write in: English for ``persona graph``,
#: Chinese for the studio (read by writers and agents)
Lang = Literal["en", "zh"]


@dataclass(frozen=True)
class Edge:
    source: str
    dest: str
    label: str
    timer: bool = False


@dataclass
class Graph:
    """A persona's flow, ready to be written as Mermaid or DOT."""

    name: str
    states: list[str]
    initial: str
    edges: list[Edge]
    anywhere: list[str]  # timers not bound to a state and not moving anyone
    lang: Lang = "en"  # the language of the words the graph adds

    @classmethod
    def of(cls, persona: type[Persona], lang: Lang = "en") -> "Graph":
        from .lint import fired_triggers, scheduled_states

        states = list(persona.states)
        moves: dict[str, list[tuple[str, str, str]]] = {}  # trigger -> [(source, dest, label)]
        edges: list[Edge] = []
        for t in persona.transitions:
            spec = transition_spec(t, persona.__name__)
            sources = spec["source"] if isinstance(spec["source"], (list, tuple)) else [spec["source"]]
            label = spec["trigger"] + _guard(spec)
            for source in states if "*" in sources else sources:
                dest = source if spec["dest"] in ("=", None) else spec["dest"]
                moves.setdefault(spec["trigger"], []).append((source, dest, label))
                edges.append(Edge(source, dest, label))
        fired = fired_triggers(persona)
        by_hand = scheduled_states(persona)
        anywhere: list[str] = []
        for name, (route, attr) in sorted(persona.routes.timer.items()):
            label = f"{name}: {describe(route.timer, lang)}"
            where = route.states
            if where is None and not (route.timer and route.timer.scheduled):
                where = by_hand.get(name)  # turn.schedule binds it to the state it is set in
            bound = sorted(where) if where else None
            moved: set[str] = set()
            for trigger in sorted(fired.get(attr) or ()):
                for source, dest, _ in moves.get(trigger, ()):
                    if bound is None or source in bound:
                        edges.append(Edge(source, dest, f"{label} → {trigger}", timer=True))
                        moved.add(source)
            if bound is None:
                if not moved:
                    anywhere.append(label)
                continue
            for state in bound:
                if state not in moved:
                    edges.append(Edge(state, state, label, timer=True))
        return cls(persona.name, states, persona.initial, edges, anywhere, lang)

    # -- writers -----------------------------------------------------------------------------
    def mermaid(self) -> str:
        ids = {s: f"s{i}" for i, s in enumerate(self.states)}
        lines = [f"%% {self.name}: states, transitions (solid) and timers (dashed)", "flowchart LR",
                 f'    start(("{WORDS[self.lang]["start"]}")) --> ' + ids[self.initial]]
        lines += [f'    {ids[s]}(["{_mm(s)}"])' for s in self.states]
        for e in self.edges:
            arrow, label = ("-.->", f"⏰ {e.label}") if e.timer else ("-->", e.label)
            lines.append(f'    {ids[e.source]} {arrow}|"{_mm(label)}"| {ids[e.dest]}')
        if self.anywhere:
            note = "<br/>".join([f"⏰ {WORDS[self.lang]['anywhere']}", *(_mm(a) for a in self.anywhere)])
            lines.append(f'    anywhere["{note}"]')
            lines.append("    style anywhere stroke-dasharray: 5 5")
        return "\n".join(lines) + "\n"

    def dot(self) -> str:
        lines = [f"digraph {_q(self.name)} {{", "    rankdir=LR;",
                 '    node [shape=box, style=rounded, fontname="sans-serif"];',
                 '    edge [fontname="sans-serif", fontsize=10];',
                 "    __start [shape=point, width=0.15];",
                 f"    __start -> {_q(self.initial)};"]
        lines += [f"    {_q(s)};" for s in self.states]
        for e in self.edges:
            style = ", style=dashed, color=gray40, fontcolor=gray30" if e.timer else ""
            lines.append(f"    {_q(e.source)} -> {_q(e.dest)} [label={_q(e.label)}{style}];")
        if self.anywhere:
            label = "\\l".join([f"{WORDS[self.lang]['anywhere']}:", *(_esc(a) for a in self.anywhere)]) + "\\l"
            lines.append(f'    __anywhere [shape=note, style=dashed, label="{label}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"


#: the words each language adds to a graph and a timer's schedule
WORDS: dict[Lang, dict[str, str]] = {
    "en": {"by_hand": "set by the bot", "after_entering": "{span} after entering",
           "after_joining": "{span} after joining", "daily": "daily {time}", "daily_fn": "daily at {fn}()",
           "on": " on {days}()", "on_days": " on days {days}", "monthly": "monthly, day {day} at {at}",
           "monthly_fn": "monthly, {fn}() at {at}", "yearly": "yearly on attrs.{attr} at {at}",
           "day_n": "day {n} at {at}", "day_0": "day 0 at {at}", "at": ", at {at}",
           "inactive": "after {span} inactive", "if": " if {guard}", "anywhere": "timers in any state",
           "start": "start", "d": "d", "h": "h", "m": "m", "s": "s"},
    "zh": {"by_hand": "由机器人设定", "after_entering": "进入状态 {span}后", "after_joining": "首次互动 {span}后",
           "daily": "每天 {time}", "daily_fn": "每天 {fn}() 给出的时刻", "on": "，{days}() 给出的日子",
           "on_days": "，每周{days}", "monthly": "每月 {day} 日 {at}", "monthly_fn": "每月 {fn}() 当天 {at}",
           "yearly": "每年 attrs.{attr} 当天 {at}", "day_n": "加入 {n} 天后 {at}", "day_0": "加入当天 {at}",
           "at": "，{at}", "inactive": "{span}无互动后", "if": "（仅当 {guard}）", "anywhere": "任意状态下的定时器",
           "start": "开始", "d": " 天", "h": " 小时", "m": " 分钟", "s": " 秒"},
}
_WEEKDAYS_ZH = "一二三四五六日"


def describe(spec: TimerSpec | None, lang: Lang = "en") -> str:
    """A timer's schedule in a few words: ``3h after entering``, ``daily 10:00``... (``lang="zh"``:
    ``进入状态 3 小时后``, ``每天 10:00``...)."""
    w = WORDS[lang]

    def span(delta: timedelta) -> str:
        return _span(delta, w)

    if spec is None or not spec.scheduled:
        text = w["by_hand"]
    elif spec.after is not None:
        text = w["after_entering" if spec.state else "after_joining"].format(span=span(spec.after))
    elif spec.daily is not None:
        text = (w["daily"].format(time=spec.daily) if isinstance(spec.daily, str)
                else w["daily_fn"].format(fn=_name(spec.daily)))
        if spec.offset:
            sign = "-" if spec.offset < timedelta(0) else "+"
            text += f" {sign}{span(abs(spec.offset))}"
        if callable(spec.weekdays):
            text += w["on"].format(days=_name(spec.weekdays))
        elif spec.weekdays is not None:
            days = sorted(spec.weekdays)
            text += w["on_days"].format(days="、".join(_WEEKDAYS_ZH[d - 1] for d in days) if lang == "zh"
                                        else ",".join(str(d) for d in days))
    elif spec.monthly is not None:
        text = (w["monthly_fn"].format(fn=_name(spec.monthly), at=spec.at) if callable(spec.monthly)
                else w["monthly"].format(day=spec.monthly, at=spec.at))
    elif spec.yearly is not None:
        text = w["yearly"].format(attr=spec.yearly, at=spec.at)
    elif spec.days_after_joining is not None:
        n = spec.days_after_joining
        text = w["day_n"].format(n=n, at=spec.at) if n else w["day_0"].format(at=spec.at)
    elif spec.relative_to is not None:
        text = f"attrs.{spec.relative_to}"
        if spec.offset:
            text += f" {'-' if spec.offset < timedelta(0) else '+'}{span(abs(spec.offset))}"
        if spec.at:
            text += w["at"].format(at=spec.at)
    else:
        assert spec.inactive is not None
        text = w["inactive"].format(span=span(spec.inactive))
    if spec is not None and spec.when is not None:
        text += w["if"].format(guard=spec.when if isinstance(spec.when, str) else _name(spec.when))
    return text


def _name(fn: object) -> str:
    return str(getattr(fn, "__name__", "?"))


def _span(delta: timedelta, words: dict[str, str]) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{words[unit]}"
    return f"{seconds}{words['s']}"


def _guard(spec: dict[str, Any]) -> str:
    parts = []
    for key, prefix in (("conditions", ""), ("unless", "not ")):
        value = spec.get(key)
        for name in [value] if isinstance(value, str) else value or []:
            parts.append(prefix + (name if isinstance(name, str) else getattr(name, "__name__", "?")))
    return f" [{' and '.join(parts)}]" if parts else ""


def _mm(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _q(text: str) -> str:
    return f'"{_esc(text)}"'
