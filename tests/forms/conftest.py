"""The fitness coach's questionnaire as customers reach it: a signed link, the page on the
service, the answers as the ``questionnaire_submitted`` event."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from bots.fitness_coach.questionnaire import QUESTIONNAIRE
from persona.clock import FakeClock
from persona.engine.bot import Bot
from tests.conftest import store_url
from tests.service.conftest import environ, make_bot, serve  # noqa: F401 (fixtures)

FORM_SECRET = "form-secret-for-tests"
PUBLIC_URL = "https://coach.example.com"
TRAINEE = "wm_trainee"
START = "2026-11-23 09:00"

#: what a trainee fills in: every question of the questionnaire answered
GOOD = {"goal": "fat_loss", "level": "beginner", "days": ["1", "3", "5"], "time": "20:00", "injured": "yes",
        "injuries": "左膝受过伤", "weight_kg": "62.5", "name": "小美"}


def form_env(**extra: str | None) -> dict[str, str]:
    return environ(**{"PERSONA_PUBLIC_URL": PUBLIC_URL, "PERSONA_FORM_SECRET": FORM_SECRET, **extra})


@pytest.fixture(params=["memory", "sqlite", "redis"])
def coach(request, make_bot, tmp_path) -> Callable[..., Bot]:  # noqa: F811
    """The fitness coach on each store, on a fake clock, signing links with the test secret."""
    def build(env: dict[str, str] | None = None) -> Bot:
        return make_bot(form_env() if env is None else env, store=store_url(request.param, tmp_path),
                        persona="bots.fitness_coach", clock=FakeClock(START))
    return build


def link(bot: Bot, user: str = TRAINEE) -> str:
    """The path of ``user``'s questionnaire link, as the coach's scripts build it."""
    assert bot.persona.form_links is not None
    url = bot.persona.form_links.url(bot.name, QUESTIONNAIRE, user, bot.clock.now())
    assert url.startswith(PUBLIC_URL)
    return url.removeprefix(PUBLIC_URL)


def token(html: str) -> str:
    found = re.search(r'name="_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def errors(html: str) -> list[str]:
    return re.findall(r'<p class="error" role="alert">([^<]+)</p>', html)


async def events_in_journal(bot: Bot, user: str = TRAINEE) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in await bot.store.journal(user)]
    return [line for line in lines if line.get("k") == "in" and line.get("input", "").startswith("event ")]
