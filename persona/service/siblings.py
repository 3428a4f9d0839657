"""One ``/metrics`` page for the processes of ``persona serve --workers N``.

The workers share one port, so a scrape reaches whichever process the kernel hands the
connection to. A page showing only that process's counters would jump between processes'
values from one scrape to the next (Prometheus reads every drop as a counter reset). Instead,
each worker writes a snapshot of its metrics into a folder the workers share, about once a
second and whenever it answers a scrape, and answers with the sum of its own live figures and
every sibling's latest snapshot.

Counters and histograms are summed over every snapshot, also those of a worker that exited
(a restarted worker starts again from zero in a new file), so the sums only grow. Gauges
read from the store (outbox, timers, customers per state) are the same in every worker: the
answering worker's own are shown. Gauges about a process (turns still running, its spool)
are summed over the workers still running. Siblings' figures are at most ``interval``
seconds old.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

from ..metrics import Metrics, merge

log = logging.getLogger(__name__)

#: gauges that describe one process rather than the store: summed over live workers
PER_PROCESS_GAUGES = frozenset({"turns_in_background", "spool_pending"})


def dump(metrics: Metrics) -> dict[str, Any]:
    """``metrics`` as JSON-ready data :func:`load` turns back into an equal Metrics."""
    def series(table: dict[str, dict[Any, Any]]) -> dict[str, list[Any]]:
        return {name: [[list(map(list, labels)), value] for labels, value in rows.items()]
                for name, rows in table.items()}

    return {"prefix": metrics.prefix, "counters": series(metrics.counters), "gauges": series(metrics.gauges),
            "histograms": series(metrics.histograms),
            "bounds": {name: list(bounds) for name, bounds in metrics.bounds.items()}}


def load(data: dict[str, Any]) -> Metrics:
    metrics = Metrics(data["prefix"])
    for table in ("counters", "gauges", "histograms"):
        target = getattr(metrics, table)
        for name, rows in data[table].items():
            for labels, value in rows:
                target[name][tuple(tuple(pair) for pair in labels)] = value
    metrics.bounds.update({name: tuple(bounds) for name, bounds in data["bounds"].items()})
    return metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Siblings:
    """This worker's snapshots in ``folder``, and its siblings' read back."""

    def __init__(self, folder: str | Path, interval: float = 1.0) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self.pid = os.getpid()
        self.path = self.folder / f"{self.pid}.json"

    def write(self, own: Metrics) -> None:
        """Replace this worker's snapshot (atomically: a reader sees the old one or the new)."""
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(dump(own), separators=(",", ":")))
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("cannot write this worker's metrics to %s: %s", self.folder, exc)

    def read(self) -> list[tuple[int, Metrics]]:
        """Every other worker's latest snapshot, with its process id."""
        found = []
        for path in self.folder.glob("*.json"):
            if path == self.path or not path.stem.isdigit():
                continue
            try:
                found.append((int(path.stem), load(json.loads(path.read_text()))))
            except (OSError, ValueError, KeyError) as exc:  # replaced or removed as it was read
                log.debug("metrics snapshot %s skipped: %s", path, exc)
        return found

    def combine(self, own: Metrics) -> Metrics:
        """``own`` plus the siblings' counters, histograms and per-process gauges."""

        self.write(own)
        siblings = self.read()
        process_gauges = []
        for pid, metrics in siblings:
            if _alive(pid):
                process_gauges += [(name, metrics.gauges[name]) for name in PER_PROCESS_GAUGES & metrics.gauges.keys()]
            metrics.gauges.clear()
        combined = merge([Metrics(own.prefix), own, *(metrics for _, metrics in siblings)])
        for name, series in process_gauges:
            for labels, value in series.items():
                combined.gauges[name][labels] = combined.gauges[name].get(labels, 0.0) + value
        return combined

    async def run(self, sources: Callable[[], Metrics], stop: asyncio.Event) -> None:
        """Write a snapshot every ``interval`` seconds until ``stop``, and once more then."""
        while not stop.is_set():
            self.write(sources())
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
        self.write(sources())
