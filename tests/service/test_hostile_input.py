"""Input built to hurt: deep nesting, absurd numbers, slow senders. Each gets a 4xx, never a 500,
and the customer's state stays as it was."""

from __future__ import annotations

import asyncio
import json

import pytest

from persona.service import SIGNATURE_HEADER, sign
from tests.service.conftest import (CUSTOMER, EVENT_SECRET, SAFE, TOKEN, environ, message_xml, plain,
                                    safe, text_xml)
from tests.service.conftest import sign as wechat_sign


def deep_xml(levels: int) -> str:
    """A text message whose Content holds ``levels`` nested elements (the signed part is fine)."""
    return message_xml("text", "<Content>" + "<a>" * levels + "x" + "</a>" * levels + "</Content>",
                       msg_id="4242")


@pytest.mark.parametrize("levels", [17, 1000, 6000])
@pytest.mark.parametrize("mode", ["plaintext", "safe"])
async def test_deeply_nested_xml_is_400(make_bot, serve, mode, levels):
    bot = make_bot(environ(**SAFE) if mode == "safe" else None)
    client = await serve([bot])
    query, body = (safe if mode == "safe" else plain)(deep_xml(levels))
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 400, await resp.text()
    assert await bot.store.users() == []


async def test_xml_as_deep_as_wechat_nests_still_parses(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    pics = "<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum>a</PicMd5Sum></item></PicList></SendPicsInfo>"
    query, body = plain(message_xml("event", f"<Event>pic_weixin</Event>{pics}"))
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 200


async def post_event(client, body: bytes):
    resp = await client.post("/events/desk", data=body, headers={SIGNATURE_HEADER: sign(body, EVENT_SECRET)})
    return resp.status, await resp.json()


@pytest.mark.parametrize("levels", [33, 900, 10_000, 32_000])
async def test_deeply_nested_json_is_400(make_bot, serve, levels):
    bot = make_bot()
    client = await serve([bot])
    data = "[" * levels + "]" * levels
    body = f'{{"id": "e1", "user": "u1", "event": "joined", "data": {{"x": {data}}}}}'.encode()
    status, answer = await post_event(client, body)
    assert status == 400 and "nests deeper" in answer["error"]
    assert await bot.store.users() == []


async def test_json_as_deep_as_business_data_goes_is_processed(make_bot, serve):
    bot = make_bot()
    client = await serve([bot])
    nested: dict = {"leaf": 1}
    for _ in range(29):  # 32 levels with the event and its data
        nested = {"n": nested}
    body = json.dumps({"id": "e1", "user": "u1", "event": "joined", "data": {"points": 1, "n": nested}}).encode()
    status, answer = await post_event(client, body)
    assert status == 202, answer


@pytest.mark.parametrize("timestamp", ["9" * 310, "1" + "0" * 4400, "0" * 5000 + "1", "99999999999"],
                         ids=["310-digits", "4401-digits", "leading-zeros", "year-5138"])
@pytest.mark.parametrize("signed", [True, False])
async def test_an_absurd_timestamp_is_403(make_bot, serve, timestamp, signed):
    bot = make_bot()
    client = await serve([bot])
    query, body = plain(text_xml("hi"))
    query["timestamp"] = timestamp
    if signed:
        query["signature"] = wechat_sign(TOKEN, timestamp, query["nonce"])
    for path in ("/wechat/desk", ):
        resp = await client.post(path, params=query, data=body)
        assert resp.status == 403, await resp.text()
        resp = await client.get(path, params={**query, "echostr": "e"})
        assert resp.status == 403, await resp.text()
    assert await bot.store.users() == []


async def test_a_body_sent_too_slowly_is_408_and_frees_the_handler(make_bot, serve):
    bot = make_bot()
    client = await serve([bot], read_timeout=0.5)
    query, body = plain(text_xml("hi"))

    async def trickle():
        yield body[:10]
        await asyncio.sleep(3)
        yield body[10:]

    started = asyncio.get_running_loop().time()
    resp = await client.post("/wechat/desk", params=query, data=trickle(),
                             headers={"Content-Length": str(len(body))})
    assert resp.status == 408
    assert asyncio.get_running_loop().time() - started < 2.5
    assert await bot.store.users() == []
    # a sender at normal speed is served
    resp = await client.post("/wechat/desk", params=query, data=body)
    assert resp.status == 200
    assert (await bot.runtime.customer(CUSTOMER)) is not None


# -- against a real `persona serve` process -------------------------------------------------

async def healthz_latency(port: int, seconds: float) -> list[float]:
    """Time ``GET /healthz`` on a connection of its own, again and again for ``seconds``."""
    import aiohttp

    loop = asyncio.get_running_loop()
    times: list[float] = []
    end = loop.time() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while loop.time() < end:
            started = loop.time()
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
            times.append(loop.time() - started)
            await asyncio.sleep(0.05)
    return times


@pytest.mark.parametrize("garbage", [b"A" * 32 * 1024, b"redis://" + b"a" * 32 * 1024 + b"@",
                                     b"a://" * 8000],
                         ids=["letters", "one-long-url", "many-schemes"])
async def test_garbage_after_a_request_does_not_freeze_other_clients(tmp_path, garbage):
    """aiohttp logs the first bytes of a malformed request; the log line's redaction must not
    stall the event loop that every other client is waiting on."""
    from tests.service.test_serve import free_port, start, stop, wait_healthy
    import aiohttp

    port = free_port()
    proc = start("desk", port, f"sqlite:///{tmp_path}/p.db")
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port, proc)
        quiet = max(await healthz_latency(port, 0.5))

        async def attack() -> None:
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                writer.write(garbage + b"\r\n\r\n")  # the keep-alive connection's second "request"
                await writer.drain()
                await reader.read()  # answered 400, then closed
                writer.close()

        during, _ = await asyncio.gather(healthz_latency(port, 2.0), attack())
        assert max(during) < max(1.0, 5 * quiet), f"/healthz took up to {max(during):.2f} s under attack"
    finally:
        log = stop(proc)
    assert "Error handling request" in log, log[-2000:]  # the bytes did reach the log


