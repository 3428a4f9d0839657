"""``persona chat BOT``: be a customer of a bot in the terminal, on a fake clock.

The bot runs as in production — runtime, gate, scheduler, delivery and channels — against a
fake WeChat API, with time that moves only when told. Lines come from stdin, typed or piped::

    你好                              a message from the customer
    /wechat subscribe                 a WeChat event ({"key": ..., "data": {...}} optional)
    /wechat click {"key": "MENU_1"}
    /event order_placed {"amount": 99}   a business event from the brand's systems
    /media image                      the customer sends an image (or voice, video, location)
    /advance 3h                       move the clock (3h, 90m, 3d, 3 days, 3天, 1w), firing every timer on the way
    /state  /tags  /attrs  /timers  /now  /help  /quit

Every message the bot sends is printed on its own line as ``bot> [YYYY-MM-DD HH:MM] TEXT`` (the
fake time it was sent; more lines of the same message are indented), and a message to someone
else — staff, a group — as ``bot> [YYYY-MM-DD HH:MM] (to RECIPIENT) TEXT``. No other line
starts with ``bot> ``, so a transcript can be checked by a script. Other lines explain what
did not reach the customer: a message the gate held back or dropped and why, an input no
handler took, a handler that failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import datetime
from typing import Any, Awaitable, Callable, TextIO

from ..clock import parse_duration, parse_time
from ..errors import PersonaError
from ..engine.gate import Action, explain
from ..model.inputs import Input, TimerFired
from ..engine.outcome import Status
from ..model.timers import zone
from .arguments import add_bot, add_store, json_object

PREFIX = "bot> "
TIME = "%Y-%m-%d %H:%M"
DEFAULT_START = "2026-11-23 09:00"
DEFAULT_USER = "wm_chat_user"
HELP = """\
  text                      a message from the customer
  /wechat EVENT [json]      a WeChat/WeCom event: subscribe, click {"key": "MENU"}, scan,
                            add_external_contact {"key": "scene", "data": {"welcome_code": "W1"}}
  /event NAME [json]        a business event with its data
  /media TYPE [json]        the customer sends an image, voice, video, location...
  /advance 3h               move the clock (3h, 90m, 3 days, 3天, 1w), firing every timer due
  /agent NAME TEXT          a human agent answers through the desk (after 转人工)
  /close NAME               the agent gives the conversation back to the bot
  /state /tags /attrs /counters /timers /now    the customer and the clock
  /quit                     end"""


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona chat``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("--user", default=DEFAULT_USER, metavar="ID",
                   help=f"the customer's id (default {DEFAULT_USER}; WeCom ids start wm, others are "
                        "Official Account followers)")
    p.add_argument("--start", default=DEFAULT_START, metavar="'YYYY-MM-DD HH:MM'",
                   help=f"the fake clock's start, local time (default {DEFAULT_START})")
    p.add_argument("--tz", default=None, help="time zone of --start and the printed times "
                                              "(default: the persona's)")
    add_store(p, default="memory://")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print only the bot's messages, not why others were held back or dropped")
    p.add_argument("-v", "--verbose", action="store_true", help="log warnings and tracebacks to stderr")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..model.persona import load_persona

    cls = load_persona(args.bot)
    tz = args.tz or cls.timezone
    zone(tz)
    try:
        parse_time(args.start, tz)
    except ValueError:
        raise PersonaError(f"--start {args.start!r}: write it as \"YYYY-MM-DD HH:MM\"") from None
    _quiet_logs(args.verbose)
    return asyncio.run(Chat(cls, args.user, args.start, tz, args.store, sys.stdout,
                            notes=not args.quiet, namespace=args.namespace).run(sys.stdin))


def _quiet_logs(verbose: bool) -> None:
    """Failures are reported on the chat's own lines; logs only with --verbose."""
    logger = logging.getLogger("persona")
    if verbose:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    else:
        logger.setLevel(logging.CRITICAL + 1)


