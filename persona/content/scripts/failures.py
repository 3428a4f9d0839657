"""Published versions that failed for a customer: the most recent few per script, for the writer.

A version can pass lint and still fail for one customer (a value missing from their record, a
division by zero). The turn then says an earlier version instead
(:meth:`~persona.model.templates.ScriptBook.render_with_fallback`), journals it for the customer
and counts it in ``/metrics``; the studio shows it on the script's page from here, so the writer
sees who met which error without reading journals.

The store keeps the last :data:`KEEP` failures of each script in the :class:`KeyValue` role every
backend has: a counter numbers them and failure ``n`` goes to slot ``n % KEEP``, each slot with a
TTL. Writers on many processes take distinct numbers from the counter; a reader takes the
counter and reads the slots below it, skipping one that still holds an older number (its
writer not done yet, or a counter that expired and started again). The runtime writes after the
turn's commit: a failure the store refuses there is logged and missing here, never a failed turn
(the customer's journal and the metric still have it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...model.templates import Fallback
from ...store.base import KeyValue

#: how many failures of one script are kept
KEEP = 20
#: how long each is kept (seconds)
TTL = 30 * 86400


@dataclass(frozen=True, slots=True)
class ScriptFailure:
    """One customer for whom a published version failed, at ``at`` (epoch seconds)."""

    customer: str
    at: float
    fallback: Fallback


async def record_failure(store: KeyValue, failure: ScriptFailure) -> None:
    """Keep ``failure`` among the last :data:`KEEP` of its script."""
    script = failure.fallback.script
    n = await store.incr(_counter(script), ttl=TTL)
    fallback = failure.fallback
    entry = {"n": n, "customer": failure.customer, "at": failure.at, "v": fallback.version,
             "variant": fallback.variant, "used": fallback.used, "error": fallback.error}
    await store.put(_slot(script, n), json.dumps(entry, ensure_ascii=False, separators=(",", ":")), ttl=TTL)


async def recent_failures(store: KeyValue, script: str, limit: int = KEEP) -> list[ScriptFailure]:
    """The last ``limit`` (at most :data:`KEEP`) failures of ``script``, newest first."""
    newest = await store.count(_counter(script))
    out: list[ScriptFailure] = []
    for n in range(newest, max(newest - min(limit, KEEP), 0), -1):
        raw = await store.get(_slot(script, n))
        try:
            entry = json.loads(raw) if raw else None
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("n") != n:
            continue
        out.append(ScriptFailure(str(entry["customer"]), float(entry["at"]), Fallback(
            script, int(entry["v"]), str(entry.get("variant") or ""), str(entry["error"]), int(entry["used"]))))
    return out


def _counter(script: str) -> str:
    return f"script-failures:{script}"


def _slot(script: str, n: int) -> str:
    return f"script-failures:{script}:{n % KEEP}"
