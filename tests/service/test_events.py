"""``POST /events/{bot}``: HMAC-signed business events, idempotent by id, batches."""

from __future__ import annotations

import json

import pytest

from persona.service import SIGNATURE_HEADER, sign
from tests.service.conftest import EVENT_SECRET, customer, environ


async def post(client, payload, *, secret=EVENT_SECRET, raw: bytes | None = None, header=None, bot="desk"):
    body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode()
    headers = {SIGNATURE_HEADER: header if header is not None else sign(body, secret)}
    resp = await client.post(f"/events/{bot}", data=body, headers=headers)
    return resp.status, await resp.json()


def joined(ident="ev-1", user="u1", points=10):
    return {"id": ident, "user": user, "event": "joined", "data": {"points": points}}


async def test_an_event_is_processed_before_the_202(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, joined())
    assert (status, body) == (202, {"id": "ev-1", "status": "done", "state": "member"})
    member = await customer(bot, "u1")
    assert member.state == "member" and member.counters == {"points": 10}


async def test_a_reposted_id_answers_200_with_the_first_result(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    await post(client, joined())
    for _ in range(2):
        status, body = await post(client, joined(points=99))
        assert (status, body) == (200, {"id": "ev-1", "status": "done", "duplicate": True})
    assert (await customer(bot, "u1")).counters == {"points": 10}


@pytest.mark.parametrize("header", ["", "sha256=" + "0" * 64, "sha1=abc", "deadbeef"],
                         ids=["missing", "wrong", "other-scheme", "no-scheme"])
async def test_a_bad_signature_is_401_and_changes_nothing(make_bot, serve, header):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, joined(), header=header)
    assert status == 401 and "error" in body
    assert await bot.store.users() == []


