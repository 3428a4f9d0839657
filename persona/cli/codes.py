"""``persona codes BOT create|list|remove ...``: 渠道活码, the codes that bring customers to a
bot, credited to a channel and assigned to staff by rule (see :mod:`persona.engine.codes`).

The platform is called with the bot's credentials from the environment (``WECOM_CORPID`` /
``WECOM_SECRET`` for a WeCom code, ``WECHAT_APPID`` / ``WECHAT_APPSECRET`` with ``--oa``; a
``<BOT>_`` prefix wins, as in ``persona serve``), and the codes are kept in the bot's store.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
from datetime import datetime
from typing import Any, Awaitable, Callable

from ..clock import Clock
from ..engine import acquisition, codes
from ..errors import ChannelError, PersonaError, StoreUnavailable
from ..model.persona import Persona, load_persona
from ..service.context import bot_environ
from ..store import Store
from ..wechat.channels.router import Router
from ..wechat.channels.tokens import ACCOUNTS_NAMESPACE
from .arguments import add_bot, add_store, open_for

EXIT_OK, EXIT_REFUSED = 0, 1
#: each action's help (the command's own is in ``commands.toml``)
ACTIONS = {
    "create": "make CHANNEL's code on the platform and keep it (WeCom: --staff a,b; Official Account: --oa)",
    "list": "every code: its staff, rule, cap and today's adds, and its QR pictures",
    "remove": "delete CHANNEL's contact ways on WeCom and forget the code",
}


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona codes``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, run: Callable[..., Awaitable[int]]) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = sub.add_parser(name, help=ACTIONS[name], description=ACTIONS[name])
        add_store(a)
        a.set_defaults(run=_runner(run))
        return a

    create = action("create", _create)
    create.add_argument("channel", metavar="CHANNEL",
                        help="the channel customers are credited to, e.g. parcel_lipstick")
    create.add_argument("--staff", default="", help="WeCom userids the code assigns to, comma separated")
    create.add_argument("--oa", action="store_true", help="an Official Account QR code instead (no staff)")
    create.add_argument("--rule", choices=[str(r) for r in codes.Rule], default=str(codes.Rule.ROUND_ROBIN),
                        help="who is next: each visitor the next member (round-robin), or the member with "
                             "the fewest adds today (fewest)")
    create.add_argument("--cap", type=int, default=codes.DEFAULT_CAP,
                        help=f"adds per staff member per day, through any contact way (default {codes.DEFAULT_CAP})")
    create.add_argument("--verify", action="store_true",
                        help="customers wait for the staff member's approval (default: added at once)")
    create.add_argument("--skip-verify", dest="verify", action="store_false",
                        help="customers are added at once (the default)")
    lister = action("list", _list)
    lister.add_argument("--json", action="store_true", help="print the codes and today's adds as JSON")
    remove = action("remove", _remove)
    remove.add_argument("channel", metavar="CHANNEL")


def _runner(run: Callable[..., Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    def main(args: argparse.Namespace) -> int:
        cls = load_persona(args.bot)
        store = open_for(args.store, args.namespace or cls.name)
        return asyncio.run(_with(run, args, cls, store))
    return main


async def _with(run: Callable[..., Awaitable[int]], args: argparse.Namespace, cls: type[Persona], store: Store) -> int:
    tokens = open_for(args.store, ACCOUNTS_NAMESPACE)
    router = Router.from_env(bot_environ(os.environ, cls.name), store, token_store=tokens)
    try:
        return await run(args, cls, store, router)
    except codes.CodeError as exc:
        raise PersonaError(str(exc)) from None
    except ChannelError as exc:
        print(f"persona: the platform refused: {exc}")
        return EXIT_REFUSED
    except StoreUnavailable as exc:
        raise PersonaError(f"the store cannot be reached: {exc}") from None
    finally:
        await router.close()
        await store.close()
        await tokens.close()


async def _create(args: argparse.Namespace, cls: type[Persona], store: Store, router: Router) -> int:
    code = await codes.create(store, router, args.channel, staff=args.staff.split(","), official=args.oa,
                              rule=codes.Rule(args.rule), cap=args.cap, skip_verify=not args.verify,
                              by=getpass.getuser(), now=Clock().now())
    print(f"{code.channel}: {_where(code)}; landing /c/{cls.name}/{code.channel} on persona serve")
    for line in _pictures(code):
        print(f"  {line}")
    return EXIT_OK


async def _list(args: argparse.Namespace, cls: type[Persona], store: Store, router: Router) -> int:
    kept = await codes.load(store)
    today = await acquisition.added_today(store, Clock().now(), cls.timezone)
    if args.json:
        print(json.dumps({"codes": [{**c.to_dict(), "landing": f"/c/{cls.name}/{c.channel}",
                                     "today": {s.staff: today[s.staff] for s in c.staff}} for c in kept]},
                         ensure_ascii=False))
        return EXIT_OK
    if not kept:
        print(f"{cls.name} has no channel codes (persona codes {args.bot} create CHANNEL --staff ...)")
    for code in kept:
        made = datetime.fromtimestamp(code.created).strftime("%Y-%m-%d %H:%M") if code.created else "?"
        print(f"{code.channel}  {_where(code)}  landing /c/{cls.name}/{code.channel}  made {made} by {code.by or '?'}")
        for staff in code.staff:
            print(f"  {staff.staff}: {today[staff.staff]}/{code.cap} added today  {staff.qr_code}")
        if code.image:
            print(f"  {code.image}")
    return EXIT_OK


async def _remove(args: argparse.Namespace, cls: type[Persona], store: Store, router: Router) -> int:
    code = await codes.remove(store, router, args.channel)
    gone = "its contact ways deleted on WeCom" if code.staff else "forgotten (WeChat keeps permanent QR codes)"
    print(f"{code.channel}: removed, {gone}")
    return EXIT_OK


def _where(code: codes.ChannelCode) -> str:
    if code.platform is codes.Platform.OFFICIAL:
        return "Official Account QR code"
    staff = ", ".join(s.staff for s in code.staff)
    verify = "" if code.skip_verify else ", with approval"
    return f"WeCom, {code.rule} over {staff}, at most {code.cap} a day each{verify}"


def _pictures(code: codes.ChannelCode) -> list[str]:
    return [f"{s.staff}: {s.qr_code}" for s in code.staff] or [code.image]
