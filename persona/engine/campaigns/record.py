"""What a campaign is, as stored: an audience, the scripts with their weights, data, and when.

A campaign is written once and never changed (a changed audience is a new campaign): what
moves while it runs — its status, progress and lease — lives beside it (:mod:`.book`). So two
workers can never disagree about what a campaign says, only about who runs it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from ... import jsonwire
from ...errors import PersonaError

#: the earliest clock on Earth (UTC+14): a campaign at 10:00 in each customer's own zone starts there
EARLIEST_ZONE = "Etc/GMT-14"


class Status(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time
    RUNNING = "running"  # started; customers in later time zones may still be waiting
    DONE = "done"
    CANCELLED = "cancelled"


class Moment(StrEnum):
    """How a campaign's time is read."""

    NOW = "now"
    AT = "at"  # one moment (written in brand time)
    LOCAL = "local"  # a day and a clock time, in each customer's own time zone


@dataclass(frozen=True, slots=True)
class When:
    moment: Moment
    at: float = 0.0  # NOW, AT: epoch seconds
    day: str = ""  # LOCAL: 2026-12-08
    clock: str = ""  # LOCAL: 10:00

    @classmethod
    def parse(cls, text: str | None, tz: str, *, local: bool = False, now: float) -> "When":
        """``None`` (now), ``2026-12-08 10:00`` in ``tz``; with ``local`` the day and clock time
        are each customer's own."""
        if text is None or not text.strip() or text.strip() == "now":
            if local:
                raise PersonaError("a campaign in each customer's own time zone needs a day and time, "
                                   "e.g. --at '2026-12-08 10:00'")
            return cls(Moment.NOW, now)
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise PersonaError(f"time {text!r}: write a day and time, e.g. 2026-12-08 10:00") from None
        if local:
            return cls(Moment.LOCAL, day=moment.date().isoformat(), clock=moment.strftime("%H:%M:%S"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(tz))
        return cls(Moment.AT, moment.timestamp())

    def due(self, tz: str) -> float:
        """When a customer in ``tz`` gets it."""
        if self.moment is not Moment.LOCAL:
            return self.at
        return datetime.combine(date.fromisoformat(self.day), dtime.fromisoformat(self.clock),
                                ZoneInfo(tz)).timestamp()

    def first_due(self) -> float:
        """When the first customer anywhere gets it."""
        return self.due(EARLIEST_ZONE)

    def describe(self, tz: str) -> str:
        if self.moment is Moment.LOCAL:
            return f"{self.day} {self.clock[:5]} in each customer's own time zone"
        return datetime.fromtimestamp(self.at, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S") + f" ({tz})"

    def dump(self) -> dict[str, Any]:
        if self.moment is Moment.LOCAL:
            return {"m": self.moment, "d": self.day, "c": self.clock}
        return {"m": self.moment, "t": self.at}

    @classmethod
    def load(cls, raw: dict[str, Any]) -> "When":
        return cls(Moment(raw["m"]), float(raw.get("t", 0.0)), raw.get("d", ""), raw.get("c", ""))


@dataclass(frozen=True, slots=True)
class Split:
    """Scripts and their weights; each customer is given one, the same every time it is asked."""

    weights: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, text: str) -> "Split":
        """``flash_a=50,flash_b=50`` (a bare name weighs 1)."""
        weights: list[tuple[str, int]] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            name, eq, weight = part.partition("=")
            try:
                number = int(weight) if eq else 1
            except ValueError:
                raise PersonaError(f"split {part!r}: the weight after = is a whole number, e.g. {name}=50") from None
            if number < 1:
                raise PersonaError(f"split {part!r}: a weight is at least 1")
            if any(name.strip() == known for known, _ in weights):
                raise PersonaError(f"split: {name.strip()!r} is named twice")
            weights.append((name.strip(), number))
        if not weights:
            raise PersonaError("split is empty: write SCRIPT=WEIGHT,SCRIPT=WEIGHT, e.g. flash_a=50,flash_b=50")
        return cls(tuple(weights))

    @classmethod
    def one(cls, script: str) -> "Split":
        return cls(((script, 1),))

    @property
    def scripts(self) -> list[str]:
        return [name for name, _ in self.weights]

    def pick(self, campaign: str, user: str) -> str:
        """``user``'s script in ``campaign``: a hash of both, so every worker and every re-run agrees."""
        if len(self.weights) == 1:
            return self.weights[0][0]
        digest = hashlib.sha256(f"{campaign}:{user}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % sum(w for _, w in self.weights)
        for name, weight in self.weights:
            if point < weight:
                return name
            point -= weight
        raise AssertionError("unreachable: the point lies below the total weight")

    def __str__(self) -> str:
        if len(self.weights) == 1:
            return self.weights[0][0]
        return ",".join(f"{name}={weight}" for name, weight in self.weights)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    audience: str  # as written: parsed again wherever it is run, against the persona of the day
    split: Split
    when: When
    data: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    by: str = ""

    def dump(self) -> str:
        return jsonwire.dump({"id": self.id, "audience": self.audience, "split": [list(w) for w in self.split.weights],
                              "when": self.when.dump(), "data": self.data, "created": self.created, "by": self.by})

    @classmethod
    def load(cls, raw: str) -> "Campaign":
        data = jsonwire.load(raw)
        return cls(data["id"], data["audience"], Split(tuple((str(n), int(w)) for n, w in data["split"])),
                   When.load(data["when"]), data.get("data", {}), float(data.get("created", 0.0)), data.get("by", ""))
