"""Routes decide whether they match; ``Persona.register`` adds a handler from code, as the
decorators do; a retried input answers with the first attempt's status in its own field."""

from __future__ import annotations

import pytest

from persona import (BusinessEvent, DefinitionError, FakeClock, MediaMessage, PlatformEvent, Runtime, Status,
                     TextMessage, Turn, on)
from persona.handlers import RouteKind
from persona.store import open_store
from tests.core.shop import Shop


def test_each_route_says_whether_it_takes_an_input_in_a_state():
    price = on.text("价格", states="welcomed").route
    assert price.kind is RouteKind.TEXT
    assert price.matches(TextMessage(user="u", text=" 价格 "), "welcomed")
    assert not price.matches(TextMessage(user="u", text="价格"), "new")  # not in this state
    assert not price.matches(TextMessage(user="u", text="价格呢"), "welcomed")  # not the whole message

    order = on.regex(r"订单\s*(\d+)").route.matches(TextMessage(user="u", text="订单 42"), "new")
    assert order and order.group(1) == "42"  # a regex route answers with its match

    click = on.wechat("click", key="MENU_A").route
    assert click.matches(PlatformEvent(user="u", name="click", key="MENU_A"), "new")
    assert not click.matches(PlatformEvent(user="u", name="click", key="MENU_B"), "new")
    assert on.media("image").route.matches(MediaMessage(user="u", media_type="image"), "new")
    assert not on.media("image").route.matches(MediaMessage(user="u", media_type="voice"), "new")
    assert not on.event("paid").route.matches(TextMessage(user="u", text="paid"), "new")


def test_the_first_route_by_precedence_wins():
    routes = Shop.routes
    exact = routes.match(TextMessage(user="u", text="多少钱"), "new")
    assert exact is not None and exact[1] == "price"
    keyword = routes.match(TextMessage(user="u", text="我的订单到哪了"), "new")
    assert keyword is not None and keyword[1] == "order_status"
    other = routes.match(TextMessage(user="u", text="hello"), "new")
    assert other is not None and other[1] == "anything"
    assert routes.match(PlatformEvent(user="u", name="unsubscribe"), "new") is None


async def test_a_handler_registered_from_code_is_reached_like_a_decorated_one(tmp_path):
    class Outlet(Shop):
        pass

    def refunded(persona: Outlet, turn: Turn) -> None:
        turn.tag("refunded", turn.data["amount"])

    Outlet.register(refunded, on.event("refund").route)
    assert "refund" in Outlet.event_names() and "refund" not in Shop.event_names()
    store = open_store("memory://", "outlet")
    runtime = Runtime(Outlet(), store, FakeClock("2026-11-23 10:00"))
    done = await runtime.handle(BusinessEvent(user="u1", name="refund", data={"amount": 30}, dedupe_key="r1"))
    assert done.status is Status.DONE and done.customer and done.customer.tags["refunded"] == "30"


def test_register_checks_what_the_decorators_check():
    class Outlet(Shop):
        pass

    def late(persona: Outlet, turn: Turn) -> None:
        pass

    with pytest.raises(DefinitionError, match="states= names unknown state 'gone'"):
        Outlet.register(late, on.event("late", states="gone").route)
    with pytest.raises(DefinitionError, match="timer 'review' has two handlers"):
        Outlet.register("day3", on.timer("review").route)
    with pytest.raises(DefinitionError, match="not a method"):
        Outlet.register("no_such_method", on.event("x").route)


async def test_a_retry_answers_with_the_first_status_in_its_own_field():
    store = open_store("memory://", "shop")
    runtime = Runtime(Shop(), store, FakeClock("2026-11-23 10:00"))
    first = await runtime.handle(TextMessage(user="u1", text="boom", dedupe_key="m1"))
    again = await runtime.handle(TextMessage(user="u1", text="boom", dedupe_key="m1"))
    assert first.status is Status.ERROR and first.first_status is None
    assert again.status is Status.DUPLICATE and again.first_status is Status.ERROR and again.error is None
