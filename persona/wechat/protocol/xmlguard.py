"""The only door untrusted XML comes in through.

Every callback body and every decrypted payload is parsed here, once, by defusedxml with
DTDs forbidden: a document type declaration is the only way to smuggle in entity expansion
(billion laughs) or external entities, and WeChat never sends one. What comes out is a plain
``dict`` of the message's fields, so nothing downstream touches XML again.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_etree
from defusedxml import DefusedXmlException, DTDForbidden

from persona.errors import ProtocolError

#: WeChat's own callbacks are a few hundred bytes; anything past this is not from WeChat.
MAX_BODY_BYTES = 64 * 1024

#: How deep a field may nest below ``<xml>``. WeChat's deepest (``SendPicsInfo`` >
#: ``PicList`` > ``item`` > ``PicMd5Sum``) is four; a deeper document is not from WeChat, and
#: refusing it keeps the walk below bounded (no recursion a sender can push past the limit).
MAX_DEPTH = 16

#: A field's value: text, a list (``<Item>`` lists, repeated tags) or a nested mapping.
FieldValue = str | list[Any] | dict[str, Any]


def check_size(body: bytes | str) -> None:
    """Refuse a body over :data:`MAX_BODY_BYTES` (413) before any work is spent on it."""
    size = len(body) if isinstance(body, bytes) else len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise ProtocolError(
            f"callback body is {size} bytes, over the {MAX_BODY_BYTES} byte limit", 413)


def parse(data: bytes | str, what: str = "callback body") -> Element:
    """Parse one untrusted XML document, refusing DTDs, entities and anything malformed (400).

    ``what`` names the document in the error, so a log line says which layer was bad.
    """
    try:
        root: Element = safe_etree.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                              forbid_external=True)
        return root
    except DTDForbidden:
        raise ProtocolError(f"{what} declares a DOCTYPE; WeChat never sends one", 400) from None
    except DefusedXmlException as exc:
        raise ProtocolError(f"{what} uses a forbidden XML construct: {exc!r}", 400) from None
    except (ParseError, ValueError, TypeError) as exc:
        raise ProtocolError(f"{what} is not well-formed XML: {exc}", 400) from None


def fields(root: Element) -> dict[str, FieldValue]:
    """The children of ``<xml>`` as ``{tag: value}``, tags kept as WeChat spells them.

    Raises :class:`ProtocolError` (400) for a field nested deeper than :data:`MAX_DEPTH`.
    """
    out: dict[str, FieldValue] = {}
    for child in root:
        out[child.tag] = _value(child, 1) if len(child) else (child.text or "")
    return out


def _value(element: Element, depth: int) -> FieldValue:
    if not len(element):
        return element.text or ""
    if depth >= MAX_DEPTH:
        raise ProtocolError(f"a field of the XML nests more than {MAX_DEPTH} levels deep; "
                            "WeChat's go four", 400)
    children = list(element)
    tags = [child.tag for child in children]
    if tags[0] in ("Item", "item") or len(set(tags)) < len(tags):
        return [_value(child, depth + 1) for child in children]
    return {snake(child.tag): _value(child, depth + 1) for child in children}


_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


#: Tags longer than this are renamed without the cache: a sender inventing long tags must not
#: fill it with up to 1024 copies of 64 KiB.
_CACHED_TAG = 64


def snake(tag: str) -> str:
    """``ExternalUserID`` -> ``external_user_id``: the key a bot author reads in ``data``."""
    return _snake_cached(tag) if len(tag) <= _CACHED_TAG else _snake(tag)


def _snake(tag: str) -> str:
    return _BOUNDARY.sub("_", tag).lower()


_snake_cached = lru_cache(maxsize=1024)(_snake)


def snake_fields(values: dict[str, FieldValue],
                 skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Top-level fields renamed with :func:`snake`, leaving out the ``skip`` tags."""
    return {snake(tag): value for tag, value in values.items() if tag not in skip}
