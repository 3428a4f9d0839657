"""The Polite persona on a fake clock (Monday 2026-11-23 10:00, Shanghai) on every store."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest

from persona import BusinessEvent, FakeClock, Outcome, Runtime, TextMessage
from tests.gate.polite import Polite

_ids = itertools.count()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-11-23 10:00")


def make_runtime(store, clock, **policy) -> Runtime:
    """Polite with some of its Policy changed for one test."""
    persona = Polite()
    if policy:
        persona.policy = dataclasses.replace(Polite.policy, **policy)
    return Runtime(persona, store, clock)


@pytest.fixture
def runtime(store, clock) -> Runtime:
    return make_runtime(store, clock)


#: WeCom mass caps out of the way: proactive marketing to a WeCom customer with no door named
#: goes out as a mass message and spends them too; with these only the persona's own caps bind.
NO_MASS_CAPS = {"wecom_mass_per_day": 1000, "wecom_mass_per_month": 1000}


@pytest.fixture
def own_caps(store, clock) -> Runtime:
    """Polite, where a WeCom customer meets only the persona's daily and weekly caps."""
    return make_runtime(store, clock, **NO_MASS_CAPS)


def decided(outcome: Outcome) -> list[tuple[str, str, str]]:
    """(script, action, reason) for every message of a turn."""
    return [(m.script, d.action, d.reason) for m, d in outcome.messages]


async def say(runtime: Runtime, user: str, *scripts: str) -> list[tuple[str, str, str]]:
    """The brand's system makes the persona say ``scripts`` to ``user`` (proactive)."""
    outcome = await runtime.handle(BusinessEvent(user=user, dedupe_key=f"say{next(_ids)}", name="say",
                                                 data={"scripts": list(scripts)}))
    assert outcome.status == "done", outcome.error
    return decided(outcome)


async def text(runtime: Runtime, user: str, words: str) -> list[tuple[str, str, str]]:
    outcome = await runtime.handle(TextMessage(user=user, dedupe_key=f"m:{next(_ids)}", text=words))
    assert outcome.status == "done", outcome.error
    return decided(outcome)


async def profile(runtime: Runtime, user: str, **attrs) -> None:
    await runtime.handle(BusinessEvent(user=user, dedupe_key=f"p{next(_ids)}", name="profile", data=attrs))


async def wecom_customer(runtime: Runtime, user: str, **attrs) -> None:
    """A WeCom external contact: no Official Account window, only the persona's own policy."""
    await profile(runtime, user, platform="wecom", **attrs)


async def outbox(store) -> list[dict]:
    items = await store.claim_outbox(10**12, 1000, lease=60)
    for item in items:
        await store.ack_outbox(item)
    return [{**json.loads(i.payload), "due": i.due} for i in items]


async def journal(store, user: str, kind: str = "out") -> list[dict]:
    return [line for line in (json.loads(raw) for raw in await store.journal(user, 500)) if line["k"] == kind]
