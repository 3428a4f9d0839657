"""``persona preview BOT SCRIPT --customer sample.json``: one script, rendered for a sample customer.

For content writers: see the words, the kind and the fields a script produces for a customer in
a given state with given tags, without running the bot. The sample is JSON::

    {"state": "welcomed", "tags": {"source": "parcel"}, "attrs": {"product": "lipstick"},
     "counters": {"orders": 1}, "data": {"order_id": "A1"}, "offer": {"title": "..."}}

``state``, ``tags``, ``attrs``, ``counters``, ``data`` (the event's data) and ``now``
(``"YYYY-MM-DD HH:MM"``) describe the customer and the moment; every other key is a variable
given to the script, as ``turn.say("welcome", offer=...)`` would. ``--var NAME=JSON`` adds or
overrides one; ``--state`` and ``--at`` override the sample's state and moment. Without
``--customer``, the customer is a plausible one built from the persona: every tag and counter
its code sets and the attributes the script reads, with values their names suggest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..clock import parse_time
from ..model.customer import Customer
from ..model.formlinks import FormLinks
from ..errors import PersonaError, TemplateError
from ..model.inputs import BusinessEvent
from ..model.messages import TEXT_LIMIT_BYTES
from ..model.persona import load_persona
from ..content.scripts.sample import sample_customer
from ..model.turn import Turn
from .arguments import add_bot, json_object

CUSTOMER_KEYS = ("id", "state", "tags", "attrs", "counters", "data", "now")


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona preview``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("script", metavar="SCRIPT", help="script name, e.g. welcome (scripts/welcome.j2)")
    p.add_argument("--customer", metavar="FILE", help="sample customer as JSON ('-' reads stdin)")
    p.add_argument("--var", action="append", default=[], metavar="NAME=JSON",
                   help="a variable for the script (JSON, or plain text); repeatable")
    p.add_argument("--state", help="the customer's state (overrides the sample's)")
    p.add_argument("--at", metavar="'YYYY-MM-DD HH:MM'", help="the moment it is said (default: now)")
    p.add_argument("--json", action="store_true", help="print the message as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    sample = _sample(args.customer)
    for item in args.var:
        name, sep, raw = item.partition("=")
        if not sep or not name.isidentifier():
            raise PersonaError(f"--var {item!r}: write NAME=VALUE, e.g. --var 'offer={{\"title\": \"券\"}}'")
        sample[name] = _value(raw)
    # the sample's own state and moment give way to --state and --at (and are never variables)
    sample_state, sample_now = sample.pop("state", None), sample.pop("now", None)
    state = args.state or sample_state or cls.initial
    if state not in cls.states:
        raise PersonaError(f"state {state!r} is not a state of {cls.__name__} (states: {', '.join(cls.states)})")
    for key in ("tags", "attrs", "counters", "data"):
        if not isinstance(sample.get(key, {}), dict):
            raise PersonaError(f"the sample's {key!r} must be a JSON object")
    tz = str((sample.get("attrs") or {}).get("tz") or cls.timezone)
    at = args.at or sample_now
    try:
        now = parse_time(str(at), tz) if at else time.time()
    except ValueError:
        raise PersonaError(f"time {at!r}: write it as \"YYYY-MM-DD HH:MM\"") from None
    if args.customer:
        customer = Customer(str(sample.pop("id", "preview")), state,
                            tags={k: str(v) for k, v in (sample.pop("tags", None) or {}).items()},
                            attrs=sample.pop("attrs", None) or {}, counters=sample.pop("counters", None) or {},
                            first_seen=now, last_seen=now)
    else:  # no sample given: one with every attribute, tag and counter the persona sets
        customer = sample_customer(cls, state, now=now, script=args.script)
    data = sample.pop("data", None) or {}
    try:
        persona = cls()
        persona.form_links = FormLinks.preview()  # a link's shape; it opens nothing
        turn = Turn(persona, customer, BusinessEvent(user=customer.id, name="preview", data=data), now)
        message = turn.render(args.script, **sample)
    except TemplateError as exc:
        print(f"persona: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the bot's own context() meeting a sample it did not expect
        print(f"persona: {args.script}: the bot's code failed for this sample customer "
              f"({type(exc).__name__}: {exc}); give one with --customer", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(message.to_dict(), ensure_ascii=False, indent=2, default=str))
        return 0
    print(f"script:   {message.script}")
    print(f"kind:     {message.kind}")
    print(f"category: {message.category}" + (f"   via: {message.via}" if message.via else ""))
    for key, value in message.fields.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        print(f"{key + ':':<9} {shown}")
    size = len(message.text.encode("utf-8"))
    limit = f" of {TEXT_LIMIT_BYTES}" if message.kind == "text" else ""
    print(f"--- text ({size} bytes{limit}) ---")
    print(message.text)
    return 0


def _sample(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PersonaError(f"cannot read {path}: {exc.strerror or exc}") from None
    return json_object(raw, f"{path}: the sample customer", '{"name": "小美"}')


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
