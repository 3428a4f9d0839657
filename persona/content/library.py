"""内容库: ready-made content an agent puts into a WeCom chat from the sidebar, owned by writers.

An item is a text, a link card (title, description, URL, picture URL) or a mini-program card
(appid, page, title, picture URL). A bot ships its first library in ``library.yaml`` beside
its persona; writers then keep it in the studio, which stores it in the bot's store (the
store's copy, once there, is the library). Every item passes 风控 when it is saved: a forbidden
word is refused with the word, as in a script.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import yaml

from ..errors import PersonaError
from ..model.persona import Persona
from ..model.wording import Said, says
from ..store.base import KeyValue
from .risk import risk_list

LIBRARY_FILE = "library.yaml"
KEY = "content:library"


class Kind(StrEnum):
    TEXT = "text"
    LINK = "link"
    MINIPROGRAM = "miniprogram"


#: what each kind needs, besides a title
NEEDS = {Kind.TEXT: ("text",), Kind.LINK: ("url",), Kind.MINIPROGRAM: ("appid", "page")}


class LibraryError(PersonaError):
    """An item cannot be kept: a field missing or malformed, or a forbidden word. ``str()`` is
    English; :meth:`text` says it in another language (the studio's Chinese)."""

    def __init__(self, said: Said) -> None:
        super().__init__(str(said))
        self.said = said

    def text(self, lang: str) -> str:
        return self.said.text(lang)


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    kind: Kind
    title: str
    text: str = ""
    url: str = ""
    description: str = ""
    picture: str = ""  # a picture's URL (link and mini-program cards)
    appid: str = ""
    page: str = ""

    def chat_message(self) -> dict[str, Any]:
        """The item as WeCom's ``sendChatMessage`` takes it."""
        if self.kind is Kind.TEXT:
            return {"msgtype": "text", "text": {"content": self.text}}
        if self.kind is Kind.LINK:
            return {"msgtype": "news", "news": {"link": self.url, "title": self.title, "desc": self.description,
                                                "imgUrl": self.picture}}
        return {"msgtype": "miniprogram", "miniprogram": {"appid": self.appid, "title": self.title,
                                                          "imgUrl": self.picture, "page": self.page}}


def item(raw: dict[str, Any], persona: type[Persona]) -> Item:
    """``raw`` (a form, a YAML entry) as an item, checked; raises :class:`LibraryError`."""
    try:
        kind = Kind(str(raw.get("kind", "")))
    except ValueError:
        raise LibraryError(says("library.kind", kind=raw.get("kind"))) from None
    title = str(raw.get("title", "")).strip()
    if not title:
        raise LibraryError(says("library.title"))
    values = {name: str(raw.get(name, "") or "").strip() for name in ("text", "url", "description", "picture",
                                                                    "appid", "page")}
    missing = [name for name in NEEDS[kind] if not values[name]]
    if missing:
        raise LibraryError(says("library.missing", kind=str(kind), fields=", ".join(missing)))
    for name in ("url", "picture"):
        if values[name] and not values[name].startswith("https://"):
            raise LibraryError(says("library.https", field=name, value=values[name]))
    words = [hit.found for hit in risk_list(persona).find(" ".join((title, values["text"], values["description"])))]
    if words:
        raise LibraryError(says("library.forbidden", words="、".join(dict.fromkeys(words))))
    return Item(str(raw.get("id") or uuid.uuid4().hex[:10]), kind, title, **values)


def shipped(persona: type[Persona]) -> list[Item]:
    """The library the bot ships (``library.yaml``), or none."""
    path = persona.folder() / LIBRARY_FILE
    if not path.is_file():
        return []
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise LibraryError(says("library.yaml", detail=str(exc))) from None
    if not isinstance(raw, list):
        raise LibraryError(says("library.list"))
    return [item(entry if isinstance(entry, dict) else {}, persona) for entry in raw]


async def load(store: KeyValue, persona: type[Persona]) -> list[Item]:
    """The library: the store's copy, else the shipped one."""
    raw = await store.get(KEY)
    if raw is None:
        return shipped(persona)
    return [Item(**{**entry, "kind": Kind(entry["kind"])}) for entry in json.loads(raw)]


async def save(store: KeyValue, items: list[Item]) -> None:
    await store.put(KEY, json.dumps([asdict(i) for i in items], ensure_ascii=False))
