"""Messages no door can carry as the bot is set up: who a bot can talk to, and through what.

Two ways a message is written, tested and then silently never arrives:

* A script said *proactively* (from a timer or a business event) to a customer the bot reaches
  on an Official Account goes out as a customer-service message, which WeChat accepts only
  within 48 h of the customer's last message. A follower who never wrote never gets it: the
  gate drops it (``kf_window_closed``) and only the journal says so. ``Policy(fallback_template=
  ...)`` sends service messages as a template message instead; ``via="template"`` names that
  door for one script.
* A message ``to="staff:..."`` goes through a WeCom app. A bot that shows no sign of WeCom (no
  WeCom event handled, no ``platform="wecom"`` route) most likely runs with Official Account
  credentials only, and there such a message is dead-lettered as unroutable.

Both are warnings: the source cannot tell which credentials a bot will run with.
``persona serve`` repeats the second at start-up, where it can.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ...model.wording import says
from ...model.handlers import RouteKind
from ...model.inputs import ADD_EVENTS, BURST_EVENTS, Platform
from ...model.persona import Persona
from .report import WARNING, Report
from .scripts import Script
from .source import Code, Site

#: doors that need no open customer-service window
WINDOWLESS_VIAS = frozenset({"template", "mass", "welcome"})
#: platform events only WeCom sends
WECOM_EVENTS = ADD_EVENTS | frozenset({
    "edit_external_contact", "del_external_contact", "del_follow_user", "chat_create", "chat_update",
    "chat_dismiss", "chat_add_member", "chat_del_member"})
#: platform events of an Official Account follower
OFFICIAL_EVENTS = BURST_EVENTS | frozenset({"unsubscribe", "view"})


@dataclass(frozen=True)
class Said:
    """One ``turn.say(...)`` call: where, in which handler, and its literal keywords."""

    file: str
    line: int
    handler: str | None
    to: str | None  # the literal start of to= ("staff:...", "group:..."); "" when not given
    via: str | None
    category: str | None


def said(code: Code) -> Iterator[Said]:
    """Every ``say`` call of the persona, with what its keywords say literally."""
    for call in code.calls("say"):
        keywords = {kw.arg: kw.value for kw in call.node.keywords if kw.arg}
        func = call.frame.func
        yield Said(call.file, call.line, func.node.name if func and func.method else None,
                   _prefix(keywords["to"]) if "to" in keywords else "", _prefix(keywords.get("via")),
                   _prefix(keywords.get("category")))


def staff_messages(cls: type[Persona]) -> list[Said]:
    """The calls that say something to staff (``to="staff:..."``)."""
    return [s for s in said(Code(cls)) if s.to and s.to.startswith("staff:")]


def uses_wecom(cls: type[Persona]) -> bool:
    """Whether the persona handles anything only WeCom sends, or names WeCom on a route."""
    for route, _ in cls.routes.entries():
        if route.platform is Platform.WECOM or (route.kind is RouteKind.WECHAT and WECOM_EVENTS & set(route.values)):
            return True
    return False


def check_reach(cls: type[Persona], code: Code, scripts: dict[str, Script], sites: list[Site],
                report: Report) -> None:
    """Warn of proactive messages an Official Account window may hold back, and staff messages
    a bot without WeCom cannot send. ``sites`` are lint's say sites (the script names each call
    can say, followed once for all checks)."""
    names_at: dict[tuple[str, int], set[str]] = {}
    for s in sites:
        names_at.setdefault((s.file, s.line), set()).add(s.script)
    routes = list(cls.routes.entries())
    wecom = uses_wecom(cls)
    official = any(route.platform is Platform.WECHAT or (
        route.kind is RouteKind.WECHAT and OFFICIAL_EVENTS & set(route.values)) for route, _ in routes)
    proactive = {attr for route, attr in routes if route.kind in (RouteKind.TIMER, RouteKind.EVENT)}
    fallback = cls.policy.fallback_template
    marketing: dict[str, Said] = {}
    for site in said(code):
        if site.to and site.to.startswith("staff:") and not wecom:
            report.add(WARNING, site.file, site.line, says("lint.staff_without_wecom"))
        if site.to or not official or site.handler not in proactive:
            continue
        for name in sorted(names_at.get((site.file, site.line), ())):
            settings = scripts[name].settings if name in scripts else {}
            if (site.via or settings.get("via")) in WINDOWLESS_VIAS:
                continue
            if (site.category or settings.get("category")) != "service":
                marketing.setdefault(name, site)
                continue
            if fallback:
                continue
            report.add(WARNING, site.file, site.line, says("lint.window_service", script=name, handler=site.handler))
    if marketing and not fallback:  # a bot with a fallback has met the window already
        first = min(marketing.values(), key=lambda s: (s.file, s.line))
        report.add(WARNING, first.file, first.line,
                   says("lint.window_marketing", count=len(marketing), scripts=", ".join(sorted(marketing))))


def _prefix(expr: ast.expr | None) -> str | None:
    """A keyword's literal value, or the literal start of an f-string; None when not literal."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.JoinedStr) and expr.values and isinstance(expr.values[0], ast.Constant):
        return str(expr.values[0].value)
    return None
