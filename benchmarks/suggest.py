"""How well offline retrieval finds the right FAQ entry for questions it has never seen.

    python -m benchmarks.suggest [BOT ...]

For each bot, every question of ``benchmarks/paraphrases/<bot>.yaml`` (written apart from the
bot's ``faq.yaml``: none of them is one of its question variants) is searched; top-1 is the
share whose expected entry comes first, top-3 the share where it is among the three candidates
an agent sees. The target is top-3 >= 90 %. Also prints the time per search.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from persona.content.knowledge import Index, read_faq
from persona.model.persona import load_persona

BOTS = ("xiaowanzi", "fitness_coach", "finance_secretary")
PARAPHRASES = Path(__file__).with_name("paraphrases")
TARGET_TOP3 = 0.90


@dataclass
class Result:
    bot: str
    questions: int
    top1: float
    top3: float
    misses: list[tuple[str, str, list[str]]]
    micros: float


def paraphrases(bot: str) -> list[tuple[str, str]]:
    raw = yaml.safe_load((PARAPHRASES / f"{bot}.yaml").read_text(encoding="utf-8"))
    return [(str(q), str(expected)) for q, expected in raw]


def measure(bot: str) -> Result:
    cls = load_persona(f"bots.{bot}")
    entries = read_faq(cls.folder() / cls.faq_file)
    known = {e.id for e in entries}
    asked = {q for e in entries for q in e.q}
    pairs = paraphrases(bot)
    for question, expected in pairs:
        if expected not in known:
            raise SystemExit(f"{bot}: paraphrase {question!r} expects unknown entry {expected!r}")
        if question in asked:
            raise SystemExit(f"{bot}: paraphrase {question!r} is copied from faq.yaml")
    index = Index(entries)
    index.search("预热")  # the segmenter loads its dictionary on first use
    top1 = top3 = 0
    misses = []
    start = time.perf_counter()
    for question, expected in pairs:
        found = [e.id for e, _ in index.search(question, 3)]
        top1 += bool(found) and found[0] == expected
        top3 += expected in found
        if expected not in found:
            misses.append((question, expected, found))
    micros = (time.perf_counter() - start) / len(pairs) * 1e6
    n = len(pairs)
    return Result(bot, n, top1 / n, top3 / n, misses, micros)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bots", nargs="*", default=list(BOTS))
    parser.add_argument("-v", "--verbose", action="store_true", help="list the questions missed")
    args = parser.parse_args(argv)
    ok = True
    print(f"{'bot':<20}{'questions':>10}{'top-1':>8}{'top-3':>8}{'µs/search':>11}")
    for bot in args.bots:
        r = measure(bot)
        ok = ok and r.top3 >= TARGET_TOP3
        print(f"{r.bot:<20}{r.questions:>10}{r.top1:>8.1%}{r.top3:>8.1%}{r.micros:>11.0f}")
        if args.verbose:
            for question, expected, found in r.misses:
                print(f"    miss: {question}  expected {expected}, got {', '.join(found)}")
    print(f"target: top-3 >= {TARGET_TOP3:.0%}: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
