"""A bot's knowledge and the suggested replies drawn from it.

``faq.yaml`` beside a persona lists ``{id, q: [question variants], a: answer (Jinja2), tags}``;
``knowledge/*.md`` holds free text (the brand's introduction, its best salespeople's wording).
:class:`Suggester` finds the entries closest to a customer's message offline (jieba words and
character n-grams, ranked with BM25) and, when a language model is configured, lets it write
the candidates from them, guarded so that a slow or wayward model never reaches a customer.
"""

from .faq import Entry, Knowledge, load_knowledge, read_faq
from .retrieval import Index
from .suggest import Candidate, Source, Suggester

__all__ = ["Candidate", "Entry", "Index", "Knowledge", "Source", "Suggester", "load_knowledge", "read_faq"]
