"""A plausible sample customer for previewing a script, built from what the persona sets.

``persona preview`` without ``--customer`` (and the studio's preview) renders for this
customer: in the asked state, with every tag and counter the persona's code sets or declares,
and the attributes the script reads, each given a value its name suggests (a date for
``birthday`` or ``..._at``, an amount for ``price`` or ``spend``, a name for ``name``), so a
script's branches on customer data show something rather than failing on the first missing
field. Attributes the script does not read are left out: the bot's own code (``context()``)
may expect them in a shape no name tells.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import jinja2
from jinja2 import meta

from ...model.customer import Customer
from ...errors import TemplateError
from ..lint.fields import Namespace, field_uses, known_fields
from ..lint.source import Code
from ...model.persona import Persona
from ...model.templates import SUFFIX, ScriptBook

#: name fragments and the kind of value they suggest, first match wins
_DATES = ("birthday", "date", "_at", "time", "since", "expires", "until", "last_", "day")
_AMOUNTS = ("amount", "price", "spend", "total", "points", "balance", "count", "level", "budget", "fee")
_NAMES = ("nickname", "name")
#: set by the framework, or meaningful only as the framework sets them
_LEAVE = {Namespace.ATTRS: {"tz"}, Namespace.TAGS: {"opted_out"}, Namespace.COUNTERS: set()}


def sample_customer(persona: type[Persona], state: str | None = None, *, now: float,
                    script: str | None = None, book: ScriptBook | None = None, user: str = "preview") -> Customer:
    """A customer of ``persona`` in ``state`` (default: the initial one) at ``now``, with the
    attributes ``script`` (of ``book``, default the persona's files) reads."""
    known = known_fields(persona, Code(persona))
    local = datetime.fromtimestamp(now, ZoneInfo(persona.timezone))
    reads = _attributes_read(book or ScriptBook.draft(persona.folder() / persona.scripts_dir, {}), script)
    attrs = {name: _value(name, local) for name in sorted(reads - _LEAVE[Namespace.ATTRS])}
    tags = {name: "" for name in sorted(known.names[Namespace.TAGS] - _LEAVE[Namespace.TAGS])}
    counters = {name: 1 for name in sorted(known.names[Namespace.COUNTERS])}
    return Customer(user, state or persona.initial, tags=tags, attrs=attrs, counters=counters,
                    first_seen=now - 7 * 86400, last_seen=now, last_inbound=now)


def _attributes_read(book: ScriptBook, script: str | None) -> set[str]:
    """The ``attrs`` keys ``script`` reads (and the scripts it includes)."""
    names: set[str] = set()
    todo, seen = [script] if script else [], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in book:
            continue
        seen.add(name)
        try:
            tree = book.env.parse(book.source(name))
        except (TemplateError, jinja2.TemplateError, OSError):
            continue
        uses = field_uses(tree, meta.find_undeclared_variables(tree))
        names |= {use.key for use in uses if use.namespace == Namespace.ATTRS}
        todo += [ref[: -len(SUFFIX)] if ref.endswith(SUFFIX) else ref
                 for ref in meta.find_referenced_templates(tree) if ref]
    return names


def _value(name: str, local: datetime) -> object:
    lowered = name.lower()
    if lowered == "platform":
        return "wechat"
    if lowered == "birthday":
        return f"1995-{local.month:02d}-{local.day:02d}"
    if any(part in lowered for part in _DATES):
        return (local - timedelta(days=3)).date().isoformat()
    if any(part in lowered for part in _AMOUNTS):
        return 199
    if any(part in lowered for part in _NAMES):
        return "小美"
    return "示例"
