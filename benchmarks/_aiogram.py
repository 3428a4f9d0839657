"""The aiogram 3 peer of ``benchmarks.callback``: the same work on Telegram's side of the wire.

aiogram's webhook server (``SimpleRequestHandler`` on aiohttp, answering in the HTTP response)
with its ``RedisStorage`` for the FSM: each update is a text message from one of the customers;
the handler reads the customer's state, moves it (a → b → a, as the bench persona does) and
answers with the message as the webhook's reply. It runs from a virtualenv of its own, which
this module makes on first use (``pip install aiogram``), so aiogram's pins never meet the
project's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

VERSION = "3.31.0"
#: where the peer's virtualenv lives between runs (``PERSONA_BENCH_PEERS`` moves it)
HOME = Path(os.environ.get("PERSONA_BENCH_PEERS", Path.home() / ".cache" / "persona-bench"))
#: what Telegram's Bot API token looks like: aiogram checks the shape, nothing is ever sent
TOKEN = "123456789:AAbenchbenchbenchbenchbenchbenchben"

SERVER = """
import sys
from aiohttp import web
from aiogram import Bot, Dispatcher, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler


class Flip(StatesGroup):
    a = State()
    b = State()


dispatcher = Dispatcher(storage=RedisStorage.from_url(sys.argv[2]))


@dispatcher.message(F.text)
async def talk(message: Message, state: FSMContext):
    current = await state.get_state()
    await state.set_state(Flip.a if current == Flip.b.state else Flip.b)
    return message.answer("收到「%s」" % message.text[:20])  # answered in the webhook's response


async def health(request):
    return web.Response(text="ok")


app = web.Application()
SimpleRequestHandler(dispatcher=dispatcher, bot=Bot(sys.argv[3]), handle_in_background=False).register(
    app, path="/wechat/{bot}")
app.router.add_get("/healthz", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def python(*, install: bool = True) -> tuple[Path | None, str]:
    """The peer virtualenv's interpreter (made and filled on first use unless ``install`` is
    False), or None and why not."""
    venv = HOME / f"aiogram-{VERSION}"
    exe = venv / "bin" / "python"
    if exe.exists():
        return exe, f"aiogram {VERSION} ({venv})"
    if not install:
        return None, f"aiogram comparison skipped: not installed yet ({venv}); a full run installs it"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(exe), "-m", "pip", "install", "--quiet", f"aiogram=={VERSION}", "redis>=5"],
                       check=True, capture_output=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        subprocess.run(["rm", "-rf", str(venv)], check=False)
        return None, (f"aiogram comparison skipped: installing aiogram {VERSION} into {venv} failed "
                      f"({type(exc).__name__}: {detail.decode(errors='replace')[-300:].strip()})")
    return exe, f"aiogram {VERSION} (installed into {venv})"


def updates(n: int, customers: int, words: list[str], bot: str) -> list[tuple[str, bytes]]:
    """``n`` Telegram updates, text messages from ``customers`` private chats, as (target, body)."""
    now = int(time.time())
    out = []
    for i in range(n):
        user = 10_000_000 + i % customers
        update = {"update_id": i + 1, "message": {
            "message_id": i + 1, "date": now, "text": words[i % len(words)],
            "chat": {"id": user, "type": "private", "first_name": "客户"},
            "from": {"id": user, "is_bot": False, "first_name": "客户"}}}
        out.append((f"/wechat/{bot}", json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode()))
    return out


def check_reply(port: int, bot: str) -> None:
    """One update by hand: the answer must be aiogram's sendMessage with the reply text (a
    webhook reply is a multipart form: method, chat_id, text)."""
    import email.parser
    import urllib.request

    [(target, body)] = updates(1, 1, ["hi"], bot)
    req = urllib.request.Request(f"http://127.0.0.1:{port}{target}", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = f"Content-Type: {resp.headers['Content-Type']}\r\n\r\n".encode() + resp.read()
    parts = {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).decode()
             for part in email.parser.BytesParser().parsebytes(raw).get_payload()}
    assert parts.get("method") == "sendMessage" and parts.get("text") == "收到「hi」", parts
