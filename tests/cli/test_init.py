"""``persona init``: a new bot that passes ``persona lint`` and its own tests as created."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
    assert lint.stdout.strip() == "beauty_bot: ok: 0 errors, 0 warnings (6 scripts)"

    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}, "PYTHONPATH": str(tmp_path)}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "beauty_bot"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout


def test_it_never_overwrites_and_refuses_bad_names(cli, tmp_path):
    assert cli("init", "shop_bot", "--dir", str(tmp_path)).returncode == 0
    again = cli("init", "shop_bot", "--dir", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    for name in ("Shop-Bot", "class", "json", "persona"):
        done = cli("init", name, "--dir", str(tmp_path))
        assert done.returncode == 2, name
        assert not (tmp_path / name).exists()


def test_a_new_bot_runs_the_readme_testing_example_as_written(cli, tmp_path):
    """The README's testing example is a plain ``async def`` test: the configuration ``persona
    init`` writes beside the bot must be enough for pytest to run it."""
    assert cli("init", "clinic_bot", "--dir", str(tmp_path)).returncode == 0
    package = tmp_path / "clinic_bot"
    assert "asyncio_mode = auto" in (package / "pytest.ini").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Testing a bot"):]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example and "async def test_" in example.group(1)
    (package / "tests" / "test_readme_example.py").write_text(example.group(1), encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "clinic_bot"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "6 passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout
