"""When the persona cannot take a valid-looking submission — its handler refuses a value, or
fails — the customer keeps what they typed and can submit again from the same page."""

from __future__ import annotations

import pytest

from persona import EventDataError, Persona, Turn, on
from persona.model.forms import Form, phone, text
from tests.conftest import store_url
from tests.forms.conftest import errors, form_env, token

CODES = {"VIP2026"}


class Club(Persona):
    name = "club"
    states = ["new", "member"]
    transitions = [["join", "new", "member"]]
    forms = [Form("join", title="入会登记", event="joined",
                  fields=[text("code", "邀请码"), phone("mobile", "手机号")])]

    @on.event("joined", data={"code": str, "mobile": str})
    async def joined(self, turn: Turn) -> None:
        if turn.data["code"] == "BROKEN":
            raise RuntimeError("the member system did not answer")
        if turn.data["code"] == "TAKEN":
            raise EventDataError("this customer is a member already", fields=["member_id"])
        if turn.data["code"] not in CODES:
            raise EventDataError(f"unknown invite code {turn.data['code']!r}", fields=["code"])
        turn.set("mobile", turn.data["mobile"])
        await turn.trigger("join")


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def club(request, make_bot, serve, tmp_path):
    bot = make_bot(form_env(), store=store_url(request.param, tmp_path), persona=Club)
    client = await serve([bot])
    url = bot.persona.form_links.url("club", Club.forms[0], "u1", bot.clock.now())
    path = url.split("example.com", 1)[1]
    page = await (await client.get(path)).text()
    return bot, client, path, token(page)


async def test_a_value_the_handler_refuses_is_marked_and_kept(club):
    bot, client, path, page_token = club
    resp = await client.post(path, data={"_token": page_token, "code": "FRIEND", "mobile": "13812345678"})
    html = await resp.text()
    assert resp.status == 422
    assert errors(html) == ["这一项的内容我们无法使用，请检查后再提交"]
    assert 'id="field-code"' in html and 'value="FRIEND"' in html and 'value="13812345678"' in html
    assert await bot.runtime.customer("u1") is None or (await bot.runtime.customer("u1")).state == "new"
    # the same page, corrected: the refusal left the submission free
    resp = await client.post(path, data={"_token": page_token, "code": "VIP2026", "mobile": "13812345678"})
    assert resp.status == 200
    member = await bot.runtime.customer("u1")
    assert member.state == "member" and member.attrs["mobile"] == "13812345678"


async def test_a_handler_that_fails_keeps_the_values_to_submit_again(club):
    bot, client, path, page_token = club
    resp = await client.post(path, data={"_token": page_token, "code": "BROKEN", "mobile": "13812345678"})
    html = await resp.text()
    assert resp.status == 500 and "提交没有成功" in html and 'value="BROKEN"' in html
    assert "Traceback" not in html and "RuntimeError" not in html
    resp = await client.post(path, data={"_token": page_token, "code": "VIP2026", "mobile": "13812345678"})
    assert resp.status == 200
    assert (await bot.runtime.customer("u1")).state == "member"



async def test_a_refusal_of_something_the_form_did_not_ask_is_said_above_the_form(club):
    bot, client, path, page_token = club
    resp = await client.post(path, data={"_token": page_token, "code": "TAKEN", "mobile": "13812345678"})
    html = await resp.text()
    assert resp.status == 422 and errors(html) == []
    assert "提交的内容我们暂时无法使用" in html and 'value="TAKEN"' in html
