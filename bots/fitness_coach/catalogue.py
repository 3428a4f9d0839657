"""The coach's standard pieces: plans, moves and what to say about each move.

Everything a coach would write by hand lives in ``catalogue.json`` beside this module, so the
brand's trainers edit plans, cues and corrections without touching code. It is checked when
the bot is imported: a plan naming a move that does not exist fails loudly then, not on a
customer's training day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from persona import DefinitionError, EventDataError

PATH = Path(__file__).with_name("catalogue.json")
LEVEL_ORDER = ("beginner", "intermediate", "advanced")


@dataclass(frozen=True)
class Move:
    id: str
    name: str
    en: str
    aliases: tuple[str, ...]
    equipment: tuple[str, ...]
    watch: tuple[str, ...]
    benefit: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        """What scripts see (templates read dicts and lists, not our classes)."""
        return {"id": self.id, "name": self.name, "en": self.en, "equipment": list(self.equipment),
                "watch": list(self.watch), "benefit": self.benefit, "fix": self.fix}


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    goals: tuple[str, ...]
    levels: tuple[str, ...]
    minutes: int
    blurb: str
    sessions: tuple[tuple[str, ...], ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "goals": list(self.goals), "levels": list(self.levels),
                "minutes": self.minutes, "blurb": self.blurb}


@dataclass(frozen=True)
class Review:
    """A workout read against the catalogue: which moves to praise, which to correct."""

    moves: list[dict[str, Any]]  # every move, in the order done
    good: list[dict[str, Any]]
    fine: list[dict[str, Any]]
    poor: list[dict[str, Any]]


class Catalogue:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.coach: str = raw.get("coach", "教练")
        self.settings: dict[str, Any] = raw["settings"]
        self.miniprogram: dict[str, str] = raw["miniprogram"]
        self.always_bring: list[str] = list(raw.get("always_bring", []))
        self.goals: dict[str, dict[str, Any]] = raw["goals"]
        self.levels: dict[str, dict[str, Any]] = raw["levels"]
        self.moves = {mid: Move(mid, m["name"], m.get("en", mid), tuple(m.get("aliases", ())),
                                tuple(m.get("equipment", ())), tuple(m["watch"]), m["benefit"], m["fix"])
                      for mid, m in raw["moves"].items()}
        self.plans = {pid: Plan(pid, p["name"], tuple(p["goals"]), tuple(p["levels"]), int(p["minutes"]),
                                p["blurb"], tuple(tuple(s) for s in p["sessions"]))
                      for pid, p in raw["plans"].items()}
        self._by_name: dict[str, Move] = {}
        for move in self.moves.values():
            for word in (move.id, move.name, move.en, *move.aliases):
                self._by_name[_fold(word)] = move
        self._check()

    @classmethod
    def load(cls, path: Path = PATH) -> "Catalogue":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DefinitionError(f"{path.name}: cannot read the catalogue: {exc}") from None
        try:
            return cls(raw)
        except KeyError as exc:
            raise DefinitionError(f"{path.name}: missing field {exc}") from None

    def _check(self) -> None:
        for plan in self.plans.values():
            if not plan.sessions or not all(plan.sessions):
                raise DefinitionError(f"catalogue.json: plan {plan.id!r} needs at least one session of moves")
            for move in (m for s in plan.sessions for m in s):
                if move not in self.moves:
                    raise DefinitionError(f"catalogue.json: plan {plan.id!r} names unknown move {move!r} "
                                          f"(known: {', '.join(sorted(self.moves))})")
            for goal in plan.goals:
                if goal not in self.goals:
                    raise DefinitionError(f"catalogue.json: plan {plan.id!r} has unknown goal {goal!r}")
            for level in plan.levels:
                if level not in LEVEL_ORDER:
                    raise DefinitionError(f"catalogue.json: plan {plan.id!r} has unknown level {level!r} "
                                          f"(use {', '.join(LEVEL_ORDER)})")
        if len(self.plans) < 3:
            raise DefinitionError("catalogue.json: the coach offers three plans; list at least three")

    # -- the questionnaire ---------------------------------------------------------------------
    def goal(self, text: Any) -> str:
        """The goal id for what the questionnaire sent (an id or a Chinese word)."""
        return self._pick(text, self.goals, "goal")

    def level(self, text: Any) -> str:
        return self._pick(text, self.levels, "level")

    @staticmethod
    def _pick(text: Any, table: dict[str, dict[str, Any]], what: str) -> str:
        word = _fold(str(text or ""))
        for key, entry in table.items():
            if word == key or word in {_fold(a) for a in (entry.get("name", ""), *entry.get("aliases", ()))}:
                return key
        raise EventDataError(f"questionnaire_submitted: {what} {text!r} is not one of "
                             f"{', '.join(table)} (or their Chinese names in catalogue.json)", fields=[what])

    def recommend(self, goal: str, level: str, n: int = 3) -> list[str]:
        """The ``n`` plans that fit best: same goal first, then the nearest level, then catalogue order."""
        want = LEVEL_ORDER.index(level)

        def distance(plan: Plan) -> tuple[int, int, int]:
            goal_rank = 0 if plan.goals and plan.goals[0] == goal else 1 if goal in plan.goals else 2
            gap = min(abs(LEVEL_ORDER.index(lv) - want) for lv in plan.levels)
            return (gap > 0, goal_rank, gap)

        order = {pid: i for i, pid in enumerate(self.plans)}
        ranked = sorted(self.plans.values(), key=lambda p: (*distance(p), order[p.id]))
        return [p.id for p in ranked[:n]]

    # -- training days -------------------------------------------------------------------------
    def session(self, plan_id: str, index: int) -> list[Move]:
        plan = self.plans[plan_id]
        return [self.moves[m] for m in plan.sessions[index % len(plan.sessions)]]

    def bring(self, moves: Iterable[Move]) -> list[str]:
        """What to have ready: the moves' equipment (each once), then the usual towel and water."""
        out: list[str] = []
        for move in moves:
            for item in move.equipment:
                if item not in out:
                    out.append(item)
        return out + [i for i in self.always_bring if i not in out]

    # -- after a workout -----------------------------------------------------------------------
    def move(self, name: str) -> Move | None:
        return self._by_name.get(_fold(name))

    def review(self, moves: Iterable[dict[str, Any]]) -> Review:
        good_at, poor_below = self.settings["good_score"], self.settings["poor_score"]
        done: list[dict[str, Any]] = []
        good, fine, poor = [], [], []
        for item in moves:
            name = str(item.get("name", "")).strip()
            if not name:
                continue
            score = float(item.get("score", 0))
            known = self.move(name)
            entry = {"name": known.name if known else name, "score": int(round(score)),
                     "benefit": known.benefit if known else "", "fix": known.fix if known else "",
                     "en": known.en if known else ""}
            done.append(entry)
            (good if score >= good_at else poor if score < poor_below else fine).append(entry)
        return Review(moves=done, good=good, fine=fine, poor=poor)


def _fold(text: str) -> str:
    return "".join(text.split()).casefold()


CATALOGUE = Catalogue.load()
