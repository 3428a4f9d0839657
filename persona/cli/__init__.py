"""``persona``: the command line. Each subcommand lives in its own module of this package, which
declares its options in ``arguments(parser)``; what ``--help`` says of each command is in
``commands.toml`` (one file to read and edit, apart from the code). Exit codes mean something
(0 ok, 1 the job found problems, 2 bad usage or configuration).

A tool: may import any room below (service, engine, content, wechat, model, store) and the
other tools' packages, never the other way round.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tomllib
from importlib import resources

from .. import __version__, compiled
from ..errors import PersonaError

COMMANDS = ("serve", "worker", "chat", "lint", "graph", "preview", "init", "inspect", "dead_letters",
            "broadcast", "campaigns", "studio", "scripts", "fakeapi", "events", "suggest", "agent", "migrate",
            "replay", "funnel", "codes", "store_upgrade", "customers")

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # as a process SIGPIPE ended would


class _Version(argparse.Action):
    """``persona --version``: one line, unwrapped (argparse's own would fold it)."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"persona {__version__}, {compiled.describe()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="persona", description="Finite-state persona bots for WeChat and WeCom.")
    parser.add_argument("--version", action=_Version, help="the version, and whether it runs compiled or pure")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    texts = tomllib.loads(resources.files(__name__).joinpath("commands.toml").read_text(encoding="utf-8"))
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # not part of this build
            raise
        command = name.replace("_", "-")
        text = texts[command]
        module.arguments(sub.add_parser(
            command, help=text["help"], description=text.get("description", module.__doc__),
            formatter_class=argparse.RawDescriptionHelpFormatter if text.get("raw") else argparse.HelpFormatter))
    return parser


def main(argv: list[str] | None = None) -> int:
    # bots are import paths: find the ones in the current folder, as ``python -m`` would
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except PersonaError as exc:
        print(f"persona: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # ``persona scripts list | head``: the reader has all it wanted
        # what is still buffered would fail again at exit; send it nowhere
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
