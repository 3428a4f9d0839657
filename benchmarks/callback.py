"""Benchmark 1: the callback pipeline under load, beside a bare aiohttp handler and WeRoBot.

Each request is a safe-mode text message from one of ``--customers`` customers already on
Redis: signature check → decrypt → parse → dedupe → load → transition → render → save →
encrypted reply, by one ``persona serve`` process (``benchmarks.benchpersona``). In the same
run, on the same core, under the same load generator:

* a bare aiohttp handler that reads the body and answers a small XML (targets: persona
  ≥ 0.33× its requests/s, and ≤ 300 µs of server CPU per callback),
* WeRoBot answering the same messages in plaintext mode, served by waitress with 4 threads
  (the ratio is printed; skipped when WeRoBot or waitress is not installed);
* ``persona serve`` in plaintext mode (no AES key) under WeRoBot's plaintext load: the same
  work both do, persona still deduplicating and keeping state (target: ≥ 2× WeRoBot);
* aiogram 3 with its ``RedisStorage`` on the same private Redis, answering Telegram updates
  through its aiohttp webhook server: read the customer's state, move it, answer in the
  response — the work persona's plaintext callback does, without the dedupe (target: persona
  plaintext ≥ 5×; aiogram is installed by the benchmark into a virtualenv of its own, see
  ``benchmarks/_aiogram.py``; skipped with the reason when that fails);
* on a compiled install, ``persona serve`` in plaintext again with ``PERSONA_PURE=1``: what the
  compiled modules buy in the server (the ratio is printed);
* ``persona serve --workers N`` with N = 1 and N = the machine's cores, the same safe-mode
  load, neither pinned to a core (no target: the ratio shows how far the cores carry it).

``--store memory://`` or ``--store sqlite:///PATH`` runs persona on another store (customers
are then created by their first message) to compare stores.

Run: ``python -m benchmarks.callback [--seconds 10] [--customers 1000] [--store URL] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from benchmarks import _aiogram
from persona import compiled
from persona.model.persona import load_persona
from benchmarks._common import (APPID, AES_KEY, LOAD_CPU, PYTHON, SERVER_CPU, TOKEN, Callbacks, RedisServer,
                                customer_id, env, free_port, header, load, measured, spawn, stop,
                                text_xml, tree_cpu_seconds, unique, verdict, wait_http, workdir, write_requests)

BARE = """
import sys
from aiohttp import web
XML = ("<xml><ToUserName><![CDATA[o]]></ToUserName><FromUserName><![CDATA[gh]]></FromUserName>"
       "<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>")
async def handle(request):
    await request.read()
    return web.Response(text=XML, content_type="application/xml")
async def health(request):
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/wechat/{bot}", handle)
app.router.add_get("/healthz", health)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

WEROBOT = """
import sys, warnings
warnings.simplefilter("ignore")
import werobot
from waitress import serve
robot = werobot.WeRoBot(token=sys.argv[2], SESSION_STORAGE=False)
@robot.text
def talk(message):
    return "收到「%s」" % message.content[:20]
serve(robot.wsgi, host="127.0.0.1", port=int(sys.argv[1]), threads=4, _quiet=True)
"""

WORDS = ["在吗", "我想领券", "今天练什么", "订单到哪了", "谢谢", "hi"]


def werobot_missing() -> str | None:
    """Why WeRoBot cannot be measured here, or None."""
    try:
        import waitress  # noqa: F401
        import werobot  # noqa: F401
    except ImportError as exc:
        return (f"WeRoBot comparison skipped: {exc.name} is not installed "
                "(pip install werobot waitress into the venv, for the benchmark only)")
    return None