class Chat:
    """One customer talking to one bot on a :class:`~persona.testing.Simulation`."""

    def __init__(self, persona: Any, user: str, start: str, tz: str, store: str, out: TextIO,
                 *, notes: bool = True, namespace: str | None = None) -> None:
        self.persona, self.user, self.start, self.tz, self.store_url = persona, user, start, tz, store
        self.namespace = namespace
        self.out = out
        self.notes = notes
        self.colour = bool(getattr(out, "isatty", lambda: False)())
        self.outcomes: list[tuple[Input, Any]] = []
        self.sim: Any = None

    async def run(self, stdin: TextIO) -> int:
        from ..testing import Simulation

        async with Simulation(self.persona, start=self.start, store=self.store_url, tz=self.tz,
                              namespace=self.namespace, report_drops=False) as sim:
            self.sim = sim
            self._observe(sim)
            await sim.bot.load_scripts(check=False)  # what a writer published to --store
            watching = asyncio.Event()
            watcher = asyncio.create_task(self._watch_scripts(watching))
            try:
                await self._converse(stdin)
            finally:
                watching.set()
                await watcher
        return 0

    async def _watch_scripts(self, stop: asyncio.Event) -> None:
        """An edited script that passes lint is used from the next line; lint's findings otherwise."""
        from ..content.scripts.live import watch_folder

        if self.sim.bot.persona.scripts.folder.is_dir():
            await watch_folder(self.persona, self.sim.bot.persona.scripts, stop, self._say)

    async def _converse(self, stdin: TextIO) -> None:
        interactive = bool(getattr(stdin, "isatty", lambda: False)())
        if interactive:
            self._say(f"chatting with {self.persona.name} as {self.user}, {self._now()} "
                      f"({self.tz}); /help for commands, /quit to end")
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, _read, stdin, "you> " if interactive else "")
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if not interactive:
                self._say(f"you> {line}")
            if line in ("/quit", "/exit", "/q"):
                break
            try:
                await self.handle(line)
            except (PersonaError, ValueError) as exc:
                self._say(f"error: {exc}")

    # -- commands ----------------------------------------------------------------------------
    async def handle(self, line: str) -> None:
        """One line: a command, or text from the customer."""
        if not line.startswith("/") or line.startswith("//"):
            await self._input(lambda: self.sim.text(self.user, line[1:] if line.startswith("//") else line))
            return
        command, _, rest = line[1:].partition(" ")
        rest = rest.strip()
        handler = self.COMMANDS.get(command)
        if handler is None:
            raise PersonaError(f"unknown command /{command}; /help lists them (start a message with // "
                               "to send a text beginning with /)")
        await handler(self, rest)

    async def _cmd_wechat(self, rest: str) -> None:
        name, _, raw = rest.partition(" ")
        if not name:
            raise PersonaError('usage: /wechat EVENT [json], e.g. /wechat click {"key": "MENU_1"}')
        payload = json_object(raw, "/wechat")
        key = payload.pop("key", None)
        data = payload.pop("data", None) or {}
        if not isinstance(data, dict):
            raise PersonaError('/wechat: "data" must be a JSON object')
        data = {**payload, **data}
        await self._input(lambda: self.sim.wechat(self.user, name, key=None if key is None else str(key), **data))

    async def _cmd_event(self, rest: str) -> None:
        name, _, raw = rest.partition(" ")
        if not name:
            raise PersonaError('usage: /event NAME [json], e.g. /event order_placed {"amount": 99}')
        data = json_object(raw, "/event")
        await self._input(lambda: self.sim.event(self.user, name, data))

    async def _cmd_media(self, rest: str) -> None:
        kind, _, raw = rest.partition(" ")
        payload = json_object(raw, "/media")
        await self._input(lambda: self.sim.media(self.user, kind or "image", **payload))

    async def _cmd_advance(self, rest: str) -> None:
        if not rest:
            raise PersonaError("usage: /advance 3h (or 90m, 3d, 3 days, 3天, 1w)")
        duration = parse_duration(rest)
        if duration.total_seconds() < 0:
            raise PersonaError("/advance: the clock only moves forward")
        await self._input(lambda: self.sim.advance(duration))
        self._say(f"now {self._now()}")

    async def _cmd_agent(self, rest: str) -> None:
        agent, _, text = rest.partition(" ")
        if not agent or not text.strip():
            raise PersonaError("usage: /agent NAME TEXT, e.g. /agent lisi 您好，我是小李")
        await self._input(lambda: self.sim.agent(self.user, agent, text.strip()))

    async def _cmd_close(self, rest: str) -> None:
        if not rest:
            raise PersonaError("usage: /close NAME (the agent who gives the conversation back)")
        await self._input(lambda: self.sim.close(self.user, rest))

    async def _cmd_state(self, rest: str) -> None:
        customer = await self.sim.customer(self.user)
        self._say(f"state: {customer.state if customer else self.persona.initial + ' (not seen yet)'}")

    async def _cmd_tags(self, rest: str) -> None:
        customer = await self.sim.customer(self.user)
        tags = customer.tags if customer else {}
        self._say("tags: " + ("  ".join(f"{k}={v}" if v else k for k, v in sorted(tags.items())) or "-"))

    async def _cmd_attrs(self, rest: str) -> None:
        customer = await self.sim.customer(self.user)
        attrs = customer.attrs if customer else {}
        self._say("attrs: " + (json.dumps(attrs, ensure_ascii=False, default=str) if attrs else "-"))

    async def _cmd_counters(self, rest: str) -> None:
        customer = await self.sim.customer(self.user)
        counters = customer.counters if customer else {}
        self._say("counters: " + ("  ".join(f"{k}={v}" for k, v in sorted(counters.items())) or "-"))

    async def _cmd_timers(self, rest: str) -> None:
        pending = await self.sim.store.pending_timers(self.user)
        if not pending:
            self._say("timers: -")
            return
        self._say("timers:")
        for name, due in sorted(pending.items(), key=lambda kv: kv[1]):
            self._say(f"  {name:<20} {self._local(due)}")

    async def _cmd_now(self, rest: str) -> None:
        self._say(f"now {self._now()} ({self.tz})")

    async def _cmd_help(self, rest: str) -> None:
        self._say(HELP)

    COMMANDS: dict[str, Callable[["Chat", str], Awaitable[None]]] = {
        "wechat": _cmd_wechat, "event": _cmd_event, "media": _cmd_media, "advance": _cmd_advance,
        "agent": _cmd_agent, "close": _cmd_close,
        "state": _cmd_state, "tags": _cmd_tags, "attrs": _cmd_attrs, "counters": _cmd_counters,
        "timers": _cmd_timers, "now": _cmd_now, "help": _cmd_help,
    }

    # -- output ------------------------------------------------------------------------------
    async def _input(self, send: Callable[[], Awaitable[list[Any]]]) -> None:
        """Run one input (or a clock move) and print what left the bot, in order."""
        self.outcomes.clear()
        sent = await send()
        for message in sorted(sent, key=lambda s: s.at):
            self._print_message(message)
        if self.notes:
            for inp, outcome in self.outcomes:
                for note in self._notes(inp, outcome):
                    self._say(note)

    def _print_message(self, sent: Any) -> None:
        when = datetime.fromtimestamp(sent.at, zone(self.tz)).strftime(TIME)
        to = "" if sent.to == self.user else f"(to {sent.to}) "
        lines = message_lines(sent)
        indent = " " * len(f"{PREFIX}[{when}] ")
        stamp = f"\033[2m[{when}]\033[0m " if self.colour else f"[{when}] "
        self._write(f"{PREFIX}{stamp}{to}{lines[0]}")
        for line in lines[1:]:
            self._write(f"{indent}{line}")

    def _notes(self, inp: Input, outcome: Any) -> list[str]:
        """Why something did not reach anyone, for this customer's inputs."""
        if inp.user != self.user:
            return []
        what = inp.describe()
        notes = []
        if outcome.status is Status.ERROR:
            notes.append(f"  ! {what} failed: {outcome.error}")
        elif outcome.status is Status.UNHANDLED and not isinstance(inp, TimerFired):
            state = outcome.customer.state if outcome.customer else "?"
            notes.append(f"  · no handler took {what} in state {state}")
        for message, decision in outcome.messages:
            name = message.script or message.kind
            if decision.action is Action.DROP:
                notes.append(f"  · {name} not sent: {explain(decision.reason)}")
            elif decision.action is Action.DEFER:
                notes.append(f"  · {name} held until {self._local(decision.due)} ({decision.reason})")
        return notes

    def _observe(self, sim: Any) -> None:
        """Keep each input's outcome (texts, events and the timers the clock fires)."""
        handle = sim.runtime.handle

        async def observed(inp: Input, slot: Any = None) -> Any:
            outcome = await handle(inp, slot)
            self.outcomes.append((inp, outcome))
            return outcome

        sim.runtime.handle = observed

    def _now(self) -> str:
        return self._local(self.sim.clock.now())

    def _local(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, zone(self.tz)).strftime(TIME)

    def _say(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._write(line if not line.startswith(PREFIX) else " " + line)

    def _write(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def message_lines(sent: Any) -> list[str]:
    """A sent message as lines: the text, or ``[kind] title``, then what a reader would see."""
    kind, text, fields = sent.kind, (sent.text or "").strip(), sent.fields or {}
    if kind == "text":
        return text.splitlines() or [""]
    lines = [sent.summary()]
    shown = {lines[0], text}
    if text:
        lines += text.splitlines()
    for key in ("description", "url", "pagepath", "appid", "media", "picurl"):
        value = fields.get(key)
        if value and str(value).strip() not in shown and str(value) not in lines[0]:
            lines += f"{key}: {value}".splitlines()
    for article in fields.get("articles") or []:
        if isinstance(article, dict):
            lines.append(f"- {article.get('title', '')} {article.get('url', '')}".rstrip())
    return lines


def _read(stream: TextIO, prompt: str) -> str | None:
    if prompt:
        try:
            return input(prompt)
        except EOFError:
            return None
    line = stream.readline()
    return line if line else None
