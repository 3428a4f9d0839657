"""The brand's data 小完子 talks about: products, coupons, offers and bands, from ``catalogue.json``.

Marketers edit the JSON; this module only reads it and answers the few questions the persona
asks (which product is this, what does this coupon say, which band is this amount in).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict


# What the scripts are given, by shape: ``persona lint`` checks every key a script reads
# (``{{ offer.coupon.rule }}``) against these, so a misspelt one is refused before it is live.
class Product(TypedDict):
    key: str
    name: str
    category: str
    price: float
    keywords: list[str]
    coupon: str
    pitch: str
    usage: str
    related: list[str]


class Coupon(TypedDict):
    code: str
    title: str
    amount: float
    threshold: float
    valid_days: int
    rule: str  # the rule in words: 满199减30, 无门槛减10
    url: str


class RecallOffer(TypedDict):
    level: str
    gift: str
    coupon: Coupon | None


class Offer(TypedDict, total=False):
    kind: str  # coupon, full_price, first_order
    line: str
    coupon: Coupon | None
    gift: str
    threshold: float


class FlashSale(TypedDict):
    title: str
    product: Product
    price: float
    was: float
    starts: str
    url: str


DATA: dict[str, Any] = json.loads(Path(__file__).with_name("catalogue.json").read_text(encoding="utf-8"))
PRODUCTS: dict[str, Product] = {key: {"key": key, **p} for key, p in DATA["products"].items()}
GROUP: dict[str, str] = DATA["group"]
SHOP_URL: str = DATA["shop_url"]

#: every word a customer may use to ask about a product, longest first ("粉底液" before "粉底")
PRODUCT_WORDS: tuple[str, ...] = tuple(sorted({w for p in PRODUCTS.values() for w in p["keywords"]},
                                              key=len, reverse=True))


def coupon(code: str | None) -> Coupon | None:
    """A coupon as scripts show it: title, amount, its rule in words and the link to claim it."""
    if not code:
        return None
    raw = DATA["coupons"].get(code, {"title": code, "amount": 0, "threshold": 0, "valid_days": 7})
    rule = f"满{raw['threshold']}减{raw['amount']}" if raw["threshold"] else f"无门槛减{raw['amount']}"
    return {"code": code, **raw, "rule": rule, "url": f"{SHOP_URL}/coupon/{code}"}


def product_coupon(product: str | None) -> Coupon:
    """The coupon that goes with a product; the new-friend coupon when there is no product."""
    code = PRODUCTS[product]["coupon"] if product in PRODUCTS else DATA["default_coupon"]
    found = coupon(code)
    assert found is not None
    return found


def find_product(text: str) -> str | None:
    """The product a message, a URL or an order line talks about (its key), if any."""
    folded = text.casefold()
    for key, product in PRODUCTS.items():
        if key in folded or product["name"] in text:
            return key
    for word in PRODUCT_WORDS:
        if word in text:
            return next(k for k, p in PRODUCTS.items() if word in p["keywords"])
    return None


def product_url(key: str) -> str:
    return f"{SHOP_URL}/p/{key}"


def price_band(amount: float) -> str:
    """low / mid / high, for the first purchase's price."""
    bands = DATA["price_bands"]
    return "low" if amount < bands["low_below"] else "mid" if amount < bands["mid_below"] else "high"


def spend_level(spent: float) -> str:
    """none / low / mid / high, for everything a customer has spent (grades the recall offer)."""
    levels = DATA["spend_levels"]
    if spent <= 0:
        return "none"
    return "low" if spent < levels["low_below"] else "mid" if spent < levels["mid_below"] else "high"


def recall_offer(level: str) -> RecallOffer:
    raw = DATA["recall"][level]
    return {"level": level, "gift": raw["gift"], "coupon": coupon(raw["coupon"])}


def offer_for(discount: str) -> Offer:
    """The day-15 offer for a discount preference (``coupon``, ``full_price``, ``first_order``)."""
    raw = dict(DATA["offers"][discount])
    raw["kind"] = discount
    raw["coupon"] = coupon(raw.get("coupon"))
    return raw


def flash_sale() -> FlashSale:
    raw = DATA["flash_sale"]
    product = PRODUCTS[raw["product"]]
    return {**raw, "product": product, "was": product["price"]}
