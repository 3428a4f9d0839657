"""The brand's data the secretary speaks from: products, offers, holidays, staff names.

Everything editable lives in ``catalogue.json`` beside this file, so the operations team can
change an offer or add next year's holidays without touching the persona. The file is read
and checked once at import: a holiday without a date fails there, not on the morning it is due.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from persona.errors import DefinitionError

PATH = Path(__file__).with_name("catalogue.json")

#: What the brand's systems may send as a risk preference, mapped to the suitability levels
#: C1 (保守) … C5 (进取) that products' R1 … R5 ratings are matched against.
RISK_WORDS = {
    "保守": "C1", "谨慎": "C1", "稳健": "C2", "平衡": "C3", "成长": "C4", "积极": "C4",
    "进取": "C5", "激进": "C5",
}
OFFER_KINDS = ("rate", "points", "fee")
DEFAULT_OFFER = "rate"


@dataclass(frozen=True)
class Holiday:
    key: str
    name: str
    day: date
    notify: date
    window: str
    offers: dict[str, str]

    def offer_for(self, activity: str | None) -> tuple[str, str]:
        """The offer matching the customer's activity preference, else the bonus interest."""
        kind = activity if activity in self.offers else DEFAULT_OFFER
        if kind not in self.offers:
            kind = next(iter(self.offers))
        return kind, self.offers[kind]


class Catalogue:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.secretary: str = raw["secretary"]
        self.staff_group: str = raw["staff_group"]
        #: the customer group the welcome invites to: ``name``, ``url`` (the join link or the
        #: page with its QR code), optional ``picurl``
        self.group: dict[str, str] = raw["group"]
        self.reminder_at: time = time.fromisoformat(raw.get("reminder_at", "10:00"))
        self.follow_up_hours: float = float(raw.get("follow_up_hours", 24))
        self.leaderboard_size: int = int(raw.get("leaderboard_size", 10))
        self.products: dict[str, dict[str, str]] = raw.get("products", {})
        self.picks: dict[str, str] = raw.get("picks", {})
        self.risk_levels: dict[str, str] = raw.get("risk_levels", {})
        self.activities: dict[str, str] = raw.get("activities", {})
        self.staff: dict[str, str] = raw.get("staff", {})
        self.birthday: dict[str, Any] = raw.get("birthday", {})
        self.large_purchase: dict[str, float] = raw.get("large_purchase", {})
        self.holidays = sorted((self._holiday(h) for h in raw.get("holidays", [])), key=lambda h: h.notify)
        for level, code in self.picks.items():
            if code not in self.products:
                raise DefinitionError(f"{PATH.name}: picks[{level!r}] names unknown product {code!r}")

    @staticmethod
    def _holiday(h: dict[str, Any]) -> Holiday:
        try:
            holiday = Holiday(key=h["key"], name=h["name"], day=date.fromisoformat(h["date"]),
                              notify=date.fromisoformat(h["notify"]), window=h.get("window", ""),
                              offers=dict(h["offers"]))
        except (KeyError, ValueError) as exc:
            raise DefinitionError(f"{PATH.name}: holiday {h.get('key') or h!r} is incomplete ({exc}); "
                                  "it needs key, name, date, notify (YYYY-MM-DD) and offers") from None
        unknown = set(holiday.offers) - set(OFFER_KINDS)
        if unknown or not holiday.offers:
            raise DefinitionError(f"{PATH.name}: holiday {holiday.key!r} offers must be some of "
                                  f"{', '.join(OFFER_KINDS)} (got {', '.join(sorted(holiday.offers)) or 'none'})")
        return holiday

    # -- look-ups ----------------------------------------------------------------------------
    def product_name(self, code: str) -> str:
        return self.products.get(code, {}).get("name", code)

    def staff_name(self, user: str) -> str:
        return self.staff.get(user, user)

    def pick_for(self, risk: str | None) -> dict[str, str] | None:
        """The product suggested to a customer of this risk level; None before a risk
        assessment (no suggestion without one)."""
        code = self.picks.get(risk or "")
        return {"code": code, **self.products[code]} if code else None

    def holiday(self, key: str) -> Holiday | None:
        return next((h for h in self.holidays if h.key == key), None)

    def next_holiday(self, after: datetime, at: time) -> tuple[Holiday, datetime] | None:
        """The next holiday whose notice is due strictly after ``after`` (at ``at`` local)."""
        for h in self.holidays:
            moment = datetime.combine(h.notify, at, tzinfo=after.tzinfo)
            if moment > after:
                return h, moment
        return None

    def group_points(self, amount: float) -> int:
        """Points every group member receives when one of them makes a large purchase."""
        rule = self.large_purchase
        points = int(amount * float(rule.get("points_per_yuan", 0.001)))
        return max(int(rule.get("min_points", 10)), min(int(rule.get("max_points", 200)), points))


def normalise_risk(value: Any) -> str:
    """``"C3"``, ``"c3"``, ``"3"``, ``"R3"``, ``"平衡型"`` → ``"C3"``; anything else as given."""
    text = str(value).strip()
    upper = text.upper()
    if len(upper) == 2 and upper[0] in "CR" and upper[1] in "12345":
        return "C" + upper[1]
    if text in "12345" and len(text) == 1:
        return "C" + text
    for word, level in RISK_WORDS.items():
        if text.startswith(word):
            return level
    return text


def load(path: Path = PATH) -> Catalogue:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{path.name} line {exc.lineno}: {exc.msg}") from None
    return Catalogue(raw)


CATALOGUE = load()
