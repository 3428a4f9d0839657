"""``/forms/{bot}/{form}`` on the service, for the fitness coach's questionnaire: the page, the
answers checked with the customer's values kept, a valid submission as one event however often
it is posted, and links that are forged, altered or expired refused with a Chinese page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.forms.conftest import GOOD, TRAINEE, errors, events_in_journal, form_env, link, token


async def opened(client, path: str) -> str:
    resp = await client.get(path)
    assert resp.status == 200, await resp.text()
    return await resp.text()


async def test_the_link_opens_a_mobile_page_with_a_strict_policy(coach, serve):
    bot = coach()
    client = await serve([bot])
    resp = await client.get(link(bot))
    html = await resp.text()
    assert resp.status == 200
    assert '<meta name="viewport" content="width=device-width' in html
    assert "<h1>健身问卷</h1>" in html and "你的目标是？" in html and "减脂" in html
    policy = resp.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'nonce-") and "form-action 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert resp.headers["Referrer-Policy"] == "no-referrer" and resp.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in resp.headers
    assert "http" not in html.split("<body>")[1]  # nothing from outside


async def test_bad_answers_come_back_with_the_values_kept_and_a_message_each(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    page = await opened(client, path)
    posted = {**GOOD, "_token": token(page), "level": "", "days": ["1", "2", "3", "4", "5", "6", "7"],
              "weight_kg": "二十", "name": "小美"}
    resp = await client.post(path, data=posted)
    html = await resp.text()
    assert resp.status == 422
    assert errors(html) == ["请选择「你现在的运动基础」", "最多选 6 项", "请填一个数字"]
    assert 'value="小美"' in html and 'value="左膝受过伤"' in html and 'value="二十"' in html
    assert 'value="fat_loss" checked' in html and 'value="7" checked' in html
    assert await bot.runtime.customer(TRAINEE) is None or (await bot.runtime.customer(TRAINEE)).state == "new"
    assert await events_in_journal(bot) == []


async def test_a_valid_submission_is_the_questionnaire_event_once(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    posted = {**GOOD, "_token": token(await opened(client, path))}
    for _ in range(2):  # a double tap on 提交, a refresh re-posting
        resp = await client.post(path, data=posted)
        assert resp.status == 200
        assert "问卷收到啦" in await resp.text()
    trainee = await bot.runtime.customer(TRAINEE)
    assert trainee.state == "choosing"
    assert trainee.tags["goal"] == "fat_loss" and trainee.tags["level"] == "beginner" and "injury" in trainee.tags
    assert trainee.attrs["days"] == [1, 3, 5] and trainee.attrs["time"] == "20:00"
    assert trainee.attrs["injuries"] == "左膝受过伤" and trainee.attrs["weight_kg"] == 62.5
    assert len(trainee.attrs["offered"]) == 3
    [event] = await events_in_journal(bot)
    assert event["input"] == "event questionnaire_submitted"
    assert event["i"]["data"]["days"] == ["1", "3", "5"] and event["i"]["data"]["injured"] is True


async def test_answering_again_from_a_new_page_is_a_new_submission(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    await client.post(path, data={**GOOD, "_token": token(await opened(client, path))})
    again = {**GOOD, "goal": "muscle", "injured": "no", "_token": token(await opened(client, path))}
    assert (await client.post(path, data=again)).status == 200
    trainee = await bot.runtime.customer(TRAINEE)
    assert trainee.tags["goal"] == "muscle" and "injury" not in trainee.tags and "injuries" not in trainee.attrs
    assert len(await events_in_journal(bot)) == 2


async def test_a_post_without_a_page_token_keeps_the_values_to_send_again(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    for forged in ("", "abc.def"):
        resp = await client.post(path, data={**GOOD, "_token": forged})
        html = await resp.text()
        assert resp.status == 400 and "页面已经过期" in html and 'value="小美"' in html
    assert await events_in_journal(bot) == []


def altered(path: str, **changes: str) -> str:
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return f"{parts.path}?{urlencode({**query, **changes})}"


@pytest.mark.parametrize("change", [{"u": "wm_someone_else"}, {"e": "9999999999"}, {"s": "0" * 64}, {"s": ""}],
                         ids=["customer", "expiry", "signature", "unsigned"])
async def test_an_altered_link_is_refused_with_a_chinese_page(coach, serve, change):
    bot = coach()
    client = await serve([bot])
    path = altered(link(bot), **change)
    for method in (client.get, client.post):
        resp = await method(path, data={**GOOD}) if method is client.post else await method(path)
        html = await resp.text()
        assert resp.status == 403 and "链接无效" in html and "Traceback" not in html
    assert await bot.runtime.customer("wm_someone_else") is None
    assert await events_in_journal(bot) == []


async def test_a_link_for_another_form_or_signed_with_another_secret_is_forged(coach, serve):
    bot = coach()
    other = coach(form_env(PERSONA_FORM_SECRET="another-secret"))
    client = await serve([bot])
    assert (await client.get(link(other))).status == 403
    for path in (link(bot).replace("/questionnaire?", "/plans?"), link(bot).replace("/fitness_coach/", "/gym/")):
        resp = await client.get(path)
        assert resp.status == 404 and "没有这个表单" in await resp.text()


async def test_an_expired_link_is_410_even_with_the_page_open(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    page = await opened(client, path)
    bot.clock.advance(14 * 86400 + 1)  # the questionnaire's links last 14 days
    resp = await client.get(path)
    assert resp.status == 410 and "链接已过期" in await resp.text()
    resp = await client.post(path, data={**GOOD, "_token": token(page)})
    assert resp.status == 410
    assert await events_in_journal(bot) == []


async def test_a_body_over_the_limit_is_413(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    resp = await client.post(path, data={**GOOD, "_token": token(await opened(client, path)), "name": "美" * 20_000})
    assert resp.status == 413 and "提交的内容太多了" in await resp.text()


async def test_without_a_public_url_every_link_is_refused(coach, serve):
    signed = coach()
    bot = coach(form_env(PERSONA_PUBLIC_URL=None))
    assert bot.persona.form_links is None
    client = await serve([bot])
    resp = await client.get(link(signed))
    assert resp.status == 403 and "暂时无法填写" in await resp.text()


async def test_form_requests_are_counted_by_outcome(coach, serve):
    bot = coach()
    client = await serve([bot])
    path = link(bot)
    await client.post(path, data={**GOOD, "_token": token(await opened(client, path))})
    await client.get(altered(path, s="0"))
    metrics = await (await client.get("/metrics")).text()
    assert 'persona_form_requests_total{form="questionnaire",outcome="done",persona="fitness_coach"} 1' in metrics
    assert 'persona_form_requests_total{form="questionnaire",outcome="forged",persona="fitness_coach"} 1' in metrics


async def test_serving_forms_without_a_public_url_is_said_at_start_up(coach, caplog):
    from persona.service import create_app

    create_app([coach(form_env(PERSONA_PUBLIC_URL=None))], run_bots=False)
    assert any("declares forms but PERSONA_PUBLIC_URL or PERSONA_FORM_SECRET is not set" in r.getMessage()
               for r in caplog.records)
