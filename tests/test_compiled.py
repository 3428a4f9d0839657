"""The compiled modules: what runs is what ``persona --version`` says, and an edit is never
hidden behind an old build. The whole suite runs both ways in CI (``.ci/run``: compiled, then
``PERSONA_PURE=1``)."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys

import persona
from persona import compiled


def test_what_runs_is_what_the_version_says():
    done = subprocess.run([sys.executable, "-m", "persona", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    said = done.stdout.strip()
    assert said.startswith(f"persona {persona.__version__}, ")
    imported = compiled.running()
    for module in compiled.MODULES:
        __import__(module)
    if compiled.built() and compiled.from_source() is None:
        assert said.endswith(f"compiled with mypyc ({len(compiled.MODULES)} of {len(compiled.MODULES)} modules: "
                             f"{', '.join(compiled.MODULES)})")
        assert compiled.running() == list(compiled.MODULES)
    else:
        assert "pure Python" in said
        assert compiled.running() == [] and imported == []


def test_pure_mode_imports_every_compiled_module_from_its_source():
    probe = ("import persona, sys; from persona import compiled\n"
             "for m in compiled.MODULES: __import__(m)\n"
             "print([sys.modules[m].__file__.endswith('.py') for m in compiled.MODULES])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PERSONA_PURE": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([True] * len(compiled.MODULES))


def test_a_source_edited_after_its_build_is_run_from_source(tmp_path):
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    for name in ("jsonwire", "store/redis/records"):
        source = tmp_path / f"{name}.py"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
        build = source.with_name(source.stem + suffix)
        build.write_bytes(b"")
        os.utime(source, (1_000, 1_000))
        os.utime(build, (2_000, 2_000))
    modules = ("persona.jsonwire", "persona.store.redis.records")
    assert compiled.built(modules, tmp_path) == list(modules)
    assert compiled.stale(modules, tmp_path) == []
    os.utime(tmp_path / "jsonwire.py", (2_005, 2_005))  # written a moment after its build, by the install
    os.utime(tmp_path / "store/redis/records.py", (3_000, 3_000))  # edited, not rebuilt
    assert compiled.stale(modules, tmp_path) == ["persona.store.redis.records"]