def callbacks(n: int, customers: int, tag: str, *, mode: str = "safe", first_customer: int = 0,
              spread: int | None = None, bot: str = "bench") -> list[tuple[str, bytes]]:
    """``n`` distinct text callbacks (fresh MsgIds) from ``customers`` customers, as (target, body).

    With ``spread``, customers are picked across ``spread`` ids (a large store's whole range)
    instead of the first ``customers``.
    """
    seal = Callbacks()
    now = int(time.time())
    out = []
    stride = max(1, (spread or customers) // customers)
    base = abs(hash(tag)) % 10**12
    for i in range(n):
        user = customer_id(first_customer + (i % customers) * stride)
        xml = text_xml(user, WORDS[i % len(WORDS)], msg_id=base * 10**6 + i, created=now)
        query, body = (seal.safe if mode == "safe" else seal.plain)(xml, nonce=str(100000 + i), ts=now)
        out.append((f"/wechat/{bot}?{query}", body))
    return out


async def seed(url: str, namespace: str, customers: int, *, chunk: int = 1000) -> None:
    """Customers in state ``a`` with five tags and a timer a month away, as a bot would leave them."""
    from benchmarks._seed import bulk_commit, dormant
    from persona.store import open_store

    store = open_store(url, namespace)
    now = time.time()
    try:
        await bulk_commit(store, (dormant(customer_id(i), "a", now) for i in range(customers)),  # type: ignore[arg-type]
                          chunk=chunk)
    finally:
        await store.close()


def persona_env(name: str, *, mode: str = "safe", **extra: str) -> dict[str, str]:
    """A bench server's environment; without an AES key (``mode="plain"``) it takes plaintext."""
    return env(PERSONA_BENCH_NAME=name, WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID, WECHAT_APPSECRET="bench",
               WECHAT_AES_KEY=AES_KEY if mode == "safe" else "", PERSONA_EVENT_SECRET="bench",
               WECHAT_API_BASE=f"http://127.0.0.1:{free_port()}", **extra)


def start_persona(redis_url: str, name: str, log: Path, *, mode: str = "safe", workers: int = 1,
                  cpu: int | None = SERVER_CPU, pure: bool = False, bot: str = "benchmarks.benchpersona"
                  ) -> tuple[Any, int]:
    port = free_port()
    proc = spawn([PYTHON, "-m", "persona", "serve", bot, "--host", "127.0.0.1",
                  "--port", str(port), "--store", redis_url, "--no-delivery", "--no-scheduler",
                  "--log-level", "WARNING", "--workers", str(workers), "--spool", str(log.with_suffix(".spool.db"))],
                 cpu=cpu, environ=persona_env(name, mode=mode, PERSONA_PURE="1" if pure else "0"), log=log)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc)
    return proc, port


def check_reply(port: int, name: str, user: str, *, mode: str = "safe", expect: str | None = "收到「hi」") -> str:
    """One callback by hand: the answer must be the persona's reply (encrypted and signed in
    safe mode), with ``expect`` in it; ``expect=None``: any passive reply or ``success``."""
    seal = Callbacks()
    query, body = (seal.safe if mode == "safe" else seal.plain)(
        text_xml(user, "hi", msg_id=int(time.time() * 1000)), nonce="42")
    req = urllib.request.Request(f"http://127.0.0.1:{port}/wechat/{name}?{query}", data=body,
                                 headers={"Content-Type": "text/xml"})
    answer = urllib.request.urlopen(req, timeout=10).read().decode()
    if expect is None and answer == "success":
        return answer
    inner = seal.open_reply(answer) if mode == "safe" else answer
    content = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", inner, re.S)
    assert content and (expect is None or expect in content.group(1)), inner
    return content.group(1)


def metric(port: int, name: str, pattern: str, *, workers: int = 1) -> float:
    """A metric summed over its series; with several workers, once every worker's figures are
    on the page (each writes them about once a second)."""
    if workers > 1:
        time.sleep(1.5)
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines()
               if line.startswith(pattern) and f'persona="{name}"' in line)


def run_load(port: int, path: Path, proc: Any, seconds: float, connections: int, bot: str = "bench"
             ) -> tuple[dict[str, Any], float]:
    before = tree_cpu_seconds(proc.pid)
    result = load(f"http://127.0.0.1:{port}/wechat/{bot}", path, seconds=seconds, connections=connections)
    return result, tree_cpu_seconds(proc.pid) - before


def record(figures: dict[str, Any], key: str, result: dict[str, Any], cpu: float) -> None:
    """A load run's requests/s as ``figures[key]`` and server CPU seconds per request as ``key_cpu``."""
    figures[key] = result["rps"]
    figures[f"{key}_cpu"] = cpu / max(result["requests"], 1)


def measure_peer(figures: dict[str, Any], key: str, label: str, argv: list[str], port: int, requests: Path,
                 args: argparse.Namespace, warm: float, bot: str, *, health: str = "/healthz",
                 check: Callable[[int], object] | None = None) -> None:
    """One comparison server (``argv``, listening on ``port``), pinned like persona's: started,
    checked by hand (``check``), warmed, loaded with ``requests``, stopped; its figures recorded."""
    proc = spawn(argv, cpu=SERVER_CPU)
    try:
        wait_http(f"http://127.0.0.1:{port}{health}", proc)
        if check is not None:
            check(port)
        load(f"http://127.0.0.1:{port}", requests, seconds=warm, connections=args.connections)
        result, cpu = run_load(port, requests, proc, args.seconds, args.connections, bot)
    finally:
        stop(proc)
    print(measured(label, result, cpu), flush=True)
    record(figures, key, result, cpu)


