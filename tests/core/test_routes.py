"""Routes decide whether they match; ``Persona.register`` adds a handler from code, as the
decorators do; a retried input answers with the first attempt's status in its own field."""

from __future__ import annotations

import re
import time

import pytest

from persona import (BusinessEvent, DefinitionError, FakeClock, MediaMessage, PlatformEvent, Runtime, Status,
                     TextMessage, Turn, on)
from persona.model.handlers import Route, RouteKind
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


async def test_a_pattern_that_backtracks_on_what_a_customer_sent_gives_up_instead_of_freezing(caplog):
    class Careless(Shop):
        @on.regex(r"^(a|aa)+b$")  # catastrophic on a long run of a's with no b: 2^n ways to split
        def a_then_b(self, turn: Turn) -> None:
            turn.tag("matched")

    runtime = Runtime(Careless(), open_store("memory://", "careless"), FakeClock("2026-11-23 10:00"))
    # with the standard re this search runs for hours, and every other customer would wait behind
    # it; the bound below only tells a hang from the 50 ms budget
    started = time.monotonic()
    done = await runtime.handle(TextMessage(user="u1", text="a" * 80, dedupe_key="m1"))
    assert time.monotonic() - started < 10
    assert done.status is Status.DONE and done.customer is not None
    assert "matched" not in done.customer.tags and done.customer.counters["chats"] == 1  # the next route took it
    assert "gave up on a message of 80 characters" in caplog.text and "(a|aa)+b" in caplog.text

    quick = await runtime.handle(TextMessage(user="u2", text="aab", dedupe_key="m2"))
    assert quick.customer is not None and "matched" in quick.customer.tags  # the pattern itself still works


def test_the_regex_routes_of_one_message_share_one_budget(caplog):
    class Twice(Shop):
        @on.regex(r"^(a|aa)+b$")
        def first(self, turn: Turn) -> None:
            pass

        @on.regex(r"^(a|aa)+c$")
        def second(self, turn: Turn) -> None:
            pass

    found = Twice.routes.match(TextMessage(user="u", text="a" * 80), "new")
    assert found is not None and found[1] == "anything"
    gave_up = [r.getMessage() for r in caplog.records if "gave up" in r.getMessage()]
    assert len(gave_up) == 2 and "(a|aa)+b" in gave_up[0] and "(a|aa)+c" in gave_up[1]


def test_a_route_built_by_hand_with_an_re_pattern_is_given_a_timeout_too():
    class ByHand(Shop):
        pass

    def ticket(persona: ByHand, turn: Turn) -> None:
        pass

    ByHand.register(ticket, Route(RouteKind.REGEX, pattern=re.compile(r"工单\s*(\d+)", re.I)))
    found = ByHand.routes.match(TextMessage(user="u", text="工单 7"), "new")
    assert found is not None and found[1] == "ticket" and found[2] is not None and found[2].group(1) == "7"


def test_a_pattern_that_does_not_compile_is_refused_when_the_class_is_written():
    with pytest.raises(DefinitionError, match=r"@on.regex\('订单\(\\\\d\+'\): not a valid pattern"):
        on.regex(r"订单(\d+")


async def test_a_tag_name_with_an_equals_sign_is_refused_as_it_would_share_a_segment():
    class Tagger(Shop):
        @on.text("tag me", "tag nothing")
        def tag_me(self, turn: Turn) -> None:
            # "source=parcel" would be the segment of tag("source", "parcel")
            turn.tag("source=parcel" if turn.input.text == "tag me" else "")

    runtime = Runtime(Tagger(), open_store("memory://", "tagger"), FakeClock("2026-11-23 10:00"))
    done = await runtime.handle(TextMessage(user="u1", text="tag me", dedupe_key="m1"))
    assert done.status is Status.ERROR and "turn.tag('source=parcel')" in (done.error or "")
    assert done.customer is not None and "source=parcel" not in done.customer.tags

    with pytest.raises(DefinitionError, match=r"Indexed.indexed_tags has 'a=b': a tag name"):
        class Indexed(Shop):
            indexed_tags = frozenset({"source", "a=b"})
    with pytest.raises(DefinitionError, match=r"Named.tag_names has '', 3: a tag name"):
        class Named(Shop):
            tag_names = frozenset({"", 3, "ok"})  # type: ignore[arg-type]

    empty = await runtime.handle(TextMessage(user="u2", text="tag nothing", dedupe_key="m2"))
    assert empty.status is Status.ERROR and "turn.tag('')" in (empty.error or "")
