"""内容库: ready-made content an agent puts into a WeCom chat from the sidebar, owned by writers.

An item is a text, a picture (an https URL, or a file beside the persona; uploaded to WeCom
when an agent first sends it, its media_id then reused for days), a link card (title,
description, URL, picture URL) or a mini-program card (appid, page, title, picture URL). A bot ships its first library in ``library.yaml`` beside
its persona; writers then keep it in the studio, which stores it in the bot's store (the
store's copy, once there, is the library). Every item passes 风控 when it is saved: a forbidden
word is refused with the word, as in a script.
"""

from __future__ import annotations

import hashlib
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
    IMAGE = "image"
    LINK = "link"
    MINIPROGRAM = "miniprogram"


#: what each kind needs, besides a title
NEEDS = {Kind.TEXT: ("text",), Kind.IMAGE: ("picture",), Kind.LINK: ("url",), Kind.MINIPROGRAM: ("appid", "page")}


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
    picture: str = ""  # a picture's URL (cards); an image's URL or path in the bot's folder
    appid: str = ""
    page: str = ""

    def chat_message(self, media_id: str = "") -> dict[str, Any]:
        """The item as WeCom's ``sendChatMessage`` takes it (an image: with its uploaded ``media_id``)."""
        if self.kind is Kind.IMAGE:
            if not media_id:
                raise ValueError(f"library item {self.id}: an image is sent by its media_id; upload it first")
            return {"msgtype": "image", "image": {"mediaId": media_id}}
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
        if values[name] and not values[name].startswith("https://") and not (
                kind is Kind.IMAGE and name == "picture" and _beside(persona, values[name])):
            raise LibraryError(says("library.image" if kind is Kind.IMAGE and name == "picture" else "library.https",
                                    field=name, value=values[name]))
    words = [hit.found for hit in risk_list(persona).find(" ".join((title, values["text"], values["description"])))]
    if words:
        raise LibraryError(says("library.forbidden", words="、".join(dict.fromkeys(words))))
    return Item(str(raw.get("id") or uuid.uuid4().hex[:10]), kind, title, **values)


#: what a picture in the bot's folder may be: what WeCom's media upload takes as an image (the
#: Official Account takes gif and bmp too; agents send library items through WeCom)
PICTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})


def _beside(persona: type[Persona], path: str) -> bool:
    """Whether ``path`` names a picture inside the persona's folder (never outside it, and never
    its code or settings, which would otherwise reach customers' chats as an "image")."""
    folder = persona.folder().resolve()
    found = (folder / path).resolve()
    return found.is_relative_to(folder) and found.suffix.lower() in PICTURE_SUFFIXES and found.is_file()


def source(item: Item, persona: type[Persona]) -> str:
    """Where an image item's picture is read from: its URL, or its file's absolute path."""
    if item.picture.startswith("https://"):
        return item.picture
    return str((persona.folder() / item.picture).resolve())


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
    return [item({**entry, "id": entry.get("id") or _stable_id(entry)} if isinstance(entry, dict) else {}, persona)
            for entry in raw]


def _stable_id(entry: dict[str, Any]) -> str:
    """A shipped item's id, the same on every read (the sidebar and the studio name items by it)."""
    return hashlib.blake2b(json.dumps(entry, sort_keys=True, default=str).encode(), digest_size=5).hexdigest()


async def load(store: KeyValue, persona: type[Persona]) -> list[Item]:
    """The library: the store's copy, else the shipped one."""
    raw = await store.get(KEY)
    if raw is None:
        return shipped(persona)
    return [Item(**{**entry, "kind": Kind(entry["kind"])}) for entry in json.loads(raw)]


async def save(store: KeyValue, items: list[Item]) -> None:
    await store.put(KEY, json.dumps([asdict(i) for i in items], ensure_ascii=False))
