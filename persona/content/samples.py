"""The sample customers a bot ships in ``samples/*.json``: what a preview offers a writer, and
what lint renders every script with before a version is accepted.

A sample is the format of ``persona preview --customer``: ``id``, ``state``, ``now``
(``"YYYY-MM-DD HH:MM"`` in the customer's time zone), ``tags``, ``attrs``, ``counters``,
``data`` (an event's data), ``scripts`` (the scripts it is meant for; without it, every
script it gives all the variables of), and any other key is a variable a script is given,
e.g. the ``offer`` a handler passes to ``turn.say("welcome", offer=...)``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import parse_time
from ..model.customer import Customer
from ..model.persona import Persona


@dataclass
class Sample:
    """A customer and the variables a script is rendered with."""

    name: str
    customer: Customer
    variables: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    now: float = field(default_factory=time.time)
    real: bool = False
    #: the scripts this sample is for (None: any it gives the variables of)
    scripts: frozenset[str] | None = None

    def renders(self, script: str) -> bool:
        return self.scripts is None or script in self.scripts


def sample_files(persona: type[Persona]) -> dict[str, dict[str, Any]]:
    """The persona's sample customers by file name (``samples/trainee.json`` → ``trainee``);
    a file that does not read is left out (:func:`broken_samples` says why)."""
    return read_samples(persona)[0]


def broken_samples(persona: type[Persona]) -> list[tuple[Path, str]]:
    """The sample files that cannot be used, with why (lint reports them)."""
    return read_samples(persona)[1]


def read_samples(persona: type[Persona]) -> tuple[dict[str, dict[str, Any]], list[tuple[Path, str]]]:
    folder = persona.folder() / "samples"
    out: dict[str, dict[str, Any]] = {}
    broken: list[tuple[Path, str]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            broken.append((path, f"not valid JSON: {exc}"))
            continue
        if not isinstance(raw, dict):
            broken.append((path, "a sample is one JSON object"))
            continue
        try:
            from_file(persona, path.stem, raw)
        except (ValueError, TypeError, AttributeError) as exc:
            broken.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        out[path.stem] = raw
    return out, broken


def from_file(persona: type[Persona], name: str, raw: dict[str, Any]) -> Sample:
    """The sample ``name`` as a customer and the variables its scripts are given."""
    raw = dict(raw)
    tz = str((raw.get("attrs") or {}).get("tz") or persona.timezone)
    now = parse_time(str(raw.pop("now")), tz) if raw.get("now") else time.time()
    state = str(raw.pop("state", None) or persona.initial)
    customer = Customer(str(raw.pop("id", "sample")), state if state in persona.states else persona.initial,
                        tags={k: str(v) for k, v in (raw.pop("tags", None) or {}).items()},
                        attrs=dict(raw.pop("attrs", None) or {}), counters=dict(raw.pop("counters", None) or {}),
                        first_seen=now, last_seen=now)
    data = dict(raw.pop("data", None) or {})
    scripts = raw.pop("scripts", None)
    return Sample(name, customer, raw, data, now,
                  scripts=frozenset(str(s) for s in scripts) if isinstance(scripts, list) else None)
