"""Counters and histograms in Prometheus text format, without a client library.

Kept deliberately tiny: labels are a sorted tuple of pairs, everything lives in one process.
"""

from __future__ import annotations

import copy

import bisect
from collections import defaultdict
from typing import Any, Iterable

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Labels = tuple[tuple[str, str], ...]


def _labels(labels: dict[str, object]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _fmt(labels: Labels, extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    body = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), " ")}"'
                    for k, v in pairs)
    return "{" + body + "}"


class Metrics:
    """Process-wide counters (``inc``) and histograms (``observe``), rendered by ``/metrics``."""

    def __init__(self, prefix: str = "persona") -> None:
        self.prefix = prefix
        self.counters: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self.help: dict[str, str] = {}
        self.histograms: dict[str, dict[Labels, list[float]]] = defaultdict(dict)
        self.gauges: dict[str, dict[Labels, float]] = defaultdict(dict)
        self.bounds: dict[str, tuple[float, ...]] = {}

    def inc(self, name: str, amount: float = 1, **labels: object) -> None:
        self.counters[name][_labels(labels)] += amount

    def set(self, name: str, value: float, **labels: object) -> None:
        self.gauges[name][_labels(labels)] = value

    def observe(self, name: str, seconds: float, *, buckets: tuple[float, ...] = LATENCY_BUCKETS,
                **labels: object) -> None:
        """Add to a histogram; ``buckets`` (upper bounds, seconds) are fixed by its first use."""
        bounds = self.bounds.setdefault(name, buckets)
        key = _labels(labels)
        counts = self.histograms[name].get(key)
        if counts is None:
            counts = self.histograms[name][key] = [0.0] * (len(bounds) + 2)
        counts[bisect.bisect_left(bounds, seconds)] += 1
        counts[-1] += seconds

    def value(self, name: str, **labels: object) -> float:
        """A counter's current value (tests and the CLI read it)."""
        return self.counters.get(name, {}).get(_labels(labels), 0.0)

    def total(self, name: str) -> float:
        return sum(self.counters.get(name, {}).values())

    def render(self) -> str:
        lines: list[str] = []
        for name, series in sorted(self.counters.items()):
            full = f"{self.prefix}_{name}_total"
            lines.append(f"# TYPE {full} counter")
            lines += [f"{full}{_fmt(k)} {v:g}" for k, v in sorted(series.items())]
        for name, series in sorted(self.gauges.items()):
            full = f"{self.prefix}_{name}"
            lines.append(f"# TYPE {full} gauge")
            lines += [f"{full}{_fmt(k)} {v:g}" for k, v in sorted(series.items())]
        for name, histogram in sorted(self.histograms.items()):
            full = f"{self.prefix}_{name}_seconds"
            lines.append(f"# TYPE {full} histogram")
            bounds = self.bounds.get(name, LATENCY_BUCKETS)
            for key, buckets in sorted(histogram.items()):
                running = 0.0
                for bound, count in zip(bounds, buckets):
                    running += count
                    lines.append(f"{full}_bucket{_fmt(key, [('le', f'{bound:g}')])} {running:g}")
                running += buckets[len(bounds)]
                lines.append(f"{full}_bucket{_fmt(key, [('le', '+Inf')])} {running:g}")
                lines.append(f"{full}_sum{_fmt(key)} {buckets[-1]:.6f}")
                lines.append(f"{full}_count{_fmt(key)} {running:g}")
        return "\n".join(lines) + "\n"


def merge(sources: list[Metrics]) -> Metrics:
    """One Metrics holding the sum of ``sources`` (one TYPE line per name when rendered)."""
    if len(sources) == 1:
        return sources[0]
    merged = Metrics(sources[0].prefix)
    for source in sources:
        for name, series in source.counters.items():
            for labels, value in series.items():
                merged.counters[name][labels] += value
        for name, gauges in source.gauges.items():
            merged.gauges[name].update(gauges)
        merged.bounds.update(source.bounds)
        for name, histograms in source.histograms.items():
            target: dict[Any, list[float]] = merged.histograms[name]
            for labels, buckets in histograms.items():
                if labels in target:
                    target[labels] = [a + b for a, b in zip(target[labels], buckets)]
                else:
                    target[labels] = copy.copy(buckets)
    return merged
