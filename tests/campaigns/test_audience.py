"""Audiences: parsed with errors that point at the column, checked against the persona, and
answered by the store (its segment index first, records only where the index cannot answer)."""

from __future__ import annotations

import pytest

from persona.clock import parse_time
from persona.engine.audience import plan, select
from persona.model.audience import AudienceError, parse, parse_audience
from persona.model.customer import Customer
from persona.model.persona import load_persona
from persona.store.base import Commit

XIAOWANZI = load_persona("bots.xiaowanzi")
NOW = parse_time("2026-11-23 12:00")
DAY = 86400.0


async def seed(store) -> None:
    """Five customers of 小完子 with tags, attributes and dates of their own."""
    people = [
        Customer("amy", "welcomed", tags={"source": "parcel", "in_group": ""}, attrs={"spend": 800,
                 "last_order": "2026-11-10"}, first_seen=NOW - 40 * DAY, last_inbound=NOW - DAY),
        Customer("bob", "customer", tags={"source": "store"}, attrs={"spend": 120, "last_order": "2026-09-01"},
                 first_seen=NOW - 3 * DAY),
        Customer("cat", "new", tags={"source": "parcel", "opted_out": ""}, attrs={"spend": "650"},
                 first_seen=NOW - 2 * DAY),
        Customer("dee", "claimed", tags={"product": "lipstick", "in_group": ""}, attrs={"level": "gold member"},
                 first_seen=NOW - 100 * DAY),
        Customer("eve", "welcomed", tags={}, first_seen=NOW - 5 * DAY),
    ]
    for c in people:
        await store.commit(Commit(c.id, 0, c.dump(), segments_add=sorted(c.segments(XIAOWANZI.indexed_tags))))


CASES = {
    "all": ["amy", "bob", "cat", "dee", "eve"],
    "state:welcomed+tag:source=parcel": ["amy"],  # the segment syntax of old
    "tag:source=parcel OR tag:in_group": ["amy", "cat", "dee"],
    "tag:in_group AND NOT state:claimed": ["amy"],
    "NOT (tag:source OR tag:product)": ["eve"],
    "tag:source != parcel": ["bob", "dee", "eve"],
    "tag:source ≠ parcel AND NOT tag:opted_out": ["bob", "dee", "eve"],
    "attr:spend > 500": ["amy", "cat"],
    "attr:spend < 500 OR attr:level = \"gold member\"": ["bob", "dee"],
    "tag:source AND attr:spend > 500 AND NOT tag:opted_out": ["amy"],
    "attr:last_order within 30d": ["amy"],
    "attr:last_order > 2026-10-01": ["amy"],
    "attr:last_order < 2026-10-01": ["bob"],
    "first_seen within 7d": ["bob", "cat", "eve"],
    "last_inbound within 2d OR first_seen < 2026-09-01": ["amy", "dee"],
    "first_seen = 2026-11-20": ["bob"],
}


@pytest.mark.parametrize("text", list(CASES))
async def test_the_store_answers_an_audience(store, text):
    await seed(store)
    node = parse_audience(text, XIAOWANZI)
    assert await select(store, node, NOW, XIAOWANZI.timezone) == CASES[text]


def test_the_plan_says_what_the_index_answers_and_what_reads_records():
    only_index = plan(parse("tag:source=parcel OR tag:in_group"))
    assert only_index.indexed == ("tag:source=parcel", "tag:in_group")
    assert not only_index.reads_records and not only_index.reads_everyone
    narrowed = plan(parse("tag:source AND attr:spend > 500"))
    assert narrowed.reads_records and not narrowed.reads_everyone  # only tag:source's records
    everyone = plan(parse("attr:spend > 500 OR tag:in_group"))
    assert everyone.reads_records and everyone.reads_everyone


@pytest.mark.parametrize("text, column, words", [
    ("state:welcome", 1, "did you mean 'welcomed'"),
    ("tag:prodcut=lipstick", 1, "did you mean 'product'"),
    ("tag:in_group AND", 17, "ends where a condition should be"),
    ("(tag:in_group OR state:new", 27, "expected ) to close the ( at column 1"),
    ("tag:in_group)", 13, "this ) closes nothing"),
    ("tag:in_group tag:source", 14, "expected AND, OR or the end"),
    ("atr:spend > 5", 1, "did you mean 'attr'"),
    ("attr:spend", 11, "needs a comparison"),
    ("attr:spend > lots", 14, "compare numbers or dates"),
    ("attr:last_order within soon", 24, "is not a span"),
    ("first_seen > yesterday", 14, "compare it with a date"),
    ('attr:level = "gold', 14, "never closed"),
    ("", 1, "the audience is empty"),
    ("tag:source ! parcel", 12, "write != (or ≠)"),
])
def test_a_wrong_audience_says_where_and_what_to_write(text, column, words):
    with pytest.raises(AudienceError) as err:
        parse_audience(text, XIAOWANZI)
    assert err.value.column == column, str(err.value)
    assert words in str(err.value)
    assert str(err.value).splitlines()[-1] == "  " + " " * (column - 1) + "^"


def test_the_tree_reads_back_as_an_audience():
    node = parse("tag:in_group AND (attr:spend > 500 OR NOT state:new)")
    assert str(node) == "tag:in_group AND (attr:spend>500 OR NOT state:new)"
    assert parse(str(node)) == parse("tag:in_group AND (attr:spend>500 OR NOT state:new)")
