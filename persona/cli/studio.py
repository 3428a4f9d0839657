"""``persona studio BOT [BOT...]``: the web application for writers, agents and admins;
``persona studio adduser NAME --role writer|agent|admin``: an account for it (password on stdin).

The studio is its own process, bound to 127.0.0.1 by default: it holds customer data and staff
accounts, so it never shares the public callback port. Point it at the store the bots use.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys

from ..errors import AccountError, PersonaError
from ..model.persona import load_persona
from ..store import DEFAULT_URL, open_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
ADDUSER = "adduser"


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona studio``'s arguments (its help texts are in ``commands.toml``)."""
    p.add_argument("bots", nargs="+", metavar="BOT", help="import paths of bots (or: adduser NAME)")
    p.add_argument("--store", default=DEFAULT_URL, help=f"the bots' store URL (default {DEFAULT_URL})")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--role", help="adduser: writer, agent or admin")
    p.add_argument("--log-level", default="INFO", help="default INFO")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.bots[0] == ADDUSER:
        return adduser(args)
    if args.role:
        raise PersonaError("--role is for `persona studio adduser NAME --role ROLE`")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from aiohttp import web

    from ..studio import create_app

    personas = [load_persona(path) for path in args.bots]
    try:
        app = create_app(personas, args.store)
    except ValueError as exc:
        raise PersonaError(str(exc)) from None
    names = ", ".join(p.name for p in personas)
    print(f"persona studio: {names} on {args.store}, http://{args.host}:{args.port}/", file=sys.stderr)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def adduser(args: argparse.Namespace) -> int:
    if len(args.bots) != 2:
        raise PersonaError("usage: persona studio adduser NAME --role writer|agent|admin --store URL")
    if not args.role:
        raise PersonaError("adduser needs --role writer, agent or admin")
    name = args.bots[1]
    password = _read_password()
    from ..studio.accounts import Accounts
    from ..studio.context import NAMESPACE

    async def add() -> None:
        try:
            store = open_store(args.store, NAMESPACE)
        except ValueError as exc:
            raise PersonaError(str(exc)) from None
        try:
            await Accounts(store).add(name, args.role, password)
        finally:
            await store.close()

    try:
        asyncio.run(add())
    except AccountError as exc:
        print(f"persona: {exc}", file=sys.stderr)
        return 1
    print(f"account {name} ({args.role}) saved in {args.store}")
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise PersonaError("the two passwords differ; nothing was saved")
        return first
    return sys.stdin.readline().rstrip("\r\n")
