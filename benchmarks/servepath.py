"""Where a callback's time goes inside the server: the same request cut short at each stage.

One server process (pinned to a core) serves persona's own application (``create_app``, as
``persona serve`` runs it) with a few extra routes that stop the callback handler after a stage
and answer ``success``; the load generator drives each in turn, alternated over rounds, and the
server's CPU per request is read from ``/proc``. In the same run:

* ``bare (own process)``: a bare aiohttp handler alone in its process (``benchmarks.callback``'s);
* ``bare (persona's process)``: the same handler on a route of persona's application;
* ``routes``: persona's handler up to finding the bot (``mounted_of``);
* ``streamed``: and the body read as ``read_body`` read every body before it took one that has
  arrived whole at once (``stream_body``: chunks counted under the read timeout);
* ``body``: the body read as ``read_body`` does it now;
* ``parse``: and the protocol (``endpoint.parse``: signature, decrypt in safe mode, XML, input);
* ``parse_twice``: the parse done twice in each request: what the second, warm one costs;
* ``turn``: and the turn on the memory store, awaited in the handler, and the passive reply;
* ``full``: the real ``POST /wechat/{bot}``: the same, with the turn as a task raced against the
  deadline, the reply slot, the spool's guard, metrics and the access log.

Each stage's cost beyond the one before is printed beside the same work timed in a loop in this
process, which is what the serve path adds around it.

Run: ``python -m benchmarks.servepath [--seconds 3] [--rounds 3] [--mode plain|safe] [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any, Awaitable, Callable

from benchmarks._common import (LOAD_CPU, PYTHON, SERVER_CPU, Callbacks, customer_id, free_port, header,
                                load, spawn, stop, text_xml, tree_cpu_seconds, unique, wait_http, workdir,
                                write_requests)
from benchmarks.callback import BARE, persona_env

STAGES = ("bare", "routes", "streamed", "body", "parse", "parse_twice", "turn", "full")
#: the stage each one adds to (``streamed`` and ``body`` are two ways of the same step)
AFTER = {"routes": "bare", "streamed": "routes", "body": "routes", "parse": "body", "parse_twice": "parse",
         "turn": "parse", "full": "turn"}


def serve(port: int) -> None:
    """The measured server: persona's app for ``benchmarks.benchpersona`` plus the cut routes."""
    import asyncio
    import os

    from aiohttp import web

    from functools import partial

    from persona.engine.bot import Bot
    from persona.engine.loop import run_loop
    from persona.engine.outcome import ReplySlot
    from persona.wechat.protocol import can_reply
    from persona.service import wechat
    from persona.service.app import create_app
    from persona.service.context import mounted_of, read_body, state_of, stream_body

    xml = ("<xml><ToUserName><![CDATA[o]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName>"
           "<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>")

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text=xml, content_type="application/xml")

    def cut(stage: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        """persona's callback handler, answering ``success`` once ``stage`` is done."""
        success = partial(web.Response, body=wechat.SUCCESS_BODY, content_type="text/plain")

        async def handler(request: web.Request) -> web.Response:
            mounted = mounted_of(request)
            state = state_of(request)
            if stage == "routes":
                return success()
            read = stream_body if stage == "streamed" else read_body  # streamed: read_body before its fast path
            raw = await read(request, state.max_body, state.read_timeout)
            if stage in ("streamed", "body"):
                return success()
            endpoint = mounted.endpoint(request.query)
            parsed = endpoint.parse(request.query, raw)
            if stage == "parse_twice":  # what a second parse costs, warm
                endpoint.parse(request.query, raw)
            if stage != "turn":
                return success()
            outcome = await mounted.bot.runtime.handle(parsed.input, ReplySlot(accepts=partial(can_reply, parsed)))
            if outcome.passive is None:
                return success()
            return web.Response(body=endpoint.reply(parsed, outcome.passive).encode(), content_type="application/xml")

        return handler

    async def main() -> None:
        bot = Bot("benchmarks.benchpersona", "memory://", environ=dict(os.environ), script_poll=None)
        app = create_app([bot], run_bots=False)
        app.router.add_post("/cut/bare/{bot}", bare)
        for stage in STAGES[1:-1]:  # "full" is persona's own route
            app.router.add_post(f"/cut/{stage}/{{bot}}", cut(stage))
        runner = web.AppRunner(app, access_log=None, handle_signals=True, keepalive_timeout=10.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        await bot.load_scripts()
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    run_loop(main())


def loop_costs(mode: str, name: str) -> dict[str, float]:
    """The parse stage's work timed in a loop in this process (µs), for the same requests."""
    import os

    from persona.engine.bot import Bot
    from persona.service.context import Mounted

    os.environ.update(persona_env(name, mode=mode))
    bot = Bot("benchmarks.benchpersona", "memory://", script_poll=None)
    mounted = Mounted.build(bot, bot.environ)
    seal = Callbacks()
    now = int(time.time())
    query_text, raw = (seal.safe if mode == "safe" else seal.plain)(
        text_xml(customer_id(1), "在吗", msg_id=1, created=now), nonce="1", ts=now)
    from multidict import MultiDict
    from urllib.parse import parse_qsl

    query = MultiDict(parse_qsl(query_text))
    endpoint = mounted.endpoint(query)

    def once() -> None:
        endpoint.parse(query, raw)

    parse = min(timeit.repeat(once, number=2000, repeat=5)) / 2000 * 1e6
    return {"parse": parse}


def requests_for(stage: str, n: int, customers: int, name: str, mode: str) -> list[tuple[str, bytes]]:
    seal = Callbacks()
    now = int(time.time())
    base = abs(hash(stage + unique())) % 10**12
    out = []
    for i in range(n):
        xml = text_xml(customer_id(i % customers), "在吗", msg_id=base * 10**6 + i, created=now)
        query, body = (seal.safe if mode == "safe" else seal.plain)(xml, nonce=str(100000 + i), ts=now)
        path = f"/wechat/{name}" if stage == "full" else f"/cut/{stage}/{name}"
        out.append((f"{path}?{query}", body))
    return out


def measure(port: int, pid: int, path: Path, seconds: float, connections: int) -> tuple[float, float]:
    """requests/s and server µs of CPU per request for one load run."""
    before = tree_cpu_seconds(pid)
    result = load(f"http://127.0.0.1:{port}", path, seconds=seconds, connections=connections)
    cpu = tree_cpu_seconds(pid) - before
    return result["rps"], cpu / max(result["requests"], 1) * 1e6


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=3.0, help="each load run (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, each stage once per round (default 3)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    p.add_argument("--mode", choices=("plain", "safe"), default="plain", help="callback mode (default plain)")
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return {}
    if args.quick:
        args.seconds, args.rounds = 1.0, 1
    header(f"serve path: one request cut short at each stage ({args.mode}), server CPU per request")
    name = f"bench{unique()}"
    environ = persona_env(name, mode=args.mode)
    cpu: dict[str, list[float]] = {s: [] for s in ("bare (own process)", *STAGES)}
    rps: dict[str, list[float]] = {s: [] for s in cpu}
    n = int(20000 * args.seconds)
    with workdir() as tmp:
        files = {}
        for stage in STAGES:
            files[stage] = tmp / f"{stage}.txt"
            write_requests(files[stage], requests_for(stage, n, 1000, name, args.mode))
        files["own"] = tmp / "own.txt"  # the bare process answers on /wechat/{bot}
        write_requests(files["own"], requests_for("full", n, 1000, name, args.mode))
        bare_port, port = free_port(), free_port()
        bare_proc = spawn([PYTHON, "-c", BARE, str(bare_port)], cpu=SERVER_CPU)
        proc = spawn([PYTHON, "-m", "benchmarks.servepath", "--serve", str(port)], cpu=SERVER_CPU,
                     environ=environ, log=tmp / "server.log")
        try:
            wait_http(f"http://127.0.0.1:{bare_port}/healthz", bare_proc)
            wait_http(f"http://127.0.0.1:{port}/healthz", proc)
            for stage in STAGES:  # warm every route once
                load(f"http://127.0.0.1:{port}", files[stage], seconds=0.5, connections=args.connections)
            for _ in range(args.rounds):
                r, c = measure(bare_port, bare_proc.pid, files["own"], args.seconds, args.connections)
                rps["bare (own process)"].append(r)
                cpu["bare (own process)"].append(c)
                for stage in STAGES:
                    r, c = measure(port, proc.pid, files[stage], args.seconds, args.connections)
                    rps[stage].append(r)
                    cpu[stage].append(c)
        finally:
            stop(proc)
            stop(bare_proc)
            log = (tmp / "server.log").read_text(errors="replace")
            if "Traceback" in log:
                print(log[-3000:])
    loops = loop_costs(args.mode, name)
    median = {s: statistics.median(v) for s, v in cpu.items()}
    print(f"server on core {SERVER_CPU}, load generator on core {LOAD_CPU}; {args.connections} connections, "
          f"{args.rounds} round(s) of {args.seconds:g} s per stage, alternated; medians")
    for stage in cpu:
        extra = ""
        if stage in AFTER:
            extra = f"  {median[stage] - median[AFTER[stage]]:+6.0f} µs over {AFTER[stage]}"
            if stage.split("_")[0] in loops:
                extra += f" (the same work in a loop: {loops[stage.split('_')[0]]:.0f} µs)"
        label = "bare (persona's process)" if stage == "bare" else stage
        print(f"  {label:<25} {statistics.median(rps[stage]):8.0f} req/s  {median[stage]:6.0f} µs CPU/req{extra}")
    figures = {f"{s}_cpu_us": v for s, v in median.items()} | {"loop_parse_us": loops["parse"]}
    figures["full_over_bare"] = median["full"] / median["bare (own process)"]
    print(f"persona's full callback / bare aiohttp (own process), CPU per request: {figures['full_over_bare']:.2f}×")
    figures["body_saved_us"] = median["streamed"] - median["body"]
    print(f"body read whole at once instead of streamed: {figures['body_saved_us']:+.0f} µs CPU per request saved")
    print(f"parse stage in the server / in a loop: {(median['parse'] - median['body']) / loops['parse']:.2f}×")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
