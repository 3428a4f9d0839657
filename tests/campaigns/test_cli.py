"""``persona broadcast --dry-run|--at|--split`` and ``persona campaigns list|show|cancel``, run as
an operator runs them (subprocesses on the wall clock)."""

from __future__ import annotations

import re

from tests.campaigns.test_serve import AUDIENCE, BOT, seed


async def test_a_dry_run_counts_the_audience_and_shows_a_sample(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    await seed(url)
    dry = cli("broadcast", BOT, AUDIENCE, "flash_sale", "--store", url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"3 customers in {AUDIENCE} would get flash_sale")
    assert "  1 of them opted out and would get nothing" in lines
    assert "  for example: wm_amy, wm_bea, wm_cat" in lines
    assert "  the segment index answers tag:product=eyeshadow, tag:product=lipstick, state:customer; " \
           "it reads no record" in lines
    slow = cli("broadcast", BOT, "tag:source AND attr:staff = zhang", "flash_sale", "--store", url, "--dry-run")
    assert slow.stdout.startswith("5 customers in"), slow.stdout
    assert "it reads the records of the customers the index leaves" in slow.stdout


async def test_schedule_list_show_and_cancel(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    await seed(url)
    made = cli("broadcast", BOT, "NOT tag:opted_out", "--split", "flash_sale=70,group_invite=30", "--store", url,
               "--at", "2099-12-08 10:00", "--local-time", "--id", "xmas", "--by", "ops")
    assert made.returncode == 0, made.stderr
    assert made.stdout.splitlines()[0] == ("campaign xmas scheduled: flash_sale=70,group_invite=30 to "
                                           "NOT tag:opted_out, 2099-12-08 10:00 in each customer's own time zone")
    again = cli("broadcast", BOT, "all", "flash_sale", "--store", url, "--at", "2099-12-08 10:00", "--id", "xmas")
    assert again.returncode == 2 and "campaign 'xmas' exists already" in again.stderr

    listed = cli("campaigns", BOT, "list", "--store", url)
    assert re.match(r"xmas\s+scheduled\s+2099-12-08 10:00", listed.stdout), listed.stdout
    shown = cli("campaigns", BOT, "show", "xmas", "--store", url)
    assert shown.stdout.splitlines()[:5] == ["campaign xmas: scheduled", "  audience    NOT tag:opted_out",
                                             "  scripts     flash_sale=70,group_invite=30",
                                             "  when        2099-12-08 10:00 in each customer's own time zone",
                                             "  by          ops"]

    cancelled = cli("campaigns", BOT, "cancel", "xmas", "--store", url, "--by", "lead")
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == "campaign xmas cancelled", cancelled.stdout
    shown = cli("campaigns", BOT, "show", "xmas", "--store", url)
    assert shown.stdout.splitlines()[0] == "campaign xmas: cancelled"
    assert "  cancelled   by lead" in shown.stdout.splitlines()
    missing = cli("campaigns", BOT, "show", "nope", "--store", url)
    assert missing.returncode == 2 and "no campaign 'nope' (latest: xmas)" in missing.stderr


def test_mistakes_are_refused_with_what_to_write(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    cases = {
        ("tag:product=eyeshadow OR (state:welcome)", "flash_sale"): "did you mean 'welcomed'",
        ("tag:in_group AND", "flash_sale"): "column 17: the audience ends where a condition should be",
        ("all", None): "give SCRIPT or --split",
    }
    for (audience, script), message in cases.items():
        done = cli("broadcast", BOT, audience, *([script] if script else []), "--store", url)
        assert done.returncode == 2, (audience, done.stdout)
        assert message in done.stderr, done.stderr
    caret = cli("broadcast", BOT, "tag:in_group AND", "flash_sale", "--store", url).stderr.splitlines()
    assert caret[-2:] == ["  tag:in_group AND", "                  ^"]
    split = cli("broadcast", BOT, "all", "--split", "flash_sale=half", "--store", url)
    assert "the weight after = is a whole number" in split.stderr
    unknown = cli("broadcast", BOT, "all", "--split", "flash_sale=1,flash_sail=1", "--store", url)
    assert "has no script 'flash_sail'" in unknown.stderr
    local = cli("broadcast", BOT, "all", "flash_sale", "--store", url, "--local-time")
    assert "--local-time needs --at" in local.stderr
    late = cli("broadcast", BOT, "all", "flash_sale", "--store", url, "--at", "tomorrow")
    assert "write a day and time, e.g. 2026-12-08 10:00" in late.stderr


async def test_a_broadcast_sent_at_once_is_listed_with_its_counts(cli, tmp_path):
    url = f"sqlite:///{tmp_path}/x.db"
    await seed(url)
    for _ in range(2):  # the second run reaches nobody again, and says so
        sent = cli("broadcast", BOT, AUDIENCE, "flash_sale", "--store", url, "--id", "sale-1")
        assert sent.returncode == 0, sent.stderr
    shown = cli("campaigns", BOT, "show", "sale-1", "--store", url)
    assert shown.stdout.splitlines()[0] == "campaign sale-1: done"
    # quiet hours depend on when the test runs: sent now or held until morning, never lost
    counts = {k: int(n) for k, n in re.findall(r"^  (sent|deferred|done before)\s+(\d+)", shown.stdout, re.M)}
    assert counts.get("sent", 0) + counts.get("deferred", 0) == 2 and counts["done before"] == 3, shown.stdout
    assert re.search(r"^  dropped\s+1 \(opted_out 1\)$", shown.stdout, re.M), shown.stdout
    assert re.match(r"sale-1\s+done\b", cli("campaigns", BOT, "list", "--store", url).stdout)
