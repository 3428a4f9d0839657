"""``persona migrate``, ``persona funnel`` and the start-up check, run as a brand runs them."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

import pytest

from persona import FakeClock
from persona.store import open_store
from tests.cli.conftest import run_persona
from tests.faketime import needs_faketime
from tests.migrate.conftest import populate
from tests.migrate.salon.v1 import SalonV1
from tests.service.test_serve import free_port, start


@pytest.fixture
async def sqlite_fleet(tmp_path):
    """Version 1's customers in a SQLite file, as a running bot would have left them."""
    url = f"sqlite:///{tmp_path}/salon.db"
    store = open_store(url, "salon")
    clock = FakeClock("2026-11-01 09:00")
    users = await populate(store, clock)
    from persona.migrate.shape import record

    await record(store, SalonV1)  # v1 was served from this store
    records = {}
    for user in users:
        loaded = await store.load(user)
        records[user] = json.loads(loaded.record)
    await store.close()
    return Fleet(url, records, clock.now())


@dataclass
class Fleet:
    url: str
    records: dict[str, dict]
    now: float  # the fake clock's time when the fleet was stored: the commands run at it

    def run(self, *args: str, later: float = 0, **kwargs) -> subprocess.CompletedProcess:
        return run_persona(*args, at=self.now + later, **kwargs)


@needs_faketime
def test_dry_run_prints_counts_with_examples_then_apply_moves_everyone(sqlite_fleet):
    url, records = sqlite_fleet.url, sqlite_fleet.records
    run_persona = sqlite_fleet.run  # at the fleet's time
    welcomed = sorted(u for u, r in records.items() if r["s"] == "welcomed")
    nudged = sorted(u for u, r in records.items() if "nudge" in r.get("m", {}))
    dry = run_persona("migrate", "tests.migrate.salon.v2", "--store", url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert re.search(rf"welcomed → greeted\s+{len(welcomed)}\s+{' '.join(welcomed[:5])}", dry.stdout)
    assert re.search(rf"timers cancelled\n\s+nudge\s+{len(nudged)}\s+{' '.join(nudged[:5])}", dry.stdout)
    assert re.search(rf"timers newly armed\n\s+day30\s+{len(records)}\s", dry.stdout)
    assert "not covered by any migration (left as they are)\n  (none)" in dry.stdout

    applied = run_persona("migrate", "tests.migrate.salon.v2", "--store", url, "--apply", "--batch", "8")
    assert applied.returncode == 0, applied.stderr
    assert f"{len(records)}/{len(records)} customers" in applied.stderr
    assert f"migrated {len(records)}, 0 already current" in applied.stdout
    again = run_persona("migrate", "tests.migrate.salon.v2", "--store", url, "--dry-run", "--json")
    report = json.loads(again.stdout)
    assert report["current"] == len(records) and report["migrated"] == 0


@needs_faketime
def test_a_dry_run_long_after_says_which_backfills_it_skips_and_past_due_fire_fires_them(sqlite_fleet):
    url, records = sqlite_fleet.url, sqlite_fleet.records
    month = 31 * 86400  # every customer's day 30 has passed
    dry = sqlite_fleet.run("migrate", "tests.migrate.salon.v2", "--store", url, "--dry-run", later=month)
    assert dry.returncode == 0, dry.stderr
    assert "timers newly armed\n  (none)" in dry.stdout
    assert re.search(rf"past their moment, not armed \(--past-due fire arms them\)\n\s+day30\s+{len(records)}\s",
                     dry.stdout)
    fire = sqlite_fleet.run("migrate", "tests.migrate.salon.v2", "--store", url, "--dry-run", "--past-due", "fire",
                            "--json", later=month)
    report = json.loads(fire.stdout)
    assert report["late_fired"] == [{"name": "day30", "count": len(records), "examples": sorted(records)[:5]}]
    assert report["late_skipped"] == [] and report["armed"] == []
    applied = sqlite_fleet.run("migrate", "tests.migrate.salon.v2", "--store", url, "--apply", "--past-due", "fire",
                               later=month)
    assert applied.returncode == 0, applied.stderr
    assert re.search(rf"firing at once\n\s+day30\s+{len(records)}\s", applied.stdout)

    async def due() -> dict[str, float]:
        store = open_store(url, "salon")
        try:
            return {u: (await store.pending_timers(u))["day30"] for u in records}
        finally:
            await store.close()

    import asyncio

    times = asyncio.run(due())
    start = sqlite_fleet.now + month
    assert all(start <= t < start + 120 for t in times.values())  # at the command's "now"
    bad = sqlite_fleet.run("migrate", "tests.migrate.salon.v2", "--store", url, "--dry-run", "--past-due", "later")
    assert bad.returncode == 2 and "invalid choice: 'later'" in bad.stderr


@needs_faketime
def test_funnel_counts_entries_in_the_persona_order_under_current_names(sqlite_fleet):
    url, records = sqlite_fleet.url, sqlite_fleet.records
    run_persona = sqlite_fleet.run  # at the fleet's time
    members = sum(1 for r in records.values() if r["s"] == "member")
    run_persona("migrate", "tests.migrate.salon.v2", "--store", url, "--apply")
    out = run_persona("funnel", "tests.migrate.salon.v2", "--store", url, "--json")
    assert out.returncode == 0, out.stderr
    steps = {s["state"]: s for s in json.loads(out.stdout)}
    assert list(steps) == ["new", "greeted", "member"]
    assert steps["new"]["entered"] == len(records)
    assert steps["greeted"]["entered"] == len(records)  # entered as "welcomed", counted under its new name
    assert steps["member"]["entered"] == members and steps["member"]["now"] == members
    assert steps["member"]["conversion"] == pytest.approx(members / len(records))
    recent = run_persona("funnel", "tests.migrate.salon.v2", "--store", url, "--since", "1d")
    assert recent.returncode == 0 and "entered" in recent.stdout
    assert run_persona("funnel", "tests.migrate.salon.v2", "--store", url, "--since", "soon").returncode == 2


@needs_faketime
async def test_funnel_recount_counts_a_store_written_before_the_counters(sqlite_fleet):
    url, records = sqlite_fleet.url, sqlite_fleet.records
    run_persona = sqlite_fleet.run  # at the fleet's time
    store = open_store(url, "salon")
    await store.reset_tallies("state:", {})
    await store.close()
    out = run_persona("funnel", "tests.migrate.salon.v1", "--store", url, "--json", "--recount")
    assert out.returncode == 0, out.stderr
    now = {s["state"]: s["now"] for s in json.loads(out.stdout)}
    assert now == {state: sum(1 for r in records.values() if r["s"] == state) for state in SalonV1.states}


def test_serve_and_worker_refuse_a_version_that_strands_customers(sqlite_fleet, tmp_path):
    url, records = sqlite_fleet.url, sqlite_fleet.records
    welcomed = sum(1 for r in records.values() if r["s"] == "welcomed")
    worker = run_persona("worker", "tests.migrate.test_migrate:SalonV2Careless", "--store", url, timeout=60)
    assert worker.returncode == 2
    assert f"state 'welcomed' with {welcomed} customers" in worker.stderr
    proc = start("salon", free_port(), url, bots=("tests.migrate.test_migrate:SalonV2Careless",))
    try:
        assert proc.wait(timeout=60) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
    proc.log.seek(0)
    assert "no longer has state 'welcomed'" in proc.log.read().decode()
