"""Health, metrics, structured logs, and what a dead store gets (503, nothing half-written)."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from persona.errors import StoreUnavailable
from persona.metrics import Metrics
from persona.service import SIGNATURE_HEADER, sign
from persona.service.logs import StructuredFormatter, redact
from persona.store.memory import MemoryStore
from tests.service.conftest import (CUSTOMER, EVENT_SECRET, SAFE, TOKEN, customer, environ, event_xml,
                                    plain, reply_fields, safe, text_xml)

HELLO = "你好呀，有什么可以帮你？"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_healthz_is_200_when_every_store_answers(make_bot, serve):
    client = await serve([make_bot()])
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok", "bots": {"desk": "ok"}}


async def test_a_store_that_is_down_gets_503_everywhere_and_nothing_is_written(make_bot, serve):
    down = make_bot(store=f"redis://127.0.0.1:{closed_port()}/0")
    client = await serve([down])
    resp = await client.get("/healthz")
    assert resp.status == 503 and (await resp.json())["bots"] == {"desk": "unavailable"}
    query, body = plain(text_xml("hi"))
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 503  # so WeChat retries
    raw = json.dumps({"id": "1", "user": "u1", "event": "joined", "data": {}}).encode()
    resp = await client.post("/events/desk", data=raw, headers={SIGNATURE_HEADER: sign(raw, EVENT_SECRET)})
    assert resp.status == 503
    assert "127.0.0.1" not in await resp.text()


class FlakyStore(MemoryStore):
    """Reads work; the first ``failures`` commits find the backend gone."""

    def __init__(self, failures: int = 1) -> None:
        super().__init__("memory://", "flaky")
        self.failures = failures

    async def commit(self, commit):
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("the backend went away mid-turn")
        return await super().commit(commit)


async def test_a_commit_that_fails_writes_nothing_and_the_retry_moves_once(make_bot, serve):
    store = FlakyStore()
    bot = make_bot(environ(**SAFE))
    bot.store = bot.runtime.store = store
    client = await serve([bot])
    xml = text_xml("hi", msg_id="9001")
    query, body = safe(xml)
    assert (await client.post("/wechat/desk", params=query, data=body)).status == 503
    assert await store.users() == [] and await store.outbox_size() == 0
    query, body = safe(xml, nonce="2")
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 200
    assert (await customer(bot)).counters == {"hellos": 1}


async def test_metrics_in_prometheus_text(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    xml = text_xml("hi", msg_id="1234")
    for nonce in ("1", "2"):
        await client.post("/wechat/desk", params=plain(xml, nonce=nonce)[0], data=xml.encode())
    await client.post("/wechat/desk", params={"timestamp": "1", "nonce": "1"}, data=xml.encode())
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await resp.text()
    for line in (
        'persona_callbacks_total{outcome="passive",persona="desk",platform="wechat",type="text"} 1',
        'persona_callbacks_total{outcome="duplicate",persona="desk",platform="wechat",type="text"} 1',
        'persona_callbacks_total{outcome="rejected",persona="desk",platform="wechat",type="invalid"} 1',
        'persona_transitions_total{dest="greeted",persona="desk",source="new"} 1',
        'persona_inputs_total{kind="text",outcome="done",persona="desk"} 1',
        'persona_dedupe_hits_total{kind="text",persona="desk"} 1',
        'persona_gate_decisions_total{action="send",persona="desk",reason="passive_reply"} 1',
        'persona_callback_seconds_count{persona="desk",platform="wechat"} 3',
        'persona_outbox_pending{persona="desk"} 0',
    ):
        assert line in text, line
    assert text.count("# TYPE persona_callbacks_total counter") == 1


async def test_metrics_of_bots_with_their_own_counters_merge_into_one_page(make_bot, serve):
    from tests.service.desk import Desk

    class Annex(Desk):
        name = "annex"
        scripts_dir = str(Desk.folder() / "scripts")

    desk, annex = make_bot(metrics=Metrics()), make_bot(persona=Annex, metrics=Metrics())
    client = await serve([desk, annex])
    for bot in ("desk", "annex"):
        query, body = plain(text_xml("hi"))
        await client.post(f"/wechat/{bot}", params=query, data=body)
    text = await (await client.get("/metrics")).text()
    assert text.count("# TYPE persona_inputs_total counter") == 1
    assert 'persona_inputs_total{kind="text",outcome="done",persona="annex"} 1' in text
    assert 'persona_inputs_total{kind="text",outcome="done",persona="desk"} 1' in text


async def test_one_log_line_per_callback_without_bodies_or_secrets(make_bot, serve, caplog):
    bot = make_bot(environ(**SAFE))
    client = await serve([bot])
    with caplog.at_level(logging.INFO, logger="persona.access"):
        query, body = safe(text_xml("hi 我的手机号 13800000000"))
        await client.post("/wechat/desk", params=query, data=body)
        query, body = safe(event_xml("subscribe"))
        await client.post("/wechat/desk", params=query, data=body)
        query["msg_signature"] = "0" * 40
        await client.post("/wechat/desk", params=query, data=body)
    lines = [r for r in caplog.records if r.name == "persona.access"]
    assert [(r.fields["type"], r.fields["outcome"]) for r in lines] == [
        ("text", "done"), ("event:subscribe", "passive"), ("invalid", "rejected")]
    assert all({"bot", "customer", "type", "outcome", "ms", "status"} <= set(r.fields) for r in lines)
    assert lines[0].fields["customer"] == CUSTOMER and lines[2].fields["status"] == 403
    for fmt in ("kv", "json"):
        rendered = "\n".join(StructuredFormatter(fmt).format(r) for r in lines)
        assert "13800000000" not in rendered and TOKEN not in rendered and "Encrypt" not in rendered
    kv = StructuredFormatter("kv").format(lines[0])
    assert "bot=desk" in kv and f"customer={CUSTOMER}" in kv and "type=text" in kv and " ms=" in kv
    assert json.loads(StructuredFormatter("json").format(lines[1]))["outcome"] == "passive"


def test_store_passwords_are_redacted_from_log_lines():
    assert redact("Redis at redis://:hunter2@10.0.0.1:6379/0 is down") == "Redis at redis://***@10.0.0.1:6379/0 is down"
    record = logging.LogRecord("persona.access", logging.WARNING, __file__, 1, "callback", (), None)
    record.fields = {"reason": "Redis at redis://user:hunter2@db/0: refused"}
    assert "hunter2" not in StructuredFormatter("kv").format(record)


async def test_shutdown_waits_for_turns_still_running(make_bot):
    from aiohttp.test_utils import TestClient, TestServer

    from persona.service import create_app

    bot = make_bot()
    type(bot.persona).slow_seconds = 0.3
    try:
        app = create_app([bot], deadline=0.05, run_bots=False)
        client = TestClient(TestServer(app))
        await client.start_server()
        query, body = plain(text_xml("slow"))
        resp = await client.post("/wechat/desk", params=query, data=body)
        assert await resp.text() == "success"
        await client.close()  # the app's cleanup waits for the turn
        assert (await customer(bot)).counters == {"slow": 1}
    finally:
        type(bot.persona).slow_seconds = 0.6


async def test_the_service_mounts_into_an_existing_aiohttp_site(make_bot):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from persona.service import create_app

    async def home(request: web.Request) -> web.Response:
        return web.Response(text="the brand's own site")

    bot = make_bot()
    site = web.Application()
    site.router.add_get("/", home)
    site.add_subapp("/persona/", create_app([bot], run_bots=False))
    async with TestClient(TestServer(site)) as client:
        assert await (await client.get("/")).text() == "the brand's own site"
        assert (await client.get("/persona/healthz")).status == 200
        query, body = plain(text_xml("hi"))
        resp = await client.post("/persona/wechat/desk", params=query, data=body)
        assert reply_fields(await resp.text())["Content"] == HELLO


@pytest.mark.parametrize("text", ["a" * 64_000, "a" * 64_000 + "://", ("ab" * 50 + "://") * 600,
                                  "x://" + "a" * 64_000, ":/" * 32_000, "@" * 64_000])
def test_redaction_takes_linear_time_on_hostile_text(text):
    import time

    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 0.25


@pytest.mark.parametrize("text,expected", [
    ("redis://u:p@h/0 and sqlite:///x.db and https://a:b@c", "redis://***@h/0 and sqlite:///x.db and https://***@c"),
    ("x://a://b@c", "x://a://***@c"), ("1redis://u:p@h", "1redis://***@h"), ("://u@h", "://u@h"),
    ("no url at all", "no url at all"), ("redis://host/0 user@mail", "redis://host/0 user@mail"),
])
def test_redaction_finds_every_userinfo(text, expected):
    assert redact(text) == expected


def test_long_log_values_are_cut_after_redaction():
    record = logging.LogRecord("persona.access", logging.WARNING, __file__, 1, "m", (), None)
    record.fields = {"reason": "x" * 150 + " redis://:hunter2@db/0 " + "y" * 500}
    line = StructuredFormatter("kv").format(record)
    assert "hunter2" not in line and len(line) < 400
