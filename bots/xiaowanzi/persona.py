"""小完子: the beauty brand's IP — a friend in WeChat who hands out coupons, answers questions,
looks after orders and brings quiet customers back.

The flow a marketer would draw (README.md has the diagram): a customer finds 小完子 through the
red-packet card in a parcel or a store's QR code (the code's scene is the source), adds her and
is welcomed with a coupon for the product they were looking at and the invite to the group.
Three hours later the coupon decides the next message: still unclaimed, a reminder (and a
second pitch two days on); claimed but unused, "it expires soon"; an order instead brings
service messages. Day 7 / 15 / 30 and thirty quiet days bring follow-ups chosen by tags.

Handlers record facts (attrs and counters); one rule turns facts into tags after every input,
so a tag is never out of date and segments always match the record.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from persona import EventDataError, HandoffSpec, Persona, PlatformEvent, Policy, Turn, on

from . import catalogue as cat

RECALL_AFTER = timedelta(days=30)
RECALLS_WITHOUT_ANSWER = 2
DAY30 = timedelta(days=30)  # the day-30 follow-up (``day30`` below)
ORDER_CARE_AFTER = timedelta(hours=3)
HINT_EVERY = 24 * 3600

#: ``qrscene_parcel_lipstick`` / ``parcel-lipstick`` / ``store_sh021``: source, then product or shop
_SCENE = re.compile(r"[_\-.:]")
# a beauty IP people keep for years: fewer messages than the platform would allow
POLICY = Policy(daily_cap=2, weekly_cap=6)


class Xiaowanzi(Persona):
    name = "xiaowanzi"
    voice = "小完子：完美日记的美妆闺蜜，亲切活泼，叫客户“亲”或“宝”，句尾爱用～，讲产品说实际用法，不夸大功效。"
    states = ["new", "welcomed", "claimed", "customer"]
    initial = "new"
    transitions = [
        ["add", "new", "welcomed"],
        ["claim", ["new", "welcomed"], "claimed"],
        ["order", ["new", "welcomed", "claimed", "customer"], "customer"],
    ]
    policy = POLICY
    broadcasts = frozenset({"flash_sale"})  # persona broadcast bots.xiaowanzi SEGMENT flash_sale
    agent_scripts = frozenset({"agent_return_policy", "agent_coupon"})  # 话术库: offered to agents in the WeCom sidebar
    handoff = HandoffSpec(  # 转人工: who answers, when, and what the customer and the staff member hear
        agents=("wanzi_kefu1", "wanzi_kefu2"), hours='09:00-22:00',  # in turn, each in their shift
        shifts={"wanzi_kefu1": "09:00-16:00", "wanzi_kefu2": "14:00-22:00"},
        ack="handoff_ack", offline="handoff_offline", notify="handoff_notify",
        back="handoff_back", back_notify="handoff_back_notify",
        desk_url="https://studio.example.com/agents/{bot}?user={user}")
    indexed_tags = frozenset({"source", "product", "discount", "first_price", "spend", "in_group",
                              "member", "opted_out"})

    # -- arriving ----------------------------------------------------------------------------
    @on.wechat("add_external_contact", "add_half_external_contact", "subscribe", "scan")
    async def arrived(self, turn: Turn) -> None:
        """Added on WeCom (the contact way's State is the scene) or followed the Official
        Account through a parametric QR code (the scene key)."""
        inp = turn.input
        assert isinstance(inp, PlatformEvent)
        source, product, shop = parse_scene(inp.key, default="direct" if inp.name.startswith("add_") else "search")
        attrs = turn.customer.attrs
        attrs.setdefault("source", source)  # the first touch keeps the credit
        if product:
            turn.set("product", product)
        if shop:
            turn.set("shop", shop)
        first = "added_at" not in attrs
        turn.set("added_at", attrs.get("added_at", turn.now))
        if turn.data.get("staff"):
            turn.set("staff", turn.data["staff"])
        await turn.trigger("add")
        # WeCom's welcome code is single use: everything goes in one welcome message
        via = "welcome" if turn.data.get("welcome_code") else ""
        if first:
            offer = cat.product_coupon(attrs.get("product"))
            turn.set("offered", offer["code"])
            turn.say("welcome", via=via, offer=offer)
        else:
            turn.say("welcome_back", via=via)

    # -- the brand's systems -----------------------------------------------------------------
    @on.event("registered", data={"source?": str, "product?": str, "phone?": (str, int)})
    def registered(self, turn: Turn) -> None:
        """A member signed up in the mini program. 小完子 cannot reach them before they add her:
        the invitation itself is the brand's SMS / mini-program message."""
        data = turn.data
        if data.get("source"):
            turn.customer.attrs.setdefault("source", str(data["source"]).lower())
        if data.get("product") in cat.PRODUCTS:
            turn.set("product", data["product"])
        if data.get("phone"):
            turn.set("member", True)  # the number itself stays in the brand's CRM

    @on.event("coupon_claimed", data={"coupon": str})
    async def coupon_claimed(self, turn: Turn) -> None:
        found = cat.coupon(str(turn.data["coupon"]))
        if found is None:  # an empty code; a code the catalogue lacks is still a coupon, shown by its code
            raise EventDataError("coupon_claimed: 'coupon' is an empty code", fields=["coupon"])
        turn.incr("coupons_claimed")
        turn.set("coupon", {"code": found["code"], "expires": turn.now + found["valid_days"] * 86400,
                            "used": False})
        turn.set("last_active", turn.now)
        await turn.trigger("claim")

    @on.event("order_placed", data={"order_id": (str, int), "amount": float, "items?": list})
    async def order_placed(self, turn: Turn) -> None:
        data, attrs = turn.data, turn.customer.attrs
        order_id = str(data["order_id"])
        if (attrs.get("last_order") or {}).get("id") == order_id:
            return  # the same order posted twice under two event ids
        amount = round(float(data["amount"]), 2)
        items = order_items(data.get("items"))
        if not turn.customer.counters.get("orders"):
            turn.set("first_order_amount", amount)
        turn.incr("orders")
        turn.set("spent", round(float(attrs.get("spent", 0)) + amount, 2))
        held = attrs.get("coupon")
        used = bool(held and not held["used"] and held["expires"] > turn.now)
        if used:
            held["used"] = True
            turn.incr("orders_with_coupon")
        points = int(amount * cat.DATA["points_per_yuan"])
        turn.set("points", int(attrs.get("points", 0)) + points)
        bought = [i["product"] for i in items if i["product"]]
        if bought:
            turn.set("product", bought[0])
        turn.set("last_order", {"id": order_id, "amount": amount, "status": "placed",
                                "items": [i["name"] for i in items]})
        turn.set("last_active", turn.now)
        await turn.trigger("order")
        turn.say("order_thanks", category="service", order=attrs["last_order"], points=points,
                 used_coupon=cat.coupon(held["code"]) if used and held else None)
        turn.schedule("order_care", after=ORDER_CARE_AFTER, data={"order_id": order_id, "products": bought})

    @on.event("order_shipped", data={"order_id": (str, int), "tracking": (str, int)})
    def order_shipped(self, turn: Turn) -> None:
        order = turn.customer.attrs.get("last_order") or {"id": str(turn.data["order_id"]), "items": []}
        if order.get("id") == str(turn.data["order_id"]):
            order.update(status="shipped", tracking=str(turn.data["tracking"]))
            turn.set("last_order", order)
        turn.say("order_shipped", category="service", order_id=str(turn.data["order_id"]),
                 tracking=str(turn.data["tracking"]))

    @on.event("joined_group", data={})
    def joined_group(self, turn: Turn) -> None:
        turn.set("in_group", True)
        turn.set("last_active", turn.now)

    @on.event("link_clicked", data={"url": str})
    def link_clicked(self, turn: Turn) -> None:
        product = cat.find_product(str(turn.data.get("url", "")))
        if product:
            turn.set("product", product)
        turn.set("last_active", turn.now)

    @on.event("app_opened", data={})
    def app_opened(self, turn: Turn) -> None:
        turn.set("last_active", turn.now)

    # -- what customers type (replies: they asked, so they are service) ----------------------
    @on.text(*POLICY.opt_out_words)
    def opted_out(self, turn: Turn) -> None:
        """The framework has already stopped marketing; just say so, kindly."""
        turn.say("opt_out_ack", category="service")

    @on.text(*POLICY.opt_in_words)
    def opted_in(self, turn: Turn) -> None:
        turn.say("opt_in_ack", category="service")

    @on.keyword("订单", "物流", "快递", "发货")
    def order_status(self, turn: Turn) -> None:
        turn.say("order_status", category="service")

    @on.keyword("券", "优惠", "折扣", "便宜")
    def coupon_question(self, turn: Turn) -> None:
        offered = turn.customer.attrs.get("offered")
        turn.say("coupon_info", category="service", offer=cat.coupon(offered) if offered else
                 cat.product_coupon(turn.customer.attrs.get("product")))

    @on.keyword("进群", "入群", "社群", "群")
    def group_question(self, turn: Turn) -> None:
        turn.say("group_invite", category="service")

    @on.keyword(*cat.PRODUCT_WORDS, "多少钱", "价格", "推荐")
    def product_question(self, turn: Turn) -> None:
        key = cat.find_product(turn.text) or turn.customer.attrs.get("product")
        if key:
            turn.set("product", key)
        turn.say("product_info", category="service",
                 asked=cat.PRODUCTS[key] if key else None, coupon=cat.product_coupon(key))

    @on.text()
    def anything_else(self, turn: Turn) -> None:
        """Real people read the chat too: show what 小完子 can do, at most once a day."""
        if turn.now - float(turn.customer.attrs.get("hinted_at", 0)) >= HINT_EVERY:
            turn.set("hinted_at", turn.now)
            turn.say("help", category="service")

    # -- the clock: three hours after, by coupon state ---------------------------------------
    @on.timer("coupon_nudge", after="3h", state="welcomed", when="reachable")
    def coupon_nudge(self, turn: Turn) -> None:
        turn.say("coupon_reminder", offer=cat.coupon(turn.customer.attrs.get("offered")))

    @on.timer("second_pitch", after="2d", state="welcomed", when="reachable")
    def second_pitch(self, turn: Turn) -> None:
        key = turn.customer.attrs.get("product")
        pitched = cat.PRODUCTS.get(key or "") or next(iter(cat.PRODUCTS.values()))
        turn.say("second_pitch", pitched=pitched, offer=cat.coupon(turn.customer.attrs.get("offered")))

    @on.timer("expiry_nudge", after="3h", state="claimed", when="reachable")
    def expiry_nudge(self, turn: Turn) -> None:
        held = turn.customer.attrs.get("coupon")
        if held and not held["used"] and held["expires"] > turn.now:
            turn.say("coupon_expiring", held=cat.coupon(held["code"]), expires=held["expires"])

    @on.timer("order_care", service=True)
    def order_care(self, turn: Turn) -> None:
        """Set by each order: how to use what was bought, then the group if not in it yet."""
        bought = [cat.PRODUCTS[k] for k in turn.timer_data.get("products", []) if k in cat.PRODUCTS]
        turn.say("order_care", category="service", bought=bought, order_id=turn.timer_data.get("order_id"))
        if not turn.customer.attrs.get("in_group"):
            turn.say("group_invite")

    # -- the clock: day 7 / 15 / 30, chosen by tags -------------------------------------------
    @on.timer("day7", days_after_joining=7, at="10:00", when="reachable")
    def day7(self, turn: Turn) -> None:
        key = turn.customer.tags.get("product")
        base = cat.PRODUCTS.get(key or "")
        related = [cat.PRODUCTS[k] for k in base["related"]] if base else list(cat.PRODUCTS.values())[:2]
        turn.say("day7_related", base=base, related=related)

    @on.timer("day15", days_after_joining=15, at="10:00", when="reachable")
    def day15(self, turn: Turn) -> None:
        bought = turn.customer.counters.get("orders", 0) > 0
        kind = turn.customer.tags.get("discount", "coupon") if bought else "first_order"
        turn.say("day15_offer", offer=cat.offer_for(kind))

    @on.timer("day30", days_after_joining=DAY30.days, at="10:00", when="reachable")
    def day30(self, turn: Turn) -> None:
        if turn.customer.counters.get("orders", 0) > 0:  # only someone who bought can vouch
            turn.say("day30_referral", gift=cat.coupon("FRIEND20"))

    # -- the clock: thirty quiet days ---------------------------------------------------------
    @on.timer("recall")
    def recall(self, turn: Turn) -> None:
        """Armed by :meth:`tag_customer` thirty days after the last sign of life."""
        attrs = turn.customer.attrs
        turn.set("recalled_at", turn.now)
        turn.set("recalls", int(attrs.get("recalls", 0)) + 1)
        turn.say("recall", offer=cat.recall_offer(turn.customer.tags.get("spend", "none")))

    # -- broadcasts -------------------------------------------------------------------------
    def broadcast(self, turn: Turn, script: str) -> None:
        """One customer of a broadcast segment: ``script`` as proactive marketing, through the
        gate like everything else (opted-out and capped customers get nothing). Customers who
        never added 小完子 are skipped: there is no way to reach them."""
        if self.reachable(turn):
            turn.say(script, category="marketing")

    # -- real-time tags -----------------------------------------------------------------------
    @on.rule
    def tag_customer(self, turn: Turn) -> None:
        c = turn.customer
        attrs, counters = c.attrs, c.counters
        for tag in ("source", "product"):
            if attrs.get(tag):
                turn.tag(tag, attrs[tag])
        orders = counters.get("orders", 0)
        if counters.get("orders_with_coupon") or (not orders and counters.get("coupons_claimed")):
            turn.tag("discount", "coupon")
        elif orders:
            turn.tag("discount", "full_price")
        if "first_order_amount" in attrs:
            turn.tag("first_price", cat.price_band(attrs["first_order_amount"]))
        turn.tag("spend", cat.spend_level(float(attrs.get("spent", 0))))
        for flag in ("in_group", "member"):
            if attrs.get(flag):
                turn.tag(flag)
        self._arm_recall(turn)

    def _arm_recall(self, turn: Turn) -> None:
        """Keep one recall pending, thirty days after the latest sign of life (a message, the
        app opened, a link clicked, an order) or after the last recall; stop after two recalls
        nobody answered. Business events count as life here, which ``inactive=`` timers cannot see."""
        c = turn.customer
        attrs = c.attrs
        if not self.reachable(turn) or c.opted_out:
            return
        alive = int(max(c.last_inbound, attrs.get("last_active", 0), attrs["added_at"]))
        recalled = int(attrs.get("recalled_at", 0))
        if alive > recalled and attrs.get("recalls"):
            turn.set("recalls", None)
        if int(attrs.get("recalls", 0)) >= RECALLS_WITHOUT_ANSWER:
            turn.cancel("recall")
            return
        due = max(alive, recalled) + RECALL_AFTER.total_seconds()
        due = self._clear_of_day30(turn, due)
        pending = c.timers.get("recall")
        if pending is None or pending.due != due:
            turn.schedule("recall", at=due, bound=False)

    def _clear_of_day30(self, turn: Turn, due: float) -> float:
        """A buyer who has been quiet since joining would get the recall and the day-30 referral
        on the same day; a WeCom customer gets one mass message a day, so the second would be
        dropped. The referral keeps its day and the recall comes the day after."""
        c = turn.customer
        if not c.counters.get("orders", 0):
            return due  # no referral on day 30: nothing to make room for
        tz = ZoneInfo(turn.tz)
        joined = datetime.fromtimestamp(c.first_seen or turn.now, tz).date()
        if datetime.fromtimestamp(due, tz).date() == joined + DAY30:
            return due + timedelta(days=1).total_seconds()
        return due

    # -- guards and script variables -----------------------------------------------------------
    def reachable(self, turn: Turn) -> bool:
        """小完子 can only talk to someone who added her (or followed the account)."""
        return "added_at" in turn.customer.attrs

    def context(self, turn: Turn) -> dict[str, Any]:
        attrs = turn.customer.attrs
        held = attrs.get("coupon")
        my_coupon = None
        if held:
            my_coupon = {**(cat.coupon(held["code"]) or {}), "expires": held["expires"], "used": held["used"]}
        return {
            "brand": cat.DATA["brand"],
            "group": cat.GROUP,
            "shop_url": cat.SHOP_URL,
            "product": cat.PRODUCTS.get(attrs.get("product") or ""),
            "products_list": list(cat.PRODUCTS.values()),
            "my_coupon": my_coupon,
            "last_order": attrs.get("last_order"),
            "points_balance": int(attrs.get("points", 0)),
            "sale": cat.flash_sale(),
        }


def parse_scene(key: str | None, default: str) -> tuple[str, str | None, str | None]:
    """``parcel_lipstick`` → ("parcel", "lipstick", None); ``store_sh021`` → ("store", None, "sh021")."""
    if not key:
        return default, None, None
    parts = [p for p in _SCENE.split(key.lower().removeprefix("qrscene_")) if p]
    if not parts:
        return default, None, None
    source, *rest = parts
    product = next((p for p in rest if p in cat.PRODUCTS), None)
    shop = next((p for p in rest if p not in cat.PRODUCTS), None)
    return source, product, shop


def order_items(raw: Any) -> list[dict[str, Any]]:
    """Order lines as the brand sends them (product keys, names, or dicts with sku / name)."""
    lines: list[dict[str, Any]] = []
    for item in raw or []:
        if isinstance(item, dict):
            text = str(item.get("sku") or item.get("product") or item.get("name") or "")
            name = str(item.get("name") or text)
        else:
            text = name = str(item)
        key = text if text in cat.PRODUCTS else cat.find_product(f"{text} {name}")
        lines.append({"product": key, "name": cat.PRODUCTS[key]["name"] if key and name == key else name})
    return lines
