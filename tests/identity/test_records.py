"""A linked customer's ids, current conversation and unionid keep Redis' compact record form."""

from __future__ import annotations

import pytest

from persona.model.customer import Customer, Timer
from persona.store.base import Commit
from persona.store.redis import records

NOW = 1_764_000_000

LINKED = [
    Customer("oSalon1", "welcomed", tags={"source": "wecom"}, first_seen=NOW, last_seen=NOW + 9,
             timers={"day3": Timer(NOW + 3 * 86400.0)}, ids={"oSalon1": "mp", "wmSalon1": "wecom"},
             current="wmSalon1", unionid="uSalonPerson1"),
    Customer("oSalon2", "new", first_seen=NOW, unionid=""),  # asked: the platform has none
    Customer("wm名字", "new", ids={"wm名字": "wecom", "o名字": "mp"}, current="o名字", unionid="u名字"),
]


@pytest.mark.parametrize("customer", LINKED, ids=["linked", "no-unionid", "unicode"])
def test_the_compact_form_carries_ids_and_reads_back_byte_for_byte(customer):
    record = customer.dump()
    codes: dict[str, int] = {}
    payload, missing = records.encode(record, codes.get)
    for name in missing:
        codes.setdefault(name, len(codes) + 1)
    payload, missing = records.encode(record, codes.get)
    assert payload is not None and not missing and len(payload) < len(record)
    names = {c: n for n, c in codes.items()}
    assert records.decode(payload, names.__getitem__) == record


@pytest.mark.parametrize("raw", [b'{"s":"a","p":["x"]}', b'{"s":"a","u":1}', b'{"s":"a","u":"x","c":"y"}'],
                         ids=["ids-not-a-mapping", "unionid-not-text", "out-of-order"])
def test_what_the_compact_form_cannot_carry_is_kept_as_given(raw):
    assert records.encode(raw, lambda name: 1) == (None, [])


async def test_a_linked_record_reads_back_from_every_store(store):
    record = LINKED[0].dump()
    await store.commit(Commit("oSalon1", 0, record, segments_add=["state:welcomed"]))
    assert (await store.load("oSalon1")).record == record