async def test_a_client_that_never_finishes_its_headers_is_disconnected(tmp_path):
    from tests.service.test_serve import free_port, start, stop, wait_healthy
    import aiohttp

    port = free_port()
    proc = start("desk", port, f"sqlite:///{tmp_path}/p.db", "--read-timeout", "1")
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, port, proc)
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = loop.time()
        writer.write(b"POST /wechat/desk HTTP/1.1\r\nHost: x\r\n")
        closed = None
        for _ in range(40):  # one header line every 0.1 s, never the blank line that ends them
            try:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
            except ConnectionError:
                closed = loop.time() - started
                break
            if reader.at_eof() or (await _eof_within(reader, 0.1)):
                closed = loop.time() - started
                break
        writer.close()
        assert closed is not None and closed < 3.0, f"still connected after {loop.time() - started:.1f} s"
    finally:
        stop(proc)


async def _eof_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), seconds) == b""
    except asyncio.TimeoutError:
        return False


@pytest.mark.parametrize("agent", ["9" * 5000, "²", "1" * 30])
async def test_a_wecom_agent_id_no_int_can_hold_still_gets_its_reply(make_bot, serve, agent):
    """The reply is rendered after the turn committed: failing there would be a 500 for an
    input already processed, and every retry would fail the same way."""
    from tests.service.conftest import CORP_ID, WECOM, WECOM_AES_KEY, WECOM_TOKEN, open_reply, reply_fields, wecom

    bot = make_bot(environ(**WECOM))
    client = await serve([bot])
    xml = text_xml("hi", sender="zhangsan", account=CORP_ID).replace("</xml>", f"<AgentID>{agent}</AgentID></xml>")
    resp = await client.post("/wechat/desk", params=(q := wecom(xml))[0], data=q[1])
    assert resp.status == 200
    fields = reply_fields(open_reply(await resp.text(), token=WECOM_TOKEN, aes_key=WECOM_AES_KEY, appid=CORP_ID,
                                     wecom_reply=True))
    assert fields["ToUserName"] == "zhangsan" and fields["AgentID"] == "1000002"  # the configured app


@pytest.mark.parametrize("levels", [33, 7_000])
async def test_the_agents_api_refuses_deep_json_with_400(levels):
    from aiohttp.test_utils import TestClient, TestServer

    from persona.engine.desk import Desk
    from persona.service.agents import create_agent_app
    from persona.testing import Simulation

    async with Simulation("bots.xiaowanzi") as sim:
        await sim.text("o_bo", "在吗")
        async with TestClient(TestServer(create_agent_app([Desk(sim.runtime)]))) as client:
            body = '{"text": "hi", "x": ' + "[" * levels + "]" * levels + "}"
            resp = await client.post("/xiaowanzi/conversations/o_bo/messages",
                                     headers={"X-Persona-Agent": "小李"}, data=body.encode())
            assert resp.status == 400 and "nests deeper" in (await resp.json())["error"]
