"""``persona serve --workers N``: N processes answering on one port, and one that watches them.

Each worker binds the port itself with ``SO_REUSEPORT``, rather than all accepting from one
socket the supervisor bound: Linux then spreads new connections evenly over the workers, while
on a shared socket a burst of connections goes to whichever process wakes first, and as WeChat
keeps its connections alive, one worker would carry most of the load for good. The supervisor
binds the port once without ``SO_REUSEPORT`` before starting anyone, so a port already in use
stops the start with a message instead of being silently shared with whatever holds it.

A worker is a whole ``persona serve`` process: its HTTP server, each bot's scheduler, delivery
and live-scripts poller (on one store they share work through the store's leases, as processes
on several machines do), and its own spool file (:func:`persona.engine.spool.worker_path`: a spool
is never shared, and a restarted worker replays its predecessor's). Its log lines carry
``worker=K``; ``/metrics`` from any of them counts all of them (:mod:`persona.service.siblings`).

The supervisor starts the workers and waits for each to listen. SIGTERM or SIGINT is passed
to every worker, which stops gracefully; the supervisor exits 0 once they all have. A worker of
the first start that exits before it listens stops the start (exit 2 for a bad bot or option,
as one process would). One that dies later is replaced at once, and so is a replacement that
dies before it listens for another reason than a bad bot or option (exit 2, which stops
everything with exit 2), unless more than :data:`MAX_RESTARTS` died within
:data:`RESTART_WINDOW` seconds: then everything stops and the exit code is 1. A worker
whose supervisor is killed outright stops by itself: it watches a pipe only the supervisor
holds open.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import logging
import multiprocessing
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess
from typing import Any, Awaitable, Callable

from ..errors import PersonaError
from ..engine.spool import leftovers, worker_path
from . import EXIT_USAGE

#: ``persona serve``'s coroutine for one worker: ``serve(args, reuse_port=, stop=, ready=)``
Serve = Callable[..., Awaitable[int]]

log = logging.getLogger(__name__)

#: workers that may die within :data:`RESTART_WINDOW` seconds before the supervisor gives up
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
#: seconds a stopping worker gets beyond ``--deadline``: requests in hand, turns still running
STOP_GRACE = 20.0
_CLEAN = {0, -signal.SIGTERM, -signal.SIGINT}


def check(args: argparse.Namespace) -> None:
    """Refuse what N processes cannot do, before any of them starts."""
    if not sys.platform.startswith("linux"):
        raise PersonaError("--workers N needs Linux, where SO_REUSEPORT spreads connections over the "
                           "processes; elsewhere run one process per port behind a proxy")
    if args.port == 0:
        raise PersonaError("--workers N needs a fixed --port: with 0 each worker would get a port of its own")
    if args.store.startswith("memory:"):
        raise PersonaError("memory:// keeps customers inside one process; --workers N needs sqlite:// or redis://")


def probe(host: str, port: int) -> None:
    """Bind every address ``host`` names, without SO_REUSEPORT: fails if anything holds the port."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PersonaError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise PersonaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def peer_spools(spool: str, workers: int, index: int) -> list[str]:
    """The spool files worker ``index`` checks what it claims against: the other workers' (a
    send one of them could not ack), and, beyond the first (which adopts them), those of
    workers a smaller ``--workers`` no longer starts."""
    others = [str(worker_path(spool, other)) for other in range(1, workers + 1) if other != index]
    return others + ([] if index == 1 else [str(path) for path in leftovers(spool, workers)])


