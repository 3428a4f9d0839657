"""渠道活码 end to end: a code persona makes on the (fake) platform brings a customer through a
real, encrypted callback to the service; the customer is credited to the channel at first
touch, assigned by the code's rule under its daily cap, and counted in the funnel by channel."""

from __future__ import annotations

import time

import aiohttp
import pytest

from persona.engine import acquisition, codes
from persona.engine.codes import CodeError, Rule
from persona.errors import ChannelError
from persona.model.inputs import BusinessEvent


async def landing(served, channel: str) -> tuple[int, str]:
    """What a phone opening the channel's landing gets: (status, redirect target or page text)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(served.url(f"/c/{served.bot.name}/{channel}"), allow_redirects=False) as r:
            return r.status, r.headers.get("Location") or await r.text()


def staff_of(fake, picture: str) -> str:
    """Whose contact way a QR picture URL is."""
    [way] = [w for w in fake.contact_ways.values() if w.qr_code == picture]
    return way.user[0]


async def test_a_code_brings_a_customer_credited_to_its_channel_and_assigned_in_turn(store, fake, serve) -> None:
    served = await serve(store)
    code = await codes.create(store, served.router, "parcel_lipstick", staff=["zhangsan", "lisi"], now=time.time())
    ways = {w.user[0]: w for w in fake.contact_ways.values()}
    assert sorted(ways) == ["lisi", "zhangsan"]
    assert {(w.type, w.scene, w.state, w.skip_verify) for w in ways.values()} == {(1, 2, "parcel_lipstick", True)}
    assert [c.channel for c in await codes.load(store)] == ["parcel_lipstick"] and code.rule is Rule.ROUND_ROBIN

    seen = []
    for customer in ("wmAmy", "wmBo", "wmCy"):
        status, picture = await landing(served, "parcel_lipstick")
        assert status == 302
        staff = staff_of(fake, picture)
        seen.append(staff)
        added, answer = await fake.scan_contact_way(ways[staff].config_id, customer, served.wecom)
        assert (added, answer) == (staff, 200)
    assert seen == ["zhangsan", "lisi", "zhangsan"]

    amy = await served.bot.runtime.customer("wmAmy")
    assert amy.attrs["channel"] == "parcel_lipstick" and amy.attrs["follow_user"] == "zhangsan"
    assert amy.attrs["source"] == "parcel" and amy.state == "welcomed"  # the bot's own reading of the state
    assert (await served.bot.runtime.customer("wmBo")).attrs["follow_user"] == "lisi"
    assert await acquisition.added_today(store, time.time(), served.bot.persona.timezone) == {"zhangsan": 2, "lisi": 1}

    [row] = await acquisition.by_channel(store, "customer")
    assert (row.channel, row.added, row.welcomed, row.converted) == ("parcel_lipstick", 3, 3, 0)
    assert row.staff == {"lisi": 1, "zhangsan": 2} and row.entered == {"welcomed": 3}


async def test_the_first_touch_keeps_the_credit(store, fake, serve) -> None:
    served = await serve(store)
    await codes.create(store, served.router, "parcel", staff=["zhangsan"])
    await codes.create(store, served.router, "store_sh021", staff=["lisi"])
    by_state = {w.state: w for w in fake.contact_ways.values()}
    await fake.scan_contact_way(by_state["parcel"].config_id, "wmAmy", served.wecom)
    await fake.scan_contact_way(by_state["store_sh021"].config_id, "wmAmy", served.wecom)  # adds a second member
    amy = await served.bot.runtime.customer("wmAmy")
    assert amy.attrs["channel"] == "parcel"
    rows = {r.channel: r for r in await acquisition.by_channel(store, "customer")}
    assert rows["parcel"].added == 1 and "store_sh021" not in rows
    # lisi did take a customer today, credited or not: it counts towards lisi's cap
    assert await acquisition.added_today(store, time.time(), served.bot.persona.timezone) == {"zhangsan": 1, "lisi": 1}


async def test_a_customer_who_later_buys_counts_as_converted_for_their_channel(store, fake, serve) -> None:
    served = await serve(store)
    await codes.create(store, served.router, "parcel_lipstick", staff=["zhangsan"])
    [way] = fake.contact_ways.values()
    await fake.scan_contact_way(way.config_id, "wmAmy", served.wecom)
    await served.bot.runtime.handle(BusinessEvent(user="wmAmy", name="order_placed", dedupe_key="ev:o1",
                                                  data={"order_id": "o1", "amount": 129.0, "items": ["lipstick"]}))
    assert (await served.bot.runtime.customer("wmAmy")).state == "customer"
    [row] = await acquisition.by_channel(store, acquisition.goal(type(served.bot.persona)))
    assert (row.added, row.converted) == (1, 1)
    assert row.entered["customer"] == 1


async def test_every_staff_member_at_the_cap_gets_the_landing_to_say_so(store, fake, serve) -> None:
    served = await serve(store)
    await codes.create(store, served.router, "live", staff=["zhangsan", "lisi"], cap=1, rule=Rule.FEWEST)
    for customer in ("wmAmy", "wmBo"):
        status, picture = await landing(served, "live")
        assert status == 302
        way = next(w for w in fake.contact_ways.values() if w.qr_code == picture)
        await fake.scan_contact_way(way.config_id, customer, served.wecom)
    assert await acquisition.added_today(store, time.time(), served.bot.persona.timezone) == {"zhangsan": 1, "lisi": 1}
    status, page = await landing(served, "live")
    assert status == 200 and "今天的名额已满" in page
    assert "persona_channel_full_total" in served.bot.metrics.render()


async def test_an_official_account_code_credits_its_followers(store, fake, serve) -> None:
    served = await serve(store)
    code = await codes.create(store, served.router, "store_sh021", official=True)
    [qr] = fake.qrcodes.values()
    assert qr.scene == "store_sh021" and qr.expires_at is None  # permanent: QR_LIMIT_STR_SCENE
    status, picture = await landing(served, "store_sh021")
    assert (status, picture) == (302, code.image)
    async with aiohttp.ClientSession() as http, http.get(picture) as r:
        assert (await r.read()).startswith(b"\x89PNG")
    assert await fake.scan_qrcode(qr.ticket, "oFollower1", served.official) == 200
    follower = await served.bot.runtime.customer("oFollower1")
    assert follower.attrs["channel"] == "store_sh021"
    assert await fake.scan_qrcode(qr.ticket, "oFollower1", served.official, following=True) == 200
    [row] = await acquisition.by_channel(store, "customer")
    assert (row.channel, row.added) == ("store_sh021", 1)


async def test_removing_a_code_deletes_its_contact_ways_and_the_landing_forgets_it(store, fake, serve) -> None:
    served = await serve(store)
    await codes.create(store, served.router, "parcel", staff=["zhangsan", "lisi"])
    assert len(fake.contact_ways) == 2
    await codes.remove(store, served.router, "parcel")
    assert fake.contact_ways == {} and await codes.load(store) == []
    status, page = await landing(served, "parcel")
    assert status == 404 and "已经停用" in page


@pytest.mark.parametrize("channel, staff, says", [
    ("有中文", ["a"], "letters, digits"),
    ("x" * 31, ["a"], "30"),
    ("qrscene_parcel", ["a"], "letters, digits"),
    ("parcel", [], "at least one staff member"),
    ("parcel", ["a", "a"], "named twice"),
])
async def test_bad_input_is_refused_and_nothing_is_made(store, fake, serve, channel, staff, says) -> None:
    served = await serve(store)
    with pytest.raises(CodeError, match=says):
        await codes.create(store, served.router, channel, staff=staff)
    assert fake.contact_ways == {} and await codes.load(store) == []


async def test_a_channel_has_one_code(store, fake, serve) -> None:
    served = await serve(store)
    await codes.create(store, served.router, "parcel", staff=["zhangsan"])
    with pytest.raises(CodeError, match="has a code already"):
        await codes.create(store, served.router, "parcel", staff=["lisi"])
    assert len(fake.contact_ways) == 1


async def test_a_refusal_part_way_leaves_nothing_on_wecom(store, fake, serve) -> None:
    served = await serve(store)
    fake.without_contact_permission.add("lisi")
    with pytest.raises(ChannelError, match="84074.*lisi"):
        await codes.create(store, served.router, "parcel", staff=["zhangsan", "lisi"])
    assert fake.contact_ways == {} and await codes.load(store) == []  # zhangsan's way was deleted again


async def test_a_multi_member_way_made_elsewhere_credits_its_state_and_wecom_picks_the_member(store, fake, serve):
    served = await serve(store)
    made = await served.router.wecom.api.call("/cgi-bin/externalcontact/add_contact_way",
                                              {"type": 2, "scene": 2, "state": "live", "user": ["a", "b"]})
    added = [(await fake.scan_contact_way(made["config_id"], user, served.wecom))[0] for user in ("wm1", "wm2", "wm3")]
    assert added == ["a", "b", "a"]
    assert [(await served.bot.runtime.customer(u)).attrs["channel"] for u in ("wm1", "wm2", "wm3")] == ["live"] * 3
    [row] = await acquisition.by_channel(store, "customer")
    assert (row.channel, row.added, row.staff) == ("live", 3, {"a": 2, "b": 1})
