"""What the service's handlers share: the mounted bots, their endpoints, limits and timers.

Kept apart from ``app.py`` so the handler modules can import it without importing each other.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from ..engine.bot import Bot
from ..errors import ProtocolError
from ..metrics import Metrics
from ..wechat.protocol import MAX_BODY_BYTES, Endpoint, OfficialAccount, WeCom
from ..engine.spool import Spool
from .siblings import Siblings

log = logging.getLogger(__name__)

#: The environment variables a bot may override with ``<BOTNAME>_<VARIABLE>``.
OVERRIDABLE = ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_APPSECRET", "WECHAT_AES_KEY",
               "WECOM_CORPID", "WECOM_SECRET", "WECOM_AGENTID", "WECOM_TOKEN", "WECOM_AES_KEY",
               "PERSONA_EVENT_SECRET", "PERSONA_FORM_SECRET", "PERSONA_PUBLIC_URL",
               "PERSONA_HANDOFF_AGENTS", "PERSONA_HANDOFF_HOURS", "PERSONA_HANDOFF_DESK_URL")


def env_prefix(name: str) -> str:
    """``xiaowanzi`` -> ``XIAOWANZI``; ``fitness-coach`` -> ``FITNESS_COACH``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").upper()


def bot_environ(environ: Mapping[str, str], name: str) -> dict[str, str]:
    """``environ`` with ``<NAME>_WECHAT_TOKEN`` and friends taking the place of the plain names.

    So several bots in one process can each have their own account; an override set to the
    empty string switches a setting off for that bot (e.g. plaintext mode for one account).
    """
    merged = dict(environ)
    prefix = env_prefix(name)
    for key in OVERRIDABLE:
        own = environ.get(f"{prefix}_{key}")
        if own is not None:
            merged[key] = own
    return merged


@dataclass
class Mounted:
    """One bot as the service sees it: the bot and the doors into it."""

    bot: Bot
    wechat: OfficialAccount | None
    wecom: WeCom | None
    event_secret: bytes | None

    @classmethod
    def build(cls, bot: Bot, environ: Mapping[str, str]) -> "Mounted":
        env = bot_environ(environ, bot.name)
        now = bot.clock.now
        secret = env.get("PERSONA_EVENT_SECRET") or ""
        return cls(bot=bot, wechat=OfficialAccount.from_env(env, now),
                   wecom=WeCom.from_env(env, now), event_secret=secret.encode() or None)

    def endpoint(self, query: Mapping[str, str]) -> Endpoint:
        """Which platform sent this request.

        Official Accounts put ``signature`` in every callback query (beside ``msg_signature``
        in safe mode); WeCom only ever sends ``msg_signature``. Each endpoint then checks its
        own token, so picking the wrong one can only fail, never let a forgery through.
        """
        if self.wecom is not None and (self.wechat is None or (
                "signature" not in query and "msg_signature" in query)):
            if not query.get("msg_signature"):  # unsigned: refuse before reading any XML
                raise ProtocolError("WeCom callback query lacks msg_signature", 403)
            return self.wecom
        if self.wechat is not None:
            return self.wechat
        raise ProtocolError(f"bot {self.bot.name!r} has no WeChat or WeCom callback configured "
                            "(set WECHAT_TOKEN or WECOM_TOKEN)", 404)


@dataclass
class ServiceState:
    """Everything ``create_app`` configured, stored on the application."""

    bots: dict[str, Mounted]
    metrics: Metrics
    deadline: float
    max_body: int = MAX_BODY_BYTES
    max_event_body: int = MAX_BODY_BYTES
    max_batch: int = 1000
    run_bots: bool = True
    scheduler: bool = True
    delivery: bool = True
    ping_timeout: float = 2.0
    #: seconds a request's body may take to arrive
    read_timeout: float = 10.0
    #: where turns answered ``success`` before they committed are kept until they do
    spool: Spool | None = None
    #: spool files no process writes any more, replayed here until empty
    adopted: list[Spool] = field(default_factory=list)
    #: the other processes of ``persona serve --workers N``, for one /metrics page
    siblings: Siblings | None = None
    #: turns still running after their callback was answered at the deadline
    background: set[asyncio.Task[object]] = field(default_factory=set)
    #: each bot's last store health check (monotonic time, None or why it failed): a load
    #: balancer polling /healthz many times a second costs the store one probe a second
    health: dict[str, tuple[float, str | None]] = field(default_factory=dict)

    def metric_sources(self) -> list[Metrics]:
        """Every distinct Metrics object: the service's and each bot's (often one shared)."""
        seen: dict[int, Metrics] = {id(self.metrics): self.metrics}
        for mounted in self.bots.values():
            seen.setdefault(id(mounted.bot.metrics), mounted.bot.metrics)
        return list(seen.values())


STATE: web.AppKey[ServiceState] = web.AppKey("persona_service", ServiceState)


def state_of(request: web.Request) -> ServiceState:
    return request.config_dict[STATE]


def mounted_of(request: web.Request) -> Mounted:
    """The bot named in the path, or 404."""
    name = request.match_info["bot"]
    mounted = state_of(request).bots.get(name)
    if mounted is None:
        raise web.HTTPNotFound(text=f"no bot named {name[:64]!r} here\n")
    return mounted


async def read_body(request: web.Request, limit: int, timeout: float | None = None) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes.

    Checked against Content-Length before reading and counted while reading (chunked bodies
    have no length), so an oversized body never sits in memory whole. A body that takes more
    than ``timeout`` seconds to arrive is refused with 408: a sender trickling a byte at a
    time would otherwise hold a handler (and a file descriptor) for as long as it likes.
    """
    length = request.content_length
    if length is not None and length > limit:
        raise ProtocolError(f"body is {length} bytes, over the {limit} byte limit", 413)
    if request.content.is_eof():  # all of it came with the headers (WeChat's does): no wait, no timer
        whole = request.content.read_nowait()
        if len(whole) > limit:
            raise ProtocolError(f"body is over the {limit} byte limit", 413)
        return whole
    return await stream_body(request, limit, timeout)


async def stream_body(request: web.Request, limit: int, timeout: float | None) -> bytes:
    """The rest of a body still arriving: counted as it comes, within ``timeout`` (408)."""
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise ProtocolError(f"body is over the {limit} byte limit", 413)
    except TimeoutError:
        raise ProtocolError(f"the body did not arrive within {timeout:g} s "
                            f"({len(body)} bytes came)", 408) from None
    return bytes(body)
