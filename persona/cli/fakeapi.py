"""``persona fakeapi [--host H] [--port P]``: the local stand-in for WeChat's and WeCom's APIs.

A bot served on a laptop without real credentials would spend every send on eight retries
against the real hosts and end as dead letters. Pointing ``WECHAT_API_BASE`` and
``WECOM_API_BASE`` at this server instead makes every send succeed the way the platforms
answer (tokens, windows, welcome codes, content checks) and prints each message accepted, so
``persona serve`` can be tried end to end. It is :class:`persona.fakeapi.FakeWeChat`, the
fake the tests use, served until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from datetime import datetime
from typing import Any

from ..errors import PersonaError
from ..wechat.fake import FakeWeChat, Sent

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona fakeapi``'s arguments (its help texts are in ``commands.toml``)."""
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free port)")
    p.set_defaults(run=run)


def fake_from_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> FakeWeChat:
    """A fake that accepts the credentials the bot will use, so one shell's variables serve both."""
    options: dict[str, Any] = {}
    for option, variable in (("appid", "WECHAT_APPID"), ("secret", "WECHAT_APPSECRET"),
                             ("corpid", "WECOM_CORPID"), ("corpsecret", "WECOM_SECRET")):
        if environ.get(variable):
            options[option] = environ[variable]
    agentid = environ.get("WECOM_AGENTID", "")
    if agentid:
        if not agentid.isdigit():
            raise PersonaError(f"WECOM_AGENTID={agentid!r}: the agent id is a number, e.g. 1000002")
        options["agentid"] = int(agentid)
    return FakeWeChat(on_message=_print_message, **options)


def _print_message(sent: Sent) -> None:
    when = datetime.fromtimestamp(sent.time).strftime("%H:%M:%S")
    pending = " (waits for the staff member's confirmation)" if sent.pending else ""
    text = sent.text.replace("\n", "\n    ")
    print(f"[{when}] {sent.api} to {sent.to} ({sent.kind}){pending}: {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args.host, args.port))


async def _serve(host: str, port: int) -> int:
    fake = fake_from_environment()
    try:
        base = await fake.start(port=port, host=host)
    except OSError as exc:
        raise PersonaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                           "choose another --port") from None
    print(f"fake WeChat / WeCom API on {base} (GET {base}/fake/messages lists what it accepted)\n"
          f"point a bot at it:\n"
          f"  export WECHAT_API_BASE={base} WECOM_API_BASE={base}\n"
          f"  export WECHAT_APPID={fake.appid} WECHAT_APPSECRET={fake.secret}\n"
          f"  export WECOM_CORPID={fake.corpid} WECOM_SECRET={fake.corpsecret} WECOM_AGENTID={fake.agentid}",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()
    print(f"stopped; {len(fake.messages)} message(s) accepted", file=sys.stderr, flush=True)
    return 0
