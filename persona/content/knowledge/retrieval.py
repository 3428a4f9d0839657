"""Finding the FAQ entries closest to a customer's message, offline, with no model.

Three BM25 rankings are combined: jieba words over the question variants (what the customer
means), character bigrams over the same variants (so 退款 still meets 退钱 and a paraphrase with
little word overlap still matches), and jieba words over the answer and tags (an entry can be
found by what it says). Each ranking is scaled to its best hit before weighting, so one long
entry cannot drown the others. An entry scores as its best question variant.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from collections import Counter
from typing import TYPE_CHECKING, Iterable, Sequence

from .faq import Entry

if TYPE_CHECKING:
    import jieba

#: particles and fillers that say nothing about what is asked
STOP = frozenset("的 了 吗 呢 啊 吧 呀 哦 哈 嘛 么 啦 呗 哇 请问 一下 我 我们 你 你们 您 是 在 和 也 都 就 "
                 "还 要 想 会 能 可以 这个 那个 这 那 一个 有没有 没有 有 个 下 吗 嗯 好 亲 麻烦".split())
_JINJA = re.compile(r"\{[{%#].*?[}%#]\}", re.S)
_NOT_WORD = re.compile(r"[\W_]+")

WORDS_WEIGHT = 1.0
GRAMS_WEIGHT = 0.7
ANSWER_WEIGHT = 0.35
ENTRY_WEIGHT = 1.0


@functools.cache
def _segmenter() -> "jieba.Tokenizer":
    """Our own jieba dictionary, so entry tags added as words never change another library's
    jieba; imported on first use (jieba takes half a second to import, every ``persona``
    command would pay it)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba.Tokenizer()


def normalise(text: str) -> str:
    """Full-width to half-width, case folded: ＡＢＣ１ and abc1 are the same."""
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """jieba's search-mode words of ``text`` without punctuation and particles."""
    out = []
    for word in _segmenter().lcut_for_search(normalise(_JINJA.sub(" ", text))):
        word = word.strip()
        if word and word not in STOP and not _NOT_WORD.fullmatch(word):
            out.append(word)
    return out


def grams(text: str, sizes: tuple[int, ...] = (1, 2)) -> list[str]:
    """Character n-grams of ``text`` (single characters and pairs by default), punctuation and
    spaces removed: 邮费 and 运费 share 费, 压扁 and 压坏 share 压."""
    chars = _NOT_WORD.sub("", normalise(_JINJA.sub(" ", text)))
    return [chars[i:i + n] for n in sizes for i in range(len(chars) - n + 1)]


def add_words(new: Iterable[str]) -> None:
    """Teach the segmenter a bot's own words (product names, tags) so they stay whole."""
    for word in new:
        if word and len(word) > 1:
            _segmenter().add_word(normalise(word), freq=2000)


class BM25:
    """Okapi BM25 over a fixed list of token lists."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(d) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg = (sum(self.lengths) / len(docs)) if docs else 0.0
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(docs)
        self.idf = {term: math.log(1 + (n - f + 0.5) / (f + 0.5)) for term, f in df.items()}

    def scores(self, query: Iterable[str]) -> list[float]:
        terms = [t for t in set(query) if t in self.idf]
        out = []
        for doc, length in zip(self.docs, self.lengths):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * length / self.avg) if self.avg else self.k1
            for term in terms:
                tf = doc.get(term)
                if tf:
                    score += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            out.append(score)
        return out


def _scaled(values: list[float]) -> list[float]:
    top = max(values, default=0.0)
    return [v / top for v in values] if top > 0 else [0.0] * len(values)


class Index:
    """The entries of one bot's FAQ, ready to search."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        add_words(t for e in self.entries for t in e.tags)
        self.owner = [i for i, e in enumerate(self.entries) for _ in e.q]
        variants = [q for e in self.entries for q in e.q]
        self.by_words = BM25([words(q) for q in variants])
        self.by_grams = BM25([grams(q) for q in variants])
        asked = [" ".join((*e.q, *e.tags)) for e in self.entries]
        self.by_entry_words = BM25([words(text) for text in asked])
        self.by_entry_grams = BM25([grams(text) for text in asked])
        self.by_answer = BM25([words(e.a) + grams(e.a, (2,)) for e in self.entries])

    def search(self, text: str, k: int = 3) -> list[tuple[Entry, float]]:
        """The ``k`` best entries for ``text``, best first, with a score in [0, 1]."""
        if not self.entries:
            return []
        said, chars = words(text), grams(text)
        w = _scaled(self.by_words.scores(said))
        g = _scaled(self.by_grams.scores(chars))
        best = [0.0] * len(self.entries)
        for variant, owner in enumerate(self.owner):
            best[owner] = max(best[owner], WORDS_WEIGHT * w[variant] + GRAMS_WEIGHT * g[variant])
        ew = _scaled(self.by_entry_words.scores(said))
        eg = _scaled(self.by_entry_grams.scores(chars))
        a = _scaled(self.by_answer.scores(said + grams(text, (2,))))
        total = WORDS_WEIGHT + GRAMS_WEIGHT + ENTRY_WEIGHT * (WORDS_WEIGHT + GRAMS_WEIGHT) + ANSWER_WEIGHT
        scored = [(best[i] + ENTRY_WEIGHT * (WORDS_WEIGHT * ew[i] + GRAMS_WEIGHT * eg[i]) + ANSWER_WEIGHT * a[i]) / total
                  for i in range(len(self.entries))]
        ranked = sorted(range(len(self.entries)), key=lambda i: (-scored[i], i))[:k]
        return [(self.entries[i], round(scored[i], 4)) for i in ranked]
