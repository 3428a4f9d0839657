"""Reading a bot's knowledge: ``faq.yaml`` entries and ``knowledge/*.md`` documents.

Writers own these files, so every mistake is a :class:`~persona.errors.KnowledgeError` naming
the file and line (the YAML node's position), and nothing half-read is ever used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ...errors import KnowledgeError

#: an entry id: letters, digits, ``_`` and ``-`` (it is journaled and shown to agents)
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
KEYS = frozenset({"id", "q", "a", "tags"})
#: a link in an answer, a document or a catalogue
LINK = re.compile(r"https?://[^\s\"'<>）)」，。、]+")


@dataclass(frozen=True)
class Entry:
    """One FAQ entry: the ways customers ask, and the answer (a Jinja2 template)."""

    id: str
    q: tuple[str, ...]
    a: str
    tags: tuple[str, ...] = ()
    line: int = 0


@dataclass
class Knowledge:
    """Everything a bot knows for suggestions: entries, documents and the links it may cite."""

    entries: list[Entry]
    documents: dict[str, str] = field(default_factory=dict)
    links: frozenset[str] = frozenset()
    source: Path | None = None

    def allows(self, url: str) -> bool:
        """True when ``url`` is one the knowledge or catalogue names, or a page under one."""
        url = url.rstrip("/")
        return any(url == known or url.startswith(known + "/") for known in self.links)


def read_faq(path: Path | str) -> list[Entry]:
    """The entries of one ``faq.yaml``, checked; raises KnowledgeError on the first mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"cannot read: {exc}", file=str(path)) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KnowledgeError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                             line=mark.line + 1 if mark else None) from None
    if data is None:
        return []
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise KnowledgeError("the file must be a list of entries (- id: ..., q: [...], a: ...)", file=str(path), line=1)
    entries: list[Any] = []
    seen: dict[str, Any] = {}
    for node, raw in zip(root.value, data):
        line = node.start_mark.line + 1
        entry = _entry(raw, str(path), line)
        if entry.id in seen:
            raise KnowledgeError(f"id {entry.id!r} is used twice (first at line {seen[entry.id]})",
                                 file=str(path), line=line)
        seen[entry.id] = line
        entries.append(entry)
    return entries


def _entry(raw: Any, file: str, line: int) -> Entry:
    if not isinstance(raw, dict):
        raise KnowledgeError("an entry must be a mapping with id, q, a (and tags)", file=file, line=line)
    unknown = sorted(set(map(str, raw)) - KEYS)
    if unknown:
        raise KnowledgeError(f"unknown key {unknown[0]!r} (an entry has {', '.join(sorted(KEYS))})", file=file, line=line)
    ident = raw.get("id")
    if not isinstance(ident, str) or not ID.match(ident):
        raise KnowledgeError(f"id {ident!r} must be a word of letters, digits, _ or -", file=file, line=line)
    questions = raw.get("q")
    if isinstance(questions, str):
        questions = [questions]
    if not isinstance(questions, list) or not questions or not all(isinstance(q, str) and q.strip() for q in questions):
        raise KnowledgeError(f"{ident}: q must be a non-empty list of questions", file=file, line=line)
    answer = raw.get("a")
    if not isinstance(answer, str) or not answer.strip():
        raise KnowledgeError(f"{ident}: a (the answer) must be non-empty text", file=file, line=line)
    tags = raw.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, (str, int)) for t in tags):
        raise KnowledgeError(f"{ident}: tags must be a list of words", file=file, line=line)
    return Entry(ident, tuple(q.strip() for q in questions), answer.strip(), tuple(str(t) for t in tags), line)


def read_documents(folder: Path) -> dict[str, str]:
    """``knowledge/*.md`` by file name."""
    if not folder.is_dir():
        return {}
    out = {}
    for path in sorted(folder.glob("*.md")):
        try:
            out[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KnowledgeError(f"cannot read: {exc}", file=str(path)) from None
    return out


def load_knowledge(folder: Path | str, faq: Path | str | None = None, *, faq_file: str = "faq.yaml",
                   knowledge_dir: str = "knowledge") -> Knowledge:
    """A bot's knowledge from its folder; ``faq`` replaces the bot's own ``faq.yaml``.

    The links it may cite come from the answers, the documents and every ``*.json`` beside the
    persona (its catalogue).
    """
    folder = Path(folder)
    path = Path(faq) if faq is not None else folder / faq_file
    if faq is not None and not path.is_file():
        raise KnowledgeError("no such file", file=str(path))
    entries = read_faq(path) if path.is_file() else []
    documents = read_documents(folder / knowledge_dir)
    texts = [e.a for e in entries] + list(documents.values())
    for catalogue in sorted(folder.glob("*.json")):
        try:
            texts.append(catalogue.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    links = frozenset(url.rstrip("/") for text in texts for url in LINK.findall(text))
    return Knowledge(entries, documents, links, path if path.is_file() else None)