def measure_persona(store: str, name: str, tmp: Path, args: argparse.Namespace, warm: float, requests: int,
                    *, mode: str, workers: int = 1, cpu: int | None = SERVER_CPU, pure: bool = False,
                    bot: str = "benchmarks.benchpersona") -> tuple[dict[str, Any], float]:
    """One ``persona serve`` under the load, in safe or plaintext mode; its result and CPU seconds
    (of all its processes).

    Every request must be processed once: the server's own count of inputs is checked against
    the requests answered. ``bot``: another persona to serve (its own name is then the path and
    the namespace, and its customers are made by their first messages, in the warm-up).
    """
    bench = bot == "benchmarks.benchpersona"
    if not bench:
        name = load_persona(bot).name
    many = f", {bot}" if not bench else ""
    many += f", --workers {workers}, any core" if cpu is None else ""
    many += ", PERSONA_PURE=1" if pure else ""
    proc, port = start_persona(store, name, tmp / f"persona-{mode}-{workers}{'-pure' * pure}.log", mode=mode,
                               workers=workers, cpu=cpu, pure=pure, bot=bot)
    try:
        check_reply(port, name, customer_id(0), mode=mode, expect="收到「hi」" if bench else None)
        warm_file = tmp / f"warm-{mode}.txt"
        write_requests(warm_file, callbacks(1000, args.customers, "warm" + unique(), mode=mode, bot=name))
        load(f"http://127.0.0.1:{port}", warm_file, seconds=warm, connections=args.connections)
        real_file = tmp / f"persona-{mode}.txt"
        write_requests(real_file, callbacks(requests, args.customers, "run" + unique(), mode=mode, bot=name))
        done_before = metric(port, name, "persona_inputs_total", workers=workers)
        result, cpu = run_load(port, real_file, proc, args.seconds, args.connections, name)
        processed = metric(port, name, "persona_inputs_total", workers=workers) - done_before
    finally:
        stop(proc)
    label = "Redis" if store.startswith("redis") else store.split(":")[0]
    print(measured(f"persona serve ({'safe mode' if mode == 'safe' else 'plaintext'}, {label}{many})", result, cpu),
          flush=True)
    if result["wraps"]:
        print(f"  note: the request file ran out {result['wraps']} time(s); repeats were dedupe hits")
    errors = result["status_errors"] + result["socket_errors"] + result["timeouts"]
    if errors or abs(processed - result["requests"]) > args.connections + result["requests"] * 0.01:
        print(f"  WARNING: {errors} errors; {processed:.0f} inputs processed for "
              f"{result['requests']} requests answered")
    return result, cpu


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="each measured load run (default 10)")
    p.add_argument("--customers", type=int, default=1000, help="customers on Redis (default 1000)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    p.add_argument("--store", default=None, metavar="URL",
                   help="run persona on this store instead (memory://, sqlite:///PATH); default: a private "
                        "Redis with the customers written beforehand")
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.customers = 1.0, 100
    warm = 0.5 if args.quick else 2.0
    header("callback pipeline: safe-mode text → decrypt → parse → dedupe → load → transition → "
           "render → save → encrypted reply")
    figures: dict[str, Any] = {}
    with RedisServer(cpu=LOAD_CPU) as redis, workdir() as tmp:
        name = f"bench{unique()}"
        store = args.store or redis.url()
        if store.startswith("redis"):
            asyncio.run(seed(store, name, args.customers))
        print(f"{args.customers} customers on {'a private redis-server' if store == redis.url() else store}; "
              f"server on core {SERVER_CPU}, "
              f"load generator and Redis on core {LOAD_CPU}; {args.connections} connections, "
              f"{args.seconds:g} s per run", flush=True)

        # 1. bare aiohttp
        bare_file = tmp / "bare.txt"
        write_requests(bare_file, callbacks(2000, args.customers, "bare", bot=name))
        port = free_port()
        measure_peer(figures, "bare", "bare aiohttp handler", [PYTHON, "-c", BARE, str(port)], port, bare_file,
                     args, warm, name)

        # 2. persona serve on Redis: safe mode, then plaintext (the same load WeRoBot gets)
        n = int(figures["bare"] * 0.8 * args.seconds) + 2000
        safe = measure_persona(store, name, tmp, args, warm, n, mode="safe")
        record(figures, "persona", *safe)
        record(figures, "persona_plain", *measure_persona(store, name, tmp, args, warm, n, mode="plain"))
        # the real 小完子 (bots/xiaowanzi) in plaintext: its own handlers, scripts, gate and tags
        record(figures, "xiaowanzi_plain",
               *measure_persona(store, name, tmp, args, warm, n, mode="plain", bot="bots.xiaowanzi"))
        if compiled.built():  # the same server on the source of its compiled modules
            record(figures, "persona_plain_pure", *measure_persona(store, name, tmp, args, warm, n, mode="plain",
                                                                   pure=True))

        # 3. WeRoBot, plaintext
        why = werobot_missing()
        if why is None:
            wero_file = tmp / "werobot.txt"
            write_requests(wero_file, callbacks(2000, args.customers, "wero", mode="plain", bot=name))
            port = free_port()
            measure_peer(figures, "werobot", "WeRoBot plaintext (waitress, 4 threads)",
                         [PYTHON, "-c", WEROBOT, str(port), TOKEN], port, wero_file, args, warm, name, health="/")
        else:
            print(why)

        # 4. aiogram 3 + RedisStorage: the same state-and-answer work on Telegram's wire
        peer, about = _aiogram.python(install=not args.quick)  # a quick run downloads nothing
        if peer is not None:
            gram_file = tmp / "aiogram.txt"
            write_requests(gram_file, _aiogram.updates(n, args.customers, WORDS, name))
            port = free_port()
            measure_peer(figures, "aiogram", f"aiogram 3 + RedisStorage ({about.split(' (')[0]})",
                         [str(peer), "-c", _aiogram.SERVER, str(port), redis.url(1), _aiogram.TOKEN], port, gram_file,
                         args, warm, name, check=lambda p: _aiogram.check_reply(p, name))
        else:
            print(about)

        # 5. persona serve --workers: one process, then one per core, the same safe-mode load
        cores = os.cpu_count() or 1
        for workers in (1, cores):
            record(figures, f"workers_{workers}", *measure_persona(store, name, tmp, args, warm, n * cores,
                                                                  mode="safe", workers=workers, cpu=None))
    print(f"load generator: {safe[0]['tool']}")
    # CPU per request is steadier than requests/s on a shared machine: shown for reference
    print(f"server CPU per request, bare / persona: {figures['bare_cpu'] / figures['persona_cpu']:.2f}×"
          + (f"; WeRoBot / persona: {figures['werobot_cpu'] / figures['persona_cpu']:.2f}×; "
             f"WeRoBot / persona plaintext: {figures['werobot_cpu'] / figures['persona_plain_cpu']:.2f}×"
             if "werobot" in figures else ""))
    figures["workers_ratio"] = figures[f"workers_{cores}"] / figures["workers_1"]
    print(f"persona serve --workers {cores} / --workers 1 (requests/s, {cores} cores shared with the load "
          f"generator and Redis): {figures['workers_ratio']:.2f}×")
    if "werobot" in figures:
        print(f"persona safe mode / WeRoBot plaintext: {figures['persona'] / figures['werobot']:.2f}×")
    if "persona_plain_pure_cpu" in figures:
        print(f"server CPU per request, plaintext on the source / compiled ({compiled.describe()}): "
              f"{figures['persona_plain_pure_cpu'] / figures['persona_plain_cpu']:.2f}×")
    if "aiogram" in figures:
        print(f"server CPU per request, aiogram / persona plaintext: "
              f"{figures['aiogram_cpu'] / figures['persona_plain_cpu']:.2f}×")
    # the verdicts last, the first of them within the last six lines (tests/scale reads them)
    print(verdict("persona / bare aiohttp", figures["persona"] / figures["bare"], 0.33))
    print(verdict("persona server CPU per callback", figures["persona_cpu"] * 1e6, 300, at_most=True, unit=" µs"))
    if "werobot" in figures:
        print(verdict("persona plaintext / WeRoBot plaintext", figures["persona_plain"] / figures["werobot"], 2.0))
    print(verdict("小完子 plaintext / bare aiohttp", figures["xiaowanzi_plain"] / figures["bare"], 0.3))
    if "aiogram" in figures:
        print(verdict("persona plaintext / aiogram 3 + RedisStorage", figures["persona_plain"] / figures["aiogram"], 5.0))
        print(verdict("小完子 plaintext / aiogram 3 + RedisStorage", figures["xiaowanzi_plain"] / figures["aiogram"], 5.0))
    figures["ratio_bare"] = figures["persona"] / figures["bare"]
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
