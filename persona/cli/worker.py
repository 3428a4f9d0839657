"""``persona worker BOT --store URL``: fire a bot's timers, without the webhook service.

Run as many as the load needs beside ``persona serve`` processes on one Redis; claimed timers
carry a lease, so a worker that dies loses nothing. Messages its timers produce wait in the
store's outbox for the delivery loops of ``persona serve``.
"""

from __future__ import annotations

import argparse

from .. import worker


def arguments(parser: argparse.ArgumentParser) -> None:
    """``persona worker``'s arguments (its help texts are in ``commands.toml``)."""
    worker.build_parser(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    argv = [args.bot, "--store", args.store, "--batch", str(args.batch), "--lease", str(args.lease),
            "--concurrency", str(args.concurrency), "--log-level", args.log_level]
    if args.namespace:
        argv += ["--namespace", args.namespace]
    return worker.main(argv)
