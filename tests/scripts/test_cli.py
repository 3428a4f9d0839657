"""``persona scripts`` on the three stores, as a writer types it."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest

from persona.cli import main
from tests.conftest import REDIS_URL, drop_namespace

BOT = "tests.scripts.lab"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["scripts", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_publish_list_history_rollback_report(kind, tmp_path, capsys):
    namespace = f"lab{uuid.uuid4().hex[:8]}"
    store = REDIS_URL if kind == "redis" else f"sqlite:///{tmp_path}/p.db"
    where = ["--store", store, "--namespace", namespace]
    good, bad = tmp_path / "good.j2", tmp_path / "bad.j2"
    good.write_text("限时 {{ price|money }}\n", encoding="utf-8")
    bad.write_text("限时 {{ prise|money }}\n", encoding="utf-8")
    try:
        assert run(capsys, "publish", BOT, "pitch", str(good), *where, "--author", "amy", "--note", "sale") \
            == (0, "1\n", "")
        code, out, err = run(capsys, "publish", BOT, "pitch", str(bad), *where)
        assert code == 1 and out == "" and "'prise' is not given" in err and "did you mean 'price'?" in err
        assert run(capsys, "publish", BOT, "pitch", str(good), *where, "--variant", "b", "--weight", "25")[:2] \
            == (0, "2\n")
        code, out, _ = run(capsys, "list", BOT, *where)
        rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
        assert code == 0 and rows["pitch"][1:4] == ["v2", "a:50", "b:25"] and rows["thanks"][1] == "v0"
        code, out, _ = run(capsys, "history", BOT, "pitch", *where, "--diff")
        assert code == 0 and [line.split()[0] for line in out.splitlines() if line.startswith("v")] == ["v2", "v1", "v0"]
        assert "+限时 {{ price|money }}" in out and "sale" in out
        assert run(capsys, "rollback", BOT, "pitch", *where, "--to", "0")[:2] == (0, "3\n")
        code, out, _ = run(capsys, "report", BOT, "pitch", *where, "--goal", "state:buyer", "--within", "3d")
        assert code == 0 and "(no customer has been sent this script yet)" in out
        code, _, err = run(capsys, "rollback", BOT, "pitch", *where, "--to", "7")
        assert code == 2 and "no version 7" in err
    finally:
        if kind == "redis":
            asyncio.run(drop_namespace(REDIS_URL, namespace))


def test_on_the_memory_store_each_command_runs_on_its_own_empty_store(capsys, tmp_path):
    text = tmp_path / "t.j2"
    text.write_text("好 {{ price }}", encoding="utf-8")
    assert run(capsys, "publish", BOT, "pitch", str(text), "--store", "memory://")[:2] == (0, "1\n")
    code, out, _ = run(capsys, "history", BOT, "pitch", "--store", "memory://")
    assert code == 0 and out.split()[0] == "v0"
    code, _, err = run(capsys, "rollback", BOT, "pitch", "--store", "memory://")
    assert code == 2 and "nothing was published" in err


@pytest.mark.parametrize("args,message", [
    (["publish", BOT, "pitch.j2", "-"], "without .j2"),
    (["publish", BOT, "pitch", "/nonexistent/x.j2"], "cannot read /nonexistent/x.j2"),
    (["report", BOT, "pitch", "--goal", "bought"], "state:NAME or event:NAME"),
    (["report", BOT, "pitch", "--goal", "state:buyer", "--within", "soon"], "--within"),
    (["publish", BOT, "pitch", "-", "--weight", "-3"], "weight"),
])
def test_bad_requests_exit_2_with_a_message(args, message, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("hi {{ price }}"))
    code, _, err = run(capsys, *args, "--store", "memory://")
    assert code == 2 and message in err, err


def test_a_reader_that_stops_early_ends_the_listing_quietly(tmp_path):
    """``persona scripts list BOT | head -1``: no BrokenPipeError traceback, the exit code of a
    process SIGPIPE ended. The reader here is gone before the first write, so every write fails."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, "-m", "persona", "scripts", "list", BOT, "--store",
                               f"sqlite:///{tmp_path}/persona.db"], cwd=root, env=env, stdout=write,
                              stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write)
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    assert done.returncode == 141, stderr
