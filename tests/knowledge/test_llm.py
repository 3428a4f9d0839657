"""Drafted suggestions from an OpenAI-compatible endpoint (a local fake on loopback): used when
good, dropped when too long or citing unknown links, replaced by the FAQ when slow or broken,
and never sent a phone number."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web

from persona.model.customer import Customer
from persona.content.knowledge import Source, Suggester, load_knowledge
from persona.content.knowledge.llm import LLMConfig, mask
from bots.xiaowanzi import Xiaowanzi


class FakeModel:
    """A chat-completions endpoint that answers what the test tells it to."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: Any = ["好的"]
        self.status = 200
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"auth": request.headers.get("Authorization"), "body": await request.json()})
        await asyncio.sleep(self.delay)
        content = self.reply if isinstance(self.reply, str) else json.dumps(self.reply, ensure_ascii=False)
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": content}}]},
                                 status=self.status)


@pytest.fixture
async def model():
    fake = FakeModel()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    fake.base = f"http://127.0.0.1:{port}/v1"
    yield fake
    await runner.cleanup()


def suggester(model: FakeModel, timeout: float = 3.0) -> Suggester:
    persona = Xiaowanzi()
    config = LLMConfig(model.base, "sk-test", "fake-model", timeout=timeout)
    return Suggester(persona, load_knowledge(persona.folder()), llm=config)


async def test_the_model_drafts_three_from_the_retrieved_entries_in_the_personas_voice(model):
    model.reply = ["亲，满59包邮哦～", "新疆满99包邮～", "运费12元，满99就免啦"]
    found = await suggester(model).suggest("寄新疆要多少运费")
    assert [c.text for c in found] == model.reply and {c.source for c in found} == {Source.LLM}
    [request] = model.requests
    assert request["auth"] == "Bearer sk-test" and request["body"]["model"] == "fake-model"
    prompt = "\n".join(m["content"] for m in request["body"]["messages"])
    assert "满 59 元全国包邮" in prompt and Xiaowanzi.voice in prompt and "寄新疆要多少运费" in prompt


async def test_drafts_too_long_or_with_unknown_links_are_dropped_and_the_faq_fills_in(model):
    model.reply = ["字" * 700, "点这里 https://evil.example.cn/pay 领券", "领券：https://shop.example.com/coupon/LIP20"]
    found = await suggester(model).suggest("优惠券在哪里领")
    assert found[0].text == model.reply[2] and found[0].source == Source.LLM  # a catalogue link is fine
    assert [c.source for c in found[1:]] == [Source.FAQ, Source.FAQ]
    assert found[1].faq == "coupon_use"


@pytest.mark.parametrize("trouble", ["slow", "http_500", "not_json", "not_a_list"])
async def test_a_slow_or_broken_model_falls_back_to_retrieval(model, trouble):
    if trouble == "slow":
        model.delay = 4.0
    elif trouble == "http_500":
        model.status = 500
    elif trouble == "not_json":
        model.reply = "我觉得可以这样回复：包邮"
    else:
        model.reply = {"a": 1}
    loop = asyncio.get_running_loop()
    start = loop.time()
    found = await suggester(model, timeout=0.3).suggest("退款几天到账")
    assert loop.time() - start < 3.0  # the model's 4 s were not waited for
    assert [c.source for c in found] == [Source.FAQ] * 3 and found[0].faq == "refund_time"


async def test_an_unreachable_model_falls_back_to_retrieval():
    persona = Xiaowanzi()
    dead = LLMConfig("http://127.0.0.1:9/v1", "k", "m", timeout=0.5)
    found = await Suggester(persona, load_knowledge(persona.folder()), llm=dead).suggest("退款几天到账")
    assert [c.source for c in found] == [Source.FAQ] * 3


async def test_the_prompt_never_carries_phone_numbers_or_other_masked_fields(model):
    amy = Customer("wm_amy", "welcomed", attrs={"phone": "13812345678", "name": "王小美"})
    history = [("customer", "我电话 138-1234-5678，邮箱 amy@example.com"),
               ("customer", "身份证 11010519491231002X，卡号 6222020200112233445")]
    await suggester(model).suggest("我的手机号是+86 139 8765 4321，地址改一下", customer=amy, history=history)
    sent = json.dumps(model.requests[0]["body"], ensure_ascii=False)
    for secret in ("13812345678", "138-1234-5678", "139 8765 4321", "amy@example.com",
                   "11010519491231002X", "6222020200112233445"):
        assert secret not in sent
    assert "[手机号]" in sent and "[邮箱]" in sent and "[证件号]" in sent and "[卡号]" in sent


def test_masking_leaves_prices_dates_and_order_numbers_alone():
    assert mask("满 59 元包邮，订单 O20261123 在 2026-11-23 发货") == "满 59 元包邮，订单 O20261123 在 2026-11-23 发货"


def test_the_model_is_configured_only_by_all_three_variables():
    assert LLMConfig.from_env({"PERSONA_LLM_BASE": "http://x/v1", "PERSONA_LLM_MODEL": "m"}) is None
    config = LLMConfig.from_env({"PERSONA_LLM_BASE": "http://x/v1/", "PERSONA_LLM_KEY": "k", "PERSONA_LLM_MODEL": "m"})
    assert config == LLMConfig("http://x/v1", "k", "m", 3.0)
