"""``persona events BOT``: the business events a bot takes, as the Markdown table of its README.

The table is made from the ``data=`` declarations on ``@on.event`` handlers, the same ones
``POST /events`` checks, so the contract a brand reads is the contract the service enforces.
"""

from __future__ import annotations

import argparse
import inspect

from ..model.persona import Persona, load_persona
from .arguments import add_bot

UNDECLARED = "(not declared)"


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona events``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.set_defaults(run=run)


def data_cell(persona: type[Persona], event: str) -> str:
    """The README's data cell for ``event``: its declared fields and types."""
    declared = persona.routes.event_data.get(event)
    return declared.describe() if declared is not None else UNDECLARED


def table(persona: type[Persona]) -> str:
    """``| event | data | handled by |``, one row per event, in the order the class declares them."""
    rows = ["| event | data | handled by |", "|---|---|---|"]
    for event, entries in persona.routes.event.items():
        handlers = []
        for route, attr in entries:
            doc = inspect.getdoc(getattr(persona, attr)) or ""
            summary = doc.split("\n\n")[0].replace("\n", " ").replace("|", "\\|").strip()
            where = f" (in {', '.join(sorted(route.states))})" if route.states is not None else ""
            handlers.append(f"`{attr}`{where}" + (f": {summary}" if summary else ""))
        rows.append(f"| `{event}` | {data_cell(persona, event)} | {'; '.join(handlers)} |")
    return "\n".join(rows) + "\n"


def run(args: argparse.Namespace) -> int:
    print(table(load_persona(args.bot)), end="")
    return 0