async def test_signed_with_another_secret_is_401(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    assert (await post(client, joined(), secret="guess"))[0] == 401


async def test_without_a_configured_secret_every_event_is_refused(make_bot, serve):
    bot = make_bot(environ(PERSONA_EVENT_SECRET=None))
    client = await serve([bot])
    status, body = await post(client, joined(), secret="")
    assert status == 401 and "PERSONA_EVENT_SECRET" in body["error"]


@pytest.mark.parametrize("payload", [
    b"{not json", b"\xff\xfe", b"",
    {"user": "u1", "event": "joined"}, {"id": "1", "event": "joined"}, {"id": "1", "user": "u1"},
    {"id": "", "user": "u1", "event": "joined"}, {"id": "1", "user": 7, "event": "joined"},
    {"id": "1", "user": "u1", "event": "joined", "data": [1]}, {"id": "x" * 200, "user": "u1", "event": "joined"},
    "a string", [],
], ids=["broken", "binary", "empty", "no-id", "no-user", "no-event", "empty-id", "user-not-string",
        "data-not-object", "id-too-long", "not-an-object", "empty-batch"])
async def test_bad_json_or_missing_fields_is_400(make_bot, serve, payload):
    bot = make_bot()
    client = await serve([bot])
    raw = payload if isinstance(payload, bytes) else None
    status, body = await post(client, payload, raw=raw)
    assert status == 400 and body["error"]
    assert await bot.store.users() == []


async def test_an_unknown_event_name_is_422_and_changes_nothing(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, {"id": "1", "user": "u1", "event": "teleported", "data": {}})
    assert status == 422 and "teleported" in body["error"]
    assert await bot.store.users() == []


def booked(ident="bk-1", user="u1", **data):
    return {"id": ident, "user": user, "event": "booked", "data": data}


async def test_data_that_does_not_match_the_declaration_is_422_naming_the_fields_before_any_handler(
        make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, booked(when="2026-11-27 10:30", chair="3", fee=True))
    assert status == 422 and body["fields"] == ["chair", "fee"]
    assert body["error"] == ("event 'booked': field 'chair' must be whole number (got \"3\"); "
                             "field 'fee' must be number (got true)")
    status, body = await post(client, booked(chair=3, note=None))
    assert (status, body["fields"]) == (422, ["when"]) and "field 'when' is missing" in body["error"]
    assert await bot.store.users() == []  # no handler ran, nothing was journaled
    # the id was not spent: the corrected event goes through; extra fields pass untouched
    status, body = await post(client, booked(when="2026-11-27 10:30", chair=3, fee=80, note=None, source="crm"))
    assert (status, body["status"]) == (202, "done")
    assert (await customer(bot, "u1")).attrs["appointment"] == "2026-11-27 10:30"


async def test_a_batch_with_an_item_of_bad_data_processes_nothing_and_names_the_field(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, [joined("a", "u1"), booked("b", "u2", when=20261127, chair=3)])
    assert status == 422
    assert body["errors"] == [{"index": 1, "fields": ["when"],
                               "error": "event 'booked': field 'when' must be text (got 20261127)"}]
    assert await bot.store.users() == []


async def test_a_numeric_id_and_absent_data_are_accepted(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, body = await post(client, {"id": 42, "user": "u1", "event": "joined"})
    assert status == 202 and body["id"] == "42"


async def test_a_body_over_the_limit_is_413(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    status, _ = await post(client, {**joined(), "data": {"pad": "x" * 70_000}})
    assert status == 413


async def test_a_failed_event_is_an_error_and_does_not_consume_its_id(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    broken = {"id": "b1", "user": "u1", "event": "broken", "data": {}}
    status, body = await post(client, broken)
    assert status == 500 and body["status"] == "error" and "the handler broke" in body["error"]
    assert "duplicate" not in body
    assert any('"error"' in line and "the handler broke" in line for line in await bot.store.journal("u1"))
    status, body = await post(client, {**broken, "data": {"fixed": True}})  # corrected, same id
    assert (status, body) == (202, {"id": "b1", "status": "done", "state": "member"})
    status, body = await post(client, {**broken, "data": {"fixed": True}})
    assert (status, body) == (200, {"id": "b1", "status": "done", "duplicate": True})


async def test_data_a_handler_refuses_is_422_naming_the_field_and_does_not_consume_its_id(make_bot, serve, caplog):
    bot = make_bot()
    client = await serve([bot])
    refused = {"id": "c1", "user": "u1", "event": "broken", "data": {"code": ""}}
    status, body = await post(client, refused)
    assert (status, body) == (422, {"id": "c1", "status": "refused", "error": "'code' is empty", "fields": ["code"]})
    assert "Traceback" not in caplog.text and "refused its data: 'code' is empty" in caplog.text
    assert (await customer(bot, "u1")).state != "member"  # nothing the handler did was kept
    status, body = await post(client, {**refused, "data": {"code": "X1", "fixed": True}})  # corrected, same id
    assert (status, body) == (202, {"id": "c1", "status": "done", "state": "member"})

    assert bot.runtime.metrics.value("handler_errors", persona="desk", kind="event") == 0  # not a bot's bug

    batch = [joined("a", user="u2"), {**refused, "id": "c2", "user": "u3"}]
    status, body = await post(client, batch)  # the other items are committed; the refused one says why
    assert status == 422 and body["results"] == [
        {"id": "a", "status": "done", "state": "member"},
        {"id": "c2", "status": "refused", "error": "'code' is empty", "fields": ["code"]}]
    batch.append({"id": "b", "user": "u4", "event": "broken", "data": {}})
    status, body = await post(client, batch)  # a handler that broke outweighs a refusal: 500
    assert status == 500 and [r["status"] for r in body["results"]] == ["done", "refused", "error"]


async def test_a_batch_with_a_failed_item_is_an_error_and_can_be_posted_again(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    batch = [joined("a"), {"id": "b", "user": "u2", "event": "broken", "data": {}}]
    status, body = await post(client, batch)
    assert status == 500 and [r["status"] for r in body["results"]] == ["done", "error"]
    batch[1]["data"] = {"fixed": True}
    status, body = await post(client, batch)
    assert status == 202 and [(r["status"], r.get("duplicate", False)) for r in body["results"]] == [
        ("done", True), ("done", False)]


async def test_the_id_is_per_customer(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    assert (await post(client, joined(user="u1")))[0] == 202
    assert (await post(client, joined(user="u2")))[0] == 202


# -- batches -----------------------------------------------------------------------------

async def test_a_batch_is_processed_item_by_item_in_order(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    batch = [joined("a", "u1", 1), joined("b", "u2", 2), joined("c", "u1", 3), joined("a", "u1", 50)]
    status, body = await post(client, batch)
    assert status == 202
    assert body["results"] == [
        {"id": "a", "status": "done", "state": "member"}, {"id": "b", "status": "done", "state": "member"},
        {"id": "c", "status": "done"}, {"id": "a", "status": "done", "duplicate": True}]
    assert (await customer(bot, "u1")).counters == {"points": 4}


async def test_a_batch_of_duplicates_is_200(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    batch = [joined("a", "u1"), joined("b", "u2")]
    await post(client, batch)
    status, body = await post(client, batch)
    assert status == 200 and all(r["duplicate"] for r in body["results"])


@pytest.mark.parametrize("bad,status", [
    ({"id": "z", "user": "u3"}, 400),
    ({"id": "z", "user": "u3", "event": "teleported"}, 422),
], ids=["malformed-item", "unknown-event-item"])
async def test_a_batch_with_a_bad_item_processes_nothing(make_bot, serve, bad, status):
    bot = make_bot()
    client = await serve([bot])
    got, body = await post(client, [joined("a", "u1"), bad, joined("b", "u2")])
    assert got == status and body["errors"] == [{"index": 1, "error": body["errors"][0]["error"]}]
    assert await bot.store.users() == []


async def test_a_batch_over_the_item_limit_is_400(make_bot, serve):
    bot = make_bot()
    client = await serve([bot], max_batch=3)
    assert (await post(client, [joined(str(i), "u1") for i in range(4)]))[0] == 400
