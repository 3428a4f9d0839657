"""The fake's 「联系我」 and Official Account QR codes, spoken as the platforms document them."""

from __future__ import annotations

import io

import aiohttp
import pytest
from PIL import Image

from persona.wechat.fake import FakeWeChat


async def token(http: aiohttp.ClientSession, fake: FakeWeChat, platform: str) -> str:
    if platform == "wecom":
        path, query = "/cgi-bin/gettoken", {"corpid": fake.corpid, "corpsecret": fake.corpsecret}
    else:
        path, query = "/cgi-bin/token", {"grant_type": "client_credential", "appid": fake.appid, "secret": fake.secret}
    async with http.get(fake.base_url + path, params=query) as r:
        return (await r.json())["access_token"]


@pytest.fixture
async def api():
    async with FakeWeChat() as fake, aiohttp.ClientSession() as http:
        tokens = {p: await token(http, fake, p) for p in ("wecom", "mp")}

        async def call(path: str, body: dict, platform: str = "wecom") -> dict:
            async with http.post(fake.base_url + path, params={"access_token": tokens[platform]}, json=body) as r:
                return await r.json()

        call.fake = fake
        call.http = http
        yield call


async def test_a_single_member_contact_way_has_a_qr_code_that_is_a_real_picture(api) -> None:
    made = await api("/cgi-bin/externalcontact/add_contact_way",
                     {"type": 1, "scene": 2, "state": "parcel_lipstick", "user": ["zhangsan"], "skip_verify": True})
    assert made["errcode"] == 0 and made["config_id"]
    async with api.http.get(made["qr_code"]) as r:
        assert r.status == 200 and r.content_type == "image/png"
        picture = Image.open(io.BytesIO(await r.read()))
    assert picture.format == "PNG" and picture.size[0] == picture.size[1] >= 200
    got = await api("/cgi-bin/externalcontact/get_contact_way", {"config_id": made["config_id"]})
    expected = {"type": 1, "scene": 2, "state": "parcel_lipstick", "user": ["zhangsan"], "skip_verify": True,
                "qr_code": made["qr_code"]}
    assert {k: got["contact_way"][k] for k in expected} == expected


@pytest.mark.parametrize("body, says", [
    ({"type": 1, "scene": 2, "state": "x", "user": ["a", "b"]}, "exactly one member"),
    ({"type": 2, "scene": 2, "state": "s" * 31, "user": ["a"]}, "at most 30"),
    ({"type": 3, "scene": 2, "user": ["a"]}, "invalid type"),
    ({"type": 2, "scene": 9, "user": ["a"]}, "invalid scene"),
    ({"type": 2, "scene": 2, "user": []}, "invalid user"),
])
async def test_what_wecom_refuses_in_a_contact_way(api, body: dict, says: str) -> None:
    answer = await api("/cgi-bin/externalcontact/add_contact_way", body)
    assert answer["errcode"] == 40058 and says in answer["errmsg"]
    assert api.fake.contact_ways == {}


async def test_a_mini_program_way_has_no_qr_code_and_a_way_can_be_changed_then_deleted(api) -> None:
    made = await api("/cgi-bin/externalcontact/add_contact_way",
                     {"type": 2, "scene": 1, "state": "mp", "user": ["a", "b"]})
    assert "qr_code" not in made
    config = {"config_id": made["config_id"]}
    assert (await api("/cgi-bin/externalcontact/update_contact_way",
                      {**config, "user": ["c"], "skip_verify": False}))["errcode"] == 0
    way = (await api("/cgi-bin/externalcontact/get_contact_way", config))["contact_way"]
    assert (way["user"], way["skip_verify"]) == (["c"], False)
    assert (await api("/cgi-bin/externalcontact/del_contact_way", config))["errcode"] == 0
    assert (await api("/cgi-bin/externalcontact/get_contact_way", config))["errcode"] == 40058


@pytest.mark.parametrize("body, lasts", [
    ({"action_name": "QR_SCENE", "expire_seconds": 600, "action_info": {"scene": {"scene_id": 7}}}, 600),
    ({"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "store_sh021"}}}, 60),
    ({"action_name": "QR_STR_SCENE", "expire_seconds": 10**9, "action_info": {"scene": {"scene_str": "a"}}},
     30 * 86400),
    ({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "parcel"}}}, None),
    ({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100000}}}, None),
])
async def test_official_account_qr_codes_and_their_pictures(api, body: dict, lasts: int | None) -> None:
    made = await api("/cgi-bin/qrcode/create", body, "mp")
    assert made["errcode"] == 0 and made["ticket"] and made["url"].startswith("http://weixin.qq.com/q/")
    assert made.get("expire_seconds") == lasts
    async with api.http.get(f"{api.fake.base_url}/cgi-bin/showqrcode", params={"ticket": made["ticket"]}) as r:
        assert r.status == 200 and (await r.read()).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("body", [
    {"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100001}}},
    {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "x" * 65}}},
    {"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_id": 3}}},
])
async def test_a_scene_out_of_range_is_refused(api, body: dict) -> None:
    assert (await api("/cgi-bin/qrcode/create", body, "mp"))["errcode"] == 40053


async def test_an_unknown_ticket_shows_no_picture(api) -> None:
    async with api.http.get(f"{api.fake.base_url}/cgi-bin/showqrcode", params={"ticket": "nope"}) as r:
        assert r.status == 404

