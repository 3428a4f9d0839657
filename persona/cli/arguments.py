"""The arguments most commands share: which bot, which store, and opening that store.

One definition, so ``BOT`` and ``--store`` read and fail the same way in every command: a
store URL nobody can open is a usage error (exit 2) naming the URL, not a traceback.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import PersonaError
from ..store import DEFAULT_URL, Store, open_store

BOT_HELP = "import path of a bot, e.g. bots.xiaowanzi"


def add_bot(parser: argparse.ArgumentParser, *, many: bool = False, help: str = BOT_HELP) -> None:
    """``BOT`` (or ``BOT [BOT...]`` with ``many``; then ``args.bots``)."""
    if many:
        parser.add_argument("bots", nargs="+", metavar="BOT", help=help)
    else:
        parser.add_argument("bot", metavar="BOT", help=help)


def add_store(parser: argparse.ArgumentParser, *, default: str = DEFAULT_URL, namespace: bool = True) -> None:
    """``--store URL`` and, unless told otherwise, ``--namespace NS`` (default: the bot's name)."""
    parser.add_argument("--store", default=default, help=f"store URL (default {default})")
    if namespace:
        parser.add_argument("--namespace", help="store namespace (default: the bot's name, as persona serve uses)")


def open_for(url: str, namespace: str) -> Store:
    """The store at ``url`` for ``namespace``, or a usage error saying what is wrong with the URL."""
    try:
        return open_store(url, namespace)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None


def json_object(raw: str, where: str, example: str = '{"key": "value"}') -> dict[str, Any]:
    """``raw`` as a JSON object (empty: ``{}``), or a usage error saying where and what is wrong."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PersonaError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise PersonaError(f"{where} must be a JSON object, e.g. {example}")
    return value
