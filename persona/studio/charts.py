"""Small charts the studio draws itself, as inline SVG: no script library, nothing fetched.

:func:`bars` draws a count per day (handoffs to the desk, for 质检).

:func:`rates_over_time` draws an A/B test as it went: for each variant, its rate so far (a
line) and the interval of that rate (a band), day by day. A writer sees the bands narrow as
customers come in, and how far apart they are when the verdict is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from markupsafe import Markup, escape

from ..content.scripts.report import Point

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 90, 12, 28
#: one colour per variant, in the order the report lists them
COLOURS = ("#c2185b", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f")


def rates_over_time(timeline: Mapping[str, Sequence[Point]]) -> Markup:
    """Each variant's rate and interval by day, as an ``<svg>`` (empty when there is no day)."""
    days = sorted({p.day for points in timeline.values() for p in points})
    if not days:
        return Markup("")
    top = max(0.05, max(p.high for points in timeline.values() for p in points))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    first, span = date.fromisoformat(days[0]), (date.fromisoformat(days[-1]) - date.fromisoformat(days[0])).days

    def x(day: str) -> float:  # by date: a week with nobody new is a week wide
        return LEFT + (plot_w * (date.fromisoformat(day) - first).days / span if span else plot_w / 2)

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate / top)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="各版本达成比例随时间变化">']
    for tick in (0.0, top / 2, top):
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                     f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{100 * tick:.0f}%</text>')
    for day in (days[0], days[-1]) if len(days) > 1 else (days[0],):
        parts.append(f'<text class="axis" x="{x(day):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(day[5:])}</text>')
    for index, (variant, points) in enumerate(timeline.items()):
        if not points:
            continue
        colour = COLOURS[index % len(COLOURS)]
        band = [f"{x(p.day):.1f},{y(p.high):.1f}" for p in points] + [
            f"{x(p.day):.1f},{y(p.low):.1f}" for p in reversed(points)]
        line = " ".join(f"{x(p.day):.1f},{y(p.rate):.1f}" for p in points)
        name = escape(variant)
        parts.append(f'<g class="arm" data-variant="{name}">'
                     f'<polygon class="band" points="{" ".join(band)}" fill="{colour}" fill-opacity="0.15"/>'
                     f'<polyline class="rate" points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>'
                     + "".join(f'<line class="interval" x1="{x(p.day):.1f}" x2="{x(p.day):.1f}" y1="{y(p.low):.1f}" '
                               f'y2="{y(p.high):.1f}" stroke="{colour}" stroke-opacity="0.5"/>' for p in points)
                     + "".join(f'<circle cx="{x(p.day):.1f}" cy="{y(p.rate):.1f}" r="2.5" fill="{colour}">'
                               f'<title>{name} {escape(p.day)}：{p.reached}/{p.customers}（{100 * p.rate:.1f}%，'
                               f'{100 * p.low:.1f}–{100 * p.high:.1f}%）</title></circle>' for p in points)
                     + f'<text class="legend" x="{LEFT + plot_w + 10}" y="{y(points[-1].rate) + 4:.1f}" '
                       f'fill="{colour}">{name} {100 * points[-1].rate:.1f}%</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(per_day: Mapping[str, int], label: str) -> Markup:
    """A bar per day (``YYYYMMDD`` -> count), as an ``<svg>`` (empty when there is no day)."""
    if not per_day:
        return Markup("")
    start, end = (datetime.strptime(d, "%Y%m%d").date() for d in (min(per_day), max(per_day)))
    days = [(start + timedelta(days=n)).strftime("%Y%m%d") for n in range((end - start).days + 1)]  # empty days too
    per_day = {day: per_day.get(day, 0) for day in days}
    top = max(1, max(per_day.values()))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(days)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">',
             f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>',
             f'<text class="axis" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end">{top}</text>']
    for i, day in enumerate(days):
        height = plot_h * per_day[day] / top
        x = LEFT + i * step + step * 0.15
        parts.append(f'<rect class="day-bar" data-day="{escape(day)}" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                     f'width="{step * 0.7:.1f}" height="{height:.1f}" fill="{COLOURS[1]}">'
                     f'<title>{escape(day[4:6])}-{escape(day[6:])}：{per_day[day]}</title></rect>')
    for day in (days[0], days[-1]) if len(days) > 1 else (days[0],):
        x = LEFT + days.index(day) * step + step / 2
        parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f'{escape(day[4:6])}-{escape(day[6:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
