"""Shared fixtures: the three stores, each a real backend (memory, a SQLite file, a Redis server)."""

from __future__ import annotations

import os
import uuid
from typing import AsyncIterator

import pytest

from persona.store import Store, open_store

REDIS_URL = os.environ.get("PERSONA_TEST_REDIS", "redis://127.0.0.1:6379/15")
STORE_KINDS = ("memory", "sqlite", "redis")


def store_url(kind: str, tmp_path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/persona.db"
    return REDIS_URL


async def drop_namespace(url: str, namespace: str) -> None:
    """Remove every Redis key a test namespace wrote."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"p:{{{namespace}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=STORE_KINDS)
async def store(request, tmp_path, namespace) -> AsyncIterator[Store]:
    """The same test against memory, SQLite and a real Redis."""
    url = store_url(request.param, tmp_path)
    s = open_store(url, namespace)
    yield s
    await s.close()
    if request.param == "redis":
        await drop_namespace(url, namespace)


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


class BotPackage:
    """A bot package written to ``folder``/NAME (its ``__init__`` holds ``source``), importable
    by NAME: ``write(scripts={...}, samples={...})`` adds files and returns NAME."""

    def __init__(self, folder, prefix: str, source: str) -> None:
        self.name = f"{prefix}{uuid.uuid4().hex[:8]}"
        self.path = folder / self.name
        (self.path / "scripts").mkdir(parents=True)
        (self.path / "__init__.py").write_text(source, encoding="utf-8")

    def write(self, scripts: dict[str, str], samples: dict[str, dict] | None = None) -> str:
        import json
        import textwrap

        for script, text in scripts.items():
            (self.path / "scripts" / f"{script}.j2").write_text(textwrap.dedent(text), encoding="utf-8")
        for sample, content in (samples or {}).items():
            (self.path / "samples").mkdir(exist_ok=True)
            (self.path / "samples" / f"{sample}.json").write_text(json.dumps(content, ensure_ascii=False),
                                                                  encoding="utf-8")
        return self.name

    def lint_errors(self, files: dict[str, str]) -> list[str]:
        """Write ``files`` beside the persona (risk.yaml, faq.yaml...), lint the bot, forget it:
        the messages of lint's errors."""
        from persona.content.lint import ERROR, lint

        for name, text in files.items():
            (self.path / name).write_text(text, encoding="utf-8")
        try:
            return [p.message for p in lint(self.name).problems if p.severity == ERROR]
        finally:
            self.forget()

    def forget(self) -> None:
        import sys

        for module in [m for m in sys.modules if m == self.name or m.startswith(self.name + ".")]:
            sys.modules.pop(module, None)


@pytest.fixture(autouse=True, scope="session")
def english_locale():
    """Messages that follow the locale (``persona lint``'s findings) are read in English here,
    whatever the machine's locale is; subprocesses inherit it."""
    saved = {name: os.environ.pop(name, None) for name in ("LC_ALL", "LC_MESSAGES", "LANG")}
    os.environ["LANG"] = "C.UTF-8"
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
