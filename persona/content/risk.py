"""风控: the words and patterns no message of a bot may carry, owned by its writers.

Advertising and financial-marketing rules forbid claims a brand must never make: a fund is not
"保本" or "稳赚", a cream does not "根治" anything. Each bot keeps its list in ``risk.yaml``
beside its persona (``Persona.risk_file``)::

    agents: block            # an agent's message with a forbidden word: block (or warn)
    forbidden:
      - 稳赚                  # a word
      - word: 保证收益
        why: 承诺收益
      - pattern: "(?<!不)保本"  # a regular expression: "不保本" is what a fund must say
        why: 承诺保本

``persona lint`` (and so every publish) refuses a script whose text, or whose rendering for a
sample, holds one, naming the word and the line; an FAQ answer likewise. An agent's message
through persona is blocked before it is sent, or sent and journaled with the words, as
``agents`` says. A bot without the file forbids nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ..errors import PersonaError
from ..model.persona import Persona



class RiskError(PersonaError):
    """``risk.yaml`` is malformed; ``line`` says where, when known."""

    def __init__(self, message: str, *, file: Path, line: int | None = None) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file, self.line, self.detail = file, line, message


class AgentRule(StrEnum):
    """What an agent's message with a forbidden word gets."""

    BLOCK = "block"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Rule:
    """One forbidden word (matched as written) or pattern, and why it is forbidden."""

    label: str  # the word, or the pattern's source
    pattern: re.Pattern[str]
    why: str = ""


@dataclass(frozen=True, slots=True)
class Hit:
    rule: Rule
    found: str  # the text that matched
    line: int  # 1-based, in the text checked


@dataclass(frozen=True)
class RiskList:
    """A bot's forbidden words and what an agent's message with one gets."""

    rules: tuple[Rule, ...] = ()
    agents: AgentRule = AgentRule.BLOCK
    source: Path | None = None

    def verdict(self, text: str) -> tuple[tuple[str, ...], bool]:
        """The forbidden words ``text`` says (each once), and whether they stop an agent's message."""
        words = tuple(dict.fromkeys(hit.found for hit in self.find(text)))
        return words, bool(words) and self.agents is AgentRule.BLOCK

    def find(self, text: str) -> list[Hit]:
        """Every forbidden word or pattern in ``text``, in order."""
        hits = []
        for rule in self.rules:
            for match in rule.pattern.finditer(text):
                hits.append(Hit(rule, match.group(0), text.count("\n", 0, match.start()) + 1))
        return sorted(hits, key=lambda h: (h.line, h.found))


_CACHE: dict[Path, tuple[float, RiskList]] = {}


def risk_list(persona: type[Persona]) -> RiskList:
    """The persona's list (read again when the file changes); raises :class:`RiskError`."""
    path = persona.folder() / persona.risk_file
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return RiskList()
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    found = parse(path.read_text(encoding="utf-8"), path)
    _CACHE[path] = (mtime, found)
    return found


def parse(text: str, path: Path) -> RiskList:
    """``risk.yaml``'s text as a :class:`RiskList`."""
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RiskError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=path,
                        line=mark.line + 1 if mark is not None else None) from None
    if not isinstance(raw, dict):
        raise RiskError("write 'forbidden:' with a list of words or patterns", file=path)
    try:
        agents = AgentRule(str(raw.get("agents", AgentRule.BLOCK)))
    except ValueError:
        raise RiskError(f"agents: {raw.get('agents')!r}: write block or warn", file=path) from None
    entries = raw.get("forbidden") or []
    if not isinstance(entries, list):
        raise RiskError("forbidden: give a list of words or patterns", file=path)
    return RiskList(tuple(_rule(entry, path) for entry in entries), agents, path)


def _rule(entry: Any, path: Path) -> Rule:
    if isinstance(entry, str) and entry.strip():
        return Rule(entry.strip(), re.compile(re.escape(entry.strip())))
    if isinstance(entry, dict) and ("word" in entry) != ("pattern" in entry):
        why = str(entry.get("why") or "")
        if "word" in entry:
            word = str(entry["word"] or "").strip()
            if word:
                return Rule(word, re.compile(re.escape(word)), why)
        else:
            try:
                pattern = re.compile(str(entry["pattern"]))
            except re.error as exc:
                raise RiskError(f"pattern {entry['pattern']!r} is not a regular expression: {exc}", file=path) from None
            if pattern.search("") is not None:  # it would forbid every text there is
                raise RiskError(f"pattern {entry['pattern']!r} matches an empty text: it would forbid everything",
                                file=path)
            return Rule(str(entry["pattern"]), pattern, why)
    raise RiskError(f"{entry!r}: write a word, or word:/pattern: with an optional why:", file=path)
