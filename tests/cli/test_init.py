"""``persona init``: a new bot that passes ``persona lint`` and its own tests as created."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_new_bot_lints_and_passes_its_own_scenarios(cli, tmp_path):
    done = cli("init", "beauty_bot", "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    package = tmp_path / "beauty_bot"
    for path in ("__init__.py", "persona.py", "README.md", "scripts/welcome.j2", "tests/test_scenario.py"):
        assert (package / path).is_file(), path
        assert f"created {package / path}" in done.stdout
    source = (package / "persona.py").read_text(encoding="utf-8")
    assert "class BeautyBot(Persona):" in source and 'name = "beauty_bot"' in source
    assert 'BOT = "beauty_bot"' in (package / "tests" / "test_scenario.py").read_text(encoding="utf-8")

    lint = cli("lint", "beauty_bot", cwd=tmp_path, pythonpath=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.strip() == "beauty_bot: ok: 0 errors, 0 warnings (5 scripts)"

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}, "PYTHONPATH": str(tmp_path)}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "beauty_bot"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout


def test_it_never_overwrites_and_refuses_bad_names(cli, tmp_path):
    assert cli("init", "shop_bot", "--dir", str(tmp_path)).returncode == 0
    again = cli("init", "shop_bot", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    for name in ("Shop-Bot", "class", "json", "persona"):
        done = cli("init", name, "--dir", str(tmp_path))
        assert done.returncode == 2, name
        assert not (tmp_path / name).exists()
