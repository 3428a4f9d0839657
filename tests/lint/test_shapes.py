"""The shape of what a bot passes its scripts: a misspelt key of a passed value is caught by
lint (and so refused at publish) with "did you mean", from the code's types and the samples."""

from __future__ import annotations


import pytest

from persona.content.lint import ERROR, WARNING, lint
from tests.conftest import BotPackage

PERSONA = '''\
from dataclasses import dataclass
from typing import Any, TypedDict

from persona import Persona, Turn, on


class Product(TypedDict):
    name: str
    price: float


@dataclass
class Order:
    id: str
    total: float
    items: list[Product]

    @property
    def count(self) -> int:
        return len(self.items)


class Model:  # pydantic-style: its fields declared (model_fields), as pydantic models have
    model_fields = {"title": None, "url": None}
    title: str
    url: str


class Loose:  # annotated, but free to set any other attribute in __init__: not a known shape
    title: str

    def __init__(self) -> None:
        self.price = 9.9


def product(key: str) -> Product:
    return {"name": key, "price": 9.9}


def anything() -> dict[str, Any]:
    return {}


class Shop(Persona):
    states = ["new"]
    broadcasts = frozenset({"sale"})

    @on.text("buy")
    def bought(self, turn: Turn) -> None:
        order = Order("A1", 9.9, [product("面霜")])
        turn.say("thanks", product=product("面霜"), order=order)

    @on.text("look")
    def looked(self, turn: Turn, ) -> None:
        card: Model = self.card()
        turn.say("card", card=card, extra=anything())

    def card(self) -> Model:
        return Model()

    @on.text("loose")
    def loosely(self, turn: Turn) -> None:
        turn.say("loose", offer=Loose())

    def broadcast(self, turn: Turn, script: str) -> None:
        turn.say(script, category="marketing", deal=product("秒杀"))
'''


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """``shop(scripts..., samples=...)`` writes the bot and returns its import path."""
    package = BotPackage(tmp_path, "shop", PERSONA)
    monkeypatch.syspath_prepend(str(tmp_path))
    base = {"thanks": "谢谢 {{ product.name }}，共 {{ order.total }} 元", "card": "{{ card.title }}",
            "sale": "{{ deal.name }}", "loose": "{{ offer.title }} {{ offer.price }}"}  # Loose: not checked
    yield lambda samples=None, **scripts: package.write({**base, **scripts}, samples)
    package.forget()


def errors(report) -> list[str]:
    return [f"{p.file.rsplit('/', 1)[-1]}:{p.line}: {p.message}" for p in report.problems if p.severity == ERROR]


def test_the_bots_own_scripts_pass(shop):
    assert errors(lint(shop())) == []


def test_a_misspelt_key_of_a_typed_dict_is_an_error_with_did_you_mean(shop):
    found = errors(lint(shop(thanks="谢谢 {{ product.nmae }}")))
    assert len(found) == 1, found
    assert found[0].startswith("thanks.j2:1: 'product.nmae': product has no key 'nmae'")
    assert "Product" in found[0] and "did you mean product.name?" in found[0]


def test_dataclass_fields_properties_and_list_items_are_known(shop):
    ok = "{{ order.id }} {{ order.count }} {% for p in order.items %}{{ p.name }} {{ p.price }}{% endfor %}"
    assert errors(lint(shop(thanks=ok))) == []
    bad = "{% for p in order.items %}{{ p.prise }}{% endfor %} {{ order.totl }}"
    found = errors(lint(shop(thanks=bad)))
    assert any("'order.items[...].prise'" in f and "did you mean order.items[...].price?" in f for f in found), found
    assert any("'order.totl'" in f and "did you mean order.total?" in f for f in found), found


def test_an_annotated_variable_with_a_plain_class_is_known_and_an_untyped_value_is_not_guessed(shop):
    found = errors(lint(shop(card="{{ card.titel }} {{ extra.whatever }}")))
    assert len(found) == 1 and "'card.titel'" in found[0] and "did you mean card.title?" in found[0], found


def test_a_broadcast_only_script_is_checked_against_what_broadcast_passes(shop):
    found = errors(lint(shop(sale="{{ deal.nam }} {{ until }}")))
    assert any("'deal.nam'" in f for f in found), found
    assert any("'until' is not given" in f and "broadcast()" in f for f in found), found


def test_a_sample_gives_shapes_for_values_the_code_does_not_type(shop):
    samples = {"looker": {"state": "new", "card": {"title": "新品", "url": "https://x"},
                          "extra": {"coupon": {"code": "NEW10"}}}}
    found = errors(lint(shop(samples=samples, card="{{ extra.coupon.cod }}")))
    assert len(found) == 1 and "'extra.coupon.cod'" in found[0] and "samples/looker.json" in found[0], found
    assert "did you mean extra.coupon.code?" in found[0]


def test_each_script_is_rendered_with_every_sample_that_gives_what_it_needs(shop):
    samples = {"buyer": {"state": "new", "product": {"name": "面霜", "price": 0},
                         "order": {"id": "A1", "total": 0, "items": []}}}
    found = errors(lint(shop(samples=samples, thanks="每元 {{ 100 / order.total }} 分")))
    assert any(f.startswith("thanks.j2:1: rendered for samples/buyer.json") and "ZeroDivisionError" in f
               for f in found), found
    assert errors(lint(shop(samples=samples))) == []


def test_no_warning_that_a_broadcast_script_is_never_said(shop):
    report = lint(shop())
    assert not [p for p in report.problems if p.severity == WARNING and "never said" in p.message]


async def test_publishing_a_misspelt_key_of_a_passed_value_is_refused_with_the_line_and_a_fix():
    from persona.content.scripts import ScriptCatalog
    from persona.errors import ScriptRejected
    from persona.model.persona import load_persona
    from persona.store import open_store

    cls = load_persona("bots.xiaowanzi")
    store = open_store("memory://", "xiaowanzi")
    text = (cls.folder() / "scripts" / "recall.j2").read_text(encoding="utf-8")
    assert "offer.coupon.rule" in text
    with pytest.raises(ScriptRejected) as refused:
        await ScriptCatalog(cls, store).publish("recall", text.replace("offer.coupon.rule", "offer.coupon.rul"),
                                                author="wendy")
    message = str(refused.value)
    assert "recall.j2:4" in message and "did you mean offer.coupon.rule?" in message, message
    assert await store.script_versions("recall") == []  # nothing went live


def test_a_sample_for_some_scripts_gives_shapes_to_those_alone(shop):
    elsewhere = {"buyer": {"scripts": ["thanks"], "extra": {"coupon": {"code": "NEW10"}}}}
    assert errors(lint(shop(samples=elsewhere, card="{{ extra.coupon.amount }}"))) == []
    everywhere = {"buyer": {"extra": {"coupon": {"code": "NEW10"}}}}
    found = errors(lint(shop(samples=everywhere, card="{{ extra.coupon.amount }}")))
    assert len(found) == 1 and "'extra.coupon.amount'" in found[0], found


def test_a_sample_that_cannot_be_used_is_an_error_not_a_crash(shop):
    found = errors(lint(shop(samples={"bad": {"now": "tomorrow"}})))
    assert len(found) == 1 and found[0].startswith("bad.json:0: this sample cannot be used"), found
