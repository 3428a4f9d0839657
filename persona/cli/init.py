"""``persona init NAME [--dir DIR]``: a new bot that lints and passes its own tests at once."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..scaffold import scaffold


def register(subparsers: Any) -> None:
    """Add ``init`` to the ``persona`` command line."""
    p = subparsers.add_parser(
        "init", help="create a new bot package",
        description="Create DIR/NAME/: a persona module with states, handlers and a timer, its "
                    "scripts, a README and scenario tests on a fake clock. It passes "
                    "`persona lint NAME` and `pytest NAME` as created.")
    p.add_argument("name", metavar="NAME", help="the bot's package name, e.g. beauty_bot")
    p.add_argument("--dir", default=".", metavar="DIR", help="where to create it (default: here)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    parent = Path(args.dir)
    target = parent / args.name
    written = scaffold(args.name, target)
    for path in written:
        print(f"created {path}")
    where = f"cd {parent} && " if parent.resolve() != Path.cwd().resolve() else ""
    print(f"\nnext: {where}python -m persona lint {args.name} && python -m pytest {args.name}"
          f"\n      python -m persona chat {args.name}")
    return 0