@dataclass
class Worker:
    """One worker process and the supervisor's end of its pipe."""

    index: int
    process: SpawnProcess
    pipe: Connection
    listening: bool = False
    #: started in place of one that died, not by the first start
    replacement: bool = False
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    """Starts, watches, replaces and stops the workers of one ``persona serve --workers N``."""

    def __init__(self, args: argparse.Namespace, serve: Serve) -> None:
        self.args = args
        self.serve = serve
        self.context = multiprocessing.get_context("spawn")
        self.folder = tempfile.mkdtemp(prefix="persona-metrics-")
        self.workers: dict[int, Worker] = {}
        self.deaths: list[float] = []
        self.signalled: list[int] = []

    def start(self, index: int, replacement: bool = False) -> Worker:
        mine, theirs = self.context.Pipe()
        args = copy.copy(self.args)
        args.worker, args.metrics_dir = index, self.folder
        args.spool = str(worker_path(self.args.spool, index))
        args.peer_spools = peer_spools(self.args.spool, self.args.workers, index)
        process = self.context.Process(target=_worker_main, args=(args, theirs, self.serve), name=f"persona-serve-{index}")
        process.start()
        theirs.close()  # only the worker holds its end: the worker sees EOF when the supervisor goes
        worker = self.workers[index] = Worker(index, process, mine, replacement=replacement)
        log.info("worker %d started (pid %s)", index, process.pid)
        return worker

    def run(self) -> int:
        """Serve until a signal (exit 0 once every worker stopped cleanly) or a failure."""
        wake_in, wake_out = socket.socketpair()
        wake_in.setblocking(False)
        wake_out.setblocking(False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        previous_fd = signal.set_wakeup_fd(wake_out.fileno())
        code = 0
        try:
            for index in range(1, self.args.workers + 1):
                self.start(index)
            code = self._watch(wake_in)
        finally:
            stopped = self.stop_all()
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_in.close()
            wake_out.close()
            shutil.rmtree(self.folder, ignore_errors=True)
        return code or stopped

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signalled.append(signum)

    def _watch(self, wake: socket.socket) -> int:
        while not self.signalled:
            waiting: list[Any] = [wake]
            for worker in self.workers.values():
                waiting.append(worker.process.sentinel)
                if not worker.listening:
                    waiting.append(worker.pipe)
            ready = wait(waiting)
            if wake in ready:
                try:
                    while wake.recv(64):
                        pass
                except BlockingIOError:
                    pass
            for worker in list(self.workers.values()):
                if not worker.listening and worker.pipe in ready:
                    try:
                        worker.pipe.recv()
                        worker.listening = True
                        log.info("worker %d listening (pid %s)", worker.index, worker.process.pid)
                    except EOFError:
                        pass  # it exited: its sentinel says so
                if worker.process.sentinel in ready and not self.signalled:
                    code = self._replace(worker)
                    if code is not None:
                        return code
        log.info("stopping %d workers (%s)", len(self.workers), signal.Signals(self.signalled[0]).name)
        return 0

    def _replace(self, worker: Worker) -> int | None:
        """A worker exited on its own: start another, or the exit code to stop with."""
        worker.process.join()
        worker.pipe.close()
        code = worker.process.exitcode
        del self.workers[worker.index]
        how = f"was killed by {signal.Signals(-code).name}" if code is not None and code < 0 else f"exited {code}"
        # a worker of the first start, or a replacement that found the bot or an option unusable
        # (edited on disk meanwhile, say): starting it again would fail the same way
        if not worker.listening and (not worker.replacement or code == EXIT_USAGE):
            log.error("worker %d (pid %s) %s before it listened: stopping", worker.index, worker.process.pid, how)
            return EXIT_USAGE if code == EXIT_USAGE else 1
        now = time.monotonic()
        self.deaths = [t for t in self.deaths if now - t < RESTART_WINDOW] + [now]
        if len(self.deaths) > MAX_RESTARTS:
            log.error("worker %d (pid %s) %s; %d workers died within %.0f s: stopping", worker.index,
                      worker.process.pid, how, len(self.deaths), RESTART_WINDOW)
            return 1
        log.error("worker %d (pid %s) %s; starting another", worker.index, worker.process.pid, how)
        self.start(worker.index, replacement=True)
        return None

    def stop_all(self) -> int:
        """SIGTERM every worker, wait for their graceful stop, kill what outlives it; 0 if all
        stopped cleanly."""
        for worker in self.workers.values():
            if worker.process.is_alive():
                worker.process.terminate()
        until = time.monotonic() + self.args.deadline + STOP_GRACE
        code = 0
        for worker in self.workers.values():
            worker.process.join(max(0.0, until - time.monotonic()))
            if worker.process.is_alive():
                log.error("worker %d (pid %s) did not stop in time: killed", worker.index, worker.process.pid)
                worker.process.kill()
                worker.process.join()
            if worker.process.exitcode not in _CLEAN:
                code = 1
            worker.pipe.close()
        self.workers.clear()
        return code


def supervise(args: argparse.Namespace, serve: Serve) -> int:
    """``persona serve`` with ``--workers`` above 1; each worker runs ``serve`` (a module-level
    function, so the spawned process can import it; given, not imported, so that the command
    depends on its supervisor and not the other way round)."""
    check(args)
    probe(args.host, args.port)
    return Supervisor(args, serve).run()


def _worker_main(args: argparse.Namespace, pipe: Connection, serve: Serve) -> None:
    """A worker process: one ``persona serve`` on the shared port."""
    from ..service import logs
    from ..engine.loop import run_loop

    # Ctrl-C reaches the whole process group; the supervisor passes a SIGTERM on anyway
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.configure(args.log_format, args.log_level, fields={"worker": args.worker})
    try:
        code = run_loop(_serve_worker(args, pipe, serve))
    except PersonaError as exc:
        print(f"persona: worker {args.worker}: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    sys.exit(code)


async def _serve_worker(args: argparse.Namespace, pipe: Connection, serve: Serve) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def supervisor_gone() -> None:  # the supervisor never writes: readable means EOF
        loop.remove_reader(pipe.fileno())
        log.warning("the supervisor is gone: stopping")
        stop.set()

    loop.add_reader(pipe.fileno(), supervisor_gone)
    return await serve(args, reuse_port=True, stop=stop, ready=lambda: pipe.send("listening"))
