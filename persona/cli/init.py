"""``persona init NAME [--dir DIR]``: a new bot that lints and passes its own tests at once."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..scaffold import scaffold


def arguments(p: argparse.ArgumentParser) -> None:
    """``persona init``'s arguments (its help texts are in ``commands.toml``)."""
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
