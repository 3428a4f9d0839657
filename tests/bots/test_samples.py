"""Every shipped bot ships samples for every script: lint renders each script, every variant,
with a sample customer before anything is live (and a writer's preview offers them)."""

from __future__ import annotations

import pytest

from persona.content.lint import lint

BOTS = ["bots.xiaowanzi", "bots.finance_secretary", "bots.fitness_coach"]


@pytest.mark.parametrize("bot", BOTS)
def test_every_script_is_rendered_with_a_sample_and_renders(bot):
    report = lint(bot)
    assert report.errors == [], [str(p) for p in report.errors]
    assert report.persona is not None
    names = {p.stem for p in (report.persona.folder() / report.persona.scripts_dir).glob("*.j2")}
    missing = sorted(names - set(report.rendered))
    assert missing == [], f"{bot}: no sample in samples/ gives what these scripts need: {missing}"
