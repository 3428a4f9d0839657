"""The only door untrusted JSON comes in through: parsed once, with a bounded nesting depth.

``json.loads`` recurses once per level, so ten thousand ``[`` in a signed body raise
``RecursionError`` inside the parser; a document just under Python's limit parses, and then
breaks whatever walks it next (``json.dumps`` when the turn commits). Business events are
flat records with a few nested objects, so anything deeper than :data:`MAX_DEPTH` is refused
as a bad request before any of it reaches a persona.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from ..errors import ProtocolError

#: How deep objects and lists may nest in a request body (the body itself is level 1).
MAX_DEPTH = 32


def loads(body: bytes | str, what: str = "the body") -> Any:
    """The parsed document, or :class:`ProtocolError` (400) when it is not JSON or too deep."""
    try:
        document = json.loads(body)
    except RecursionError:
        raise ProtocolError(f"{what} nests deeper than {MAX_DEPTH} levels", 400) from None
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(f"{what} is not JSON", 400) from None
    if depth(document) > MAX_DEPTH:
        raise ProtocolError(f"{what} nests deeper than {MAX_DEPTH} levels", 400)
    return document


def depth(document: Any) -> int:
    """How deep objects and lists nest in ``document`` (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, level = stack.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break  # already too deep: no need to walk the rest
        stack.extend((child, level + 1) for child in children)
    return deepest
