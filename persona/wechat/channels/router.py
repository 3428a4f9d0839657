"""Which platform API carries a message: decided from its address (``Message.to``) and door
(``Message.via``), and from which accounts the bot is configured with.

==========================================  ======================================
address / via                               API
==========================================  ======================================
customer (``None`` / ``user:<id>``)
  via ``template``                          Official Account template message
  via ``welcome``                           WeCom welcome message (needs the code)
  via ``mass``                              WeCom mass message (staff confirms)
  via ``kf`` / empty, Official Account      Official Account customer service
  via ``kf`` / empty, WeCom customer        WeCom welcome if the turn carried a
                                            welcome code, else WeChat customer
                                            service if an open_kfid is known,
                                            else a mass message
``staff:<userid>``                          WeCom app message (paced)
``group:<chatid>``                          customer-group mass message
                                            (``add_msg_template``, chat_type group,
                                            sent by the group's owner, or field
                                            ``sender``, once they confirm it);
  via ``appchat``                           WeCom app group chat (a chat the app
                                            created: WeCom refuses any other)
``staff_group:<chatid>``                    WeCom app group chat (``appchat``)
==========================================  ======================================

A customer is a WeCom external contact when the payload says ``platform: wecom``, when their
id looks like one (``wm…`` / ``wo…``), or when WeCom is the only account configured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Sequence

from ...clock import Clock
from ...model.messages import Message
from ...store.base import KeyValue
from ...errors import ChannelError
from .base import HttpSession, RouteError, SendResult, client_id
from .wechat import DEFAULT_BASE as WECHAT_DEFAULT_BASE
from .wechat import OfficialAccountChannel
from .wecom import DEFAULT_BASE as WECOM_DEFAULT_BASE
from .wecom import WeComChannel

MP_CUSTOM, MP_TEMPLATE = "mp_custom", "mp_template"
WECOM_WELCOME, WECOM_MASS, WECOM_KF, WECOM_APP, WECOM_APPCHAT = (
    "wecom_welcome", "wecom_mass", "wecom_kf", "wecom_app", "wecom_appchat")
WECOM_EXTERNAL_PREFIXES = ("wm", "wo")

_NEED_MP = ("needs an Official Account: set WECHAT_APPID and WECHAT_APPSECRET (and WECHAT_API_BASE to "
            "use a local fake)")
_NEED_WECOM = ("needs WeCom: set WECOM_CORPID, WECOM_SECRET and WECOM_AGENTID (and WECOM_API_BASE to use "
               "a local fake)")


@dataclass(frozen=True, slots=True)
class Route:
    """Where a message goes: the API (``mp_custom``, ``wecom_app``...) and its recipient id."""

    api: str
    target: str


class Router:
    """Sends messages through the bot's Official Account and/or WeCom app.

    Both channels share one HTTP session. Build it from the environment with :meth:`from_env`.
    """

    def __init__(self, official: OfficialAccountChannel | None = None, wecom: WeComChannel | None = None, *,
                 http: HttpSession | None = None) -> None:
        self.official = official
        self.wecom = wecom
        self.http = http

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, store: KeyValue | None = None, *,
                 clock: Clock | None = None, http: HttpSession | None = None, timeout: float = 10.0,
                 token_store: KeyValue | None = None) -> "Router":
        """Channels for whichever credentials are set: ``WECHAT_APPID``/``WECHAT_APPSECRET``
        (``WECHAT_API_BASE``), ``WECOM_CORPID``/``WECOM_SECRET``/``WECOM_AGENTID``/``WECOM_KF_ID``
        (``WECOM_API_BASE``). Nothing is contacted until the first send. Access tokens live in
        ``token_store`` when given (one for every bot on the same accounts), else in ``store``."""
        env = os.environ if environ is None else environ
        if store is None:
            raise ValueError("Router.from_env needs the bot's store (access tokens are cached there)")
        http = http or HttpSession(timeout)
        official = wecom = None
        if env.get("WECHAT_APPID") and env.get("WECHAT_APPSECRET"):
            official = OfficialAccountChannel(env.get("WECHAT_API_BASE") or WECHAT_DEFAULT_BASE,
                                              env["WECHAT_APPID"], env["WECHAT_APPSECRET"], store,
                                              clock=clock, http=http, token_store=token_store)
        if env.get("WECOM_CORPID") and env.get("WECOM_SECRET"):
            wecom = WeComChannel(env.get("WECOM_API_BASE") or WECOM_DEFAULT_BASE, env["WECOM_CORPID"],
                                 env["WECOM_SECRET"], env.get("WECOM_AGENTID") or None, store, clock=clock,
                                 http=http, kf_id=env.get("WECOM_KF_ID") or None, token_store=token_store)
        return cls(official, wecom, http=http)

    @property
    def configured(self) -> list[str]:
        """``["mp", "wecom"]``, whichever are set up."""
        return [name for name, ch in (("mp", self.official), ("wecom", self.wecom)) if ch is not None]

    def bind_clock(self, clock: Clock) -> None:
        """Token expiry and staff pacing follow ``clock`` (fake in simulations)."""
        for channel in (self.official, self.wecom):
            if channel is not None:
                channel.bind_clock(clock)

    # -- deciding --------------------------------------------------------------------------
    def platform_of(self, user: str, hint: str | None = None) -> str:
        if hint in ("mp", "wecom"):
            return hint
        if self.wecom is not None and self.official is None:
            return "wecom"
        if self.official is not None and self.wecom is None:
            return "mp"
        return "wecom" if user.startswith(WECOM_EXTERNAL_PREFIXES) else "mp"

    def route(self, message: Message, user: str, *, welcome_code: str | None = None,
              platform: str | None = None) -> Route:
        """Decide the API; raises :class:`RouteError` (permanent) when none can carry it."""
        to, via = message.to, message.via
        if to is None or to.startswith("user:"):
            target = user if to is None else to[len("user:"):]
            return self._customer_route(message, target, via, welcome_code, platform)
        if to.startswith("staff:"):
            if via not in ("", "app"):
                raise RouteError(f"via {via!r} cannot reach a staff member ({to}); use via 'app' or leave it empty")
            self._need_wecom(message, "a message to staff")
            return Route(WECOM_APP, to[len("staff:"):])
        if to.startswith("group:"):
            chat = to.split(":", 1)[1]
            if via == "appchat":
                self._need_wecom(message, "a message to a chat the app created")
                return Route(WECOM_APPCHAT, chat)
            if via not in ("", "mass", "group"):
                raise RouteError(f"via {via!r} cannot reach a customer group ({to}); leave it empty "
                                 "(a mass message its owner confirms) or use via 'appchat' for a chat the app created")
            self._need_wecom(message, "a customer-group message")
            return Route(WECOM_MASS, chat)
        if to.startswith("staff_group:"):
            chat = to.split(":", 1)[1]
            if via not in ("", "group", "app", "appchat"):
                raise RouteError(f"via {via!r} cannot reach a group ({to}); use via 'group' or leave it empty")
            self._need_wecom(message, "a group message")
            return Route(WECOM_APPCHAT, chat)
        raise RouteError(f"unknown address {to!r}: use user:<openid>, staff:<userid>, group:<chat_id> "
                         "or staff_group:<chat_id>")

    def _customer_route(self, message: Message, target: str, via: str, welcome_code: str | None,
                        platform: str | None) -> Route:
        if via == "template":
            self._need_mp(message, "a template message")
            return Route(MP_TEMPLATE, target)
        if via == "welcome":
            self._need_wecom(message, "a welcome message")
            if not welcome_code:
                raise RouteError(f"{_what(message)} is a welcome message but the turn carried no welcome code: "
                                 "send it from the add_external_contact event's handler")
            return Route(WECOM_WELCOME, target)
        if via == "mass":
            self._need_wecom(message, "a mass message")
            return Route(WECOM_MASS, target)
        if via not in ("", "kf"):
            raise RouteError(f"via {via!r} cannot reach a customer; use kf, template, welcome or mass")
        if self.platform_of(target, platform) == "wecom":
            self._need_wecom(message, "a message to a WeCom customer")
            assert self.wecom is not None
            if welcome_code and via == "":
                return Route(WECOM_WELCOME, target)
            if message.fields.get("open_kfid") or self.wecom.kf_id:
                return Route(WECOM_KF, target)
            if via == "kf":
                raise RouteError(f"{_what(message)} goes through WeCom customer service, which needs an "
                                 "open_kfid: set WECOM_KF_ID or the field 'open_kfid'")
            return Route(WECOM_MASS, target)
        self._need_mp(message, "a customer-service message")
        return Route(MP_CUSTOM, target)

    def _need_mp(self, message: Message, what: str) -> None:
        if self.official is None:
            raise RouteError(f"{_what(message)} is {what}, which {_NEED_MP}")

    def _need_wecom(self, message: Message, what: str) -> None:
        if self.wecom is None:
            raise RouteError(f"{_what(message)} is {what}, which {_NEED_WECOM}")

    # -- who ------------------------------------------------------------------------------
    @property
    def links(self) -> bool:
        """Whether customers can be one person on both platforms (both accounts configured)."""
        return self.official is not None and self.wecom is not None

    async def unionid(self, platform: str, user: str) -> str:
        """``user``'s unionid on ``platform`` (``mp`` / ``wecom``); "" when the platform has none.
        Raises :class:`ChannelError` when the platform cannot be asked."""
        channel = self.official if platform == "mp" else self.wecom if platform == "wecom" else None
        if channel is None:
            raise ChannelError(f"cannot ask {platform!r} for {user!r}'s unionid: that account is not configured",
                               retryable=False)
        return await channel.unionid(user)

    # -- sending ---------------------------------------------------------------------------
    async def send(self, message: Message, user: str, *, welcome_code: str | None = None,
                   platform: str | None = None, key: str | None = None) -> SendResult:
        """Route and send one message. ``key`` (the outbox item id) makes platform-side
        retries idempotent where the API allows it (template client_msg_id, kf msgid)."""
        route = self.route(message, user, welcome_code=welcome_code, platform=platform)
        return await self.send_to(route, [message], welcome_code=welcome_code, key=key)

    async def send_to(self, route: Route, messages: Sequence[Message], *, welcome_code: str | None = None,
                      key: str | None = None) -> SendResult:
        """Send along a decided route. Only welcome and mass messages take several messages
        (one text plus attachments); other APIs get exactly one."""
        api, target = route.api, route.target
        if api == WECOM_WELCOME:
            assert self.wecom is not None and welcome_code
            return await self.wecom.send_welcome(welcome_code, messages, external_userid=target)
        if api == WECOM_MASS:
            assert self.wecom is not None
            if messages[0].to and messages[0].to.startswith("group:"):
                # only the group's owner can send to it: theirs unless the script names a sender
                sender = messages[0].fields.get("sender") or await self.wecom.group_owner(target)
                return await self.wecom.add_msg_template([], messages, sender=str(sender), chat_type="group",
                                                         chat_ids=[target])
            sender = messages[0].fields.get("sender")
            return await self.wecom.add_msg_template(target, messages, sender=str(sender) if sender else None)
        if len(messages) != 1:
            raise ValueError(f"{api} sends one message at a time")
        message = messages[0]
        if api == MP_CUSTOM:
            assert self.official is not None
            return await self.official.send_custom(target, message)
        if api == MP_TEMPLATE:
            assert self.official is not None
            return await self.official.send_template(target, message, client_msg_id=client_id(key))
        assert self.wecom is not None
        if api == WECOM_KF:
            return await self.wecom.send_kf(target, message, key=key)
        if api == WECOM_APP:
            return await self.wecom.send_app(target, message)
        if api == WECOM_APPCHAT:
            return await self.wecom.send_appchat(target, message)
        raise RouteError(f"unknown route {api!r}")

    async def close(self) -> None:
        """Close the shared HTTP session (and any channel's own)."""
        for channel in (self.official, self.wecom):
            if channel is not None:
                await channel.close()
        if self.http is not None:
            await self.http.close()


def _what(message: Message) -> str:
    name = f"script {message.script!r}" if message.script else f"a {message.kind} message"
    return f"{name} to {message.to or 'the customer'}"
