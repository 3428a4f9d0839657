"""Where a callback's time goes, stage by stage, in one process (no HTTP, no load generator).

Each row is the median cost of one stage of the safe-mode text pipeline, beside wechatpy's
own helpers for the same work, measured in this run:

* protocol: signature check + decrypt + screen + parse (persona) vs wechatpy
  ``decrypt_message`` + ``parse_message``; reply render + encrypt + sign vs wechatpy;
* the turn on a memory store (dispatch, transition, render, gate, journal, commit), beside
  the same turn with every trigger sent through the shared ``AsyncMachine`` (no compiled
  moves) and with that and the standard ``json`` module (the turn as it was), alternated;
* the store's two round trips on Redis (``load`` with the dedupe check, ``commit``);
* the whole ``Runtime.handle`` on Redis;
* 64 turns in flight on Redis: client CPU per turn with the store's group commit, and with it
  switched off (each load and commit its own round trip), alternated.

Run:
``python -m benchmarks.stages [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import time
import timeit
from typing import Any, Awaitable, Callable, Iterator

from benchmarks._common import APPID, AES_KEY, LOAD_CPU, TOKEN, Callbacks, RedisServer, header, text_xml, unique

NOW = 1_700_000_000


def us(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


#: numbers every awaited call of a run, so inputs keyed by it stay fresh across runs
_CALLS = itertools.count(1)


async def aus(fn: Callable[[int], Awaitable[Any]], number: int, repeat: int) -> float:
    """Median µs per awaited call over ``repeat`` runs of ``number`` sequential calls."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            await fn(next(_CALLS))
        runs.append((time.perf_counter() - started) / number * 1e6)
    return statistics.median(runs)


TURN_ROW = "turn on a memory store (Runtime.handle)"
#: turns in flight at once in the group-commit rows (a busy server's or a timer batch's)
CONCURRENT = 64
MACHINE_ROW = "  same, every trigger through the AsyncMachine"
OLD_ROW = "  same, AsyncMachine and the standard json module"


@contextlib.contextmanager
def machine_only(persona: type) -> Iterator[None]:
    """Run ``persona`` as if none of its transitions were compiled (see ``persona.model.moves``)."""
    compiled = persona.moves
    persona.moves = {}
    try:
        yield
    finally:
        persona.moves = compiled


@contextlib.contextmanager
def stdlib_json(inner: contextlib.AbstractContextManager[None]) -> Iterator[None]:
    """Serialise a turn's documents with the standard ``json`` module, as before orjson."""
    from persona import jsonwire

    compact = {"ensure_ascii": False, "separators": (",", ":")}
    fast = jsonwire.dump_bytes, jsonwire.dump, jsonwire.load
    jsonwire.dump_bytes = lambda value: json.dumps(value, **compact).encode()
    jsonwire.dump = lambda value: json.dumps(value, **compact)
    jsonwire.load = json.loads
    try:
        with inner:
            yield
    finally:
        jsonwire.dump_bytes, jsonwire.dump, jsonwire.load = fast


def protocol_rows(number: int, repeat: int) -> list[tuple[str, float]]:
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.parser import parse_message
    from wechatpy.replies import TextReply

    from persona.model.messages import Message
    from persona.wechat.protocol import OfficialAccount

    oa = OfficialAccount(TOKEN, APPID, AES_KEY, now=lambda: NOW)
    seal = Callbacks()
    query_string, body = seal.safe(text_xml("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "我想领券", 6054768590064713728, NOW),
                                   nonce="271828", ts=NOW)
    query = dict(part.split("=", 1) for part in query_string.split("&"))
    parsed = oa.parse(query, body)
    reply = Message(kind="text", text="券已发到你的卡包，记得 3 天内使用哦")
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    return [
        ("persona: verify + decrypt + screen + parse", us(lambda: oa.parse(query, body), number, repeat)),
        ("wechatpy: decrypt_message + parse_message", us(lambda: parse_message(
            crypto.decrypt_message(body, query["msg_signature"], str(NOW), "271828")), number, repeat)),
        ("persona: reply render + encrypt + sign", us(lambda: oa.reply(parsed, reply), number, repeat)),
        ("wechatpy: TextReply.render + encrypt_message", us(lambda: crypto.encrypt_message(
            TextReply(source="gh", target="o", content=reply.text, time=NOW).render(), "1", str(NOW)),
            number, repeat)),
    ]


async def runtime_rows(redis_url: str, number: int, repeat: int) -> list[tuple[str, float]]:
    from benchmarks.benchpersona import Bench
    from persona.model.inputs import TextMessage
    from persona.engine.outcome import ReplySlot
    from persona.engine.runtime import Runtime
    from persona.store import open_store
    from persona.store.base import Commit

    rows = []
    users = [f"o{i:027d}" for i in range(200)]

    def message(n: int) -> TextMessage:
        return TextMessage(user=users[n % len(users)], dedupe_key=f"m:{n}", text="在吗", msg_id=str(n))

    memory = open_store("memory://", "stages")
    runtime = Runtime(Bench(), memory)
    variants = {TURN_ROW: contextlib.nullcontext, MACHINE_ROW: lambda: machine_only(Bench),
                OLD_ROW: lambda: stdlib_json(machine_only(Bench))}
    runs: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):  # alternated, so load from elsewhere falls on all alike
        for name, variant in variants.items():
            with variant():
                runs[name].append(await aus(lambda n: runtime.handle(message(n), ReplySlot()), number, 1))
    rows += [(name, statistics.median(found)) for name, found in runs.items()]
    await memory.close()

    redis = open_store(redis_url, f"stages{unique()}")
    runtime = Runtime(Bench(), redis)
    for n in range(len(users)):  # every customer exists
        await runtime.handle(message(10**9 + n))
    record = (await redis.load(users[0])).record or b"{}"
    rows.append(("Redis: load (record + dedupe key, one pipeline)",
                 await aus(lambda n: redis.load(users[n % len(users)], f"m:x{n}"), number, repeat)))
    versions = {u: (await redis.load(u)).version for u in users}

    async def commit(n: int) -> None:
        user = users[n % len(users)]
        await redis.commit(Commit(user=user, expected_version=versions[user], record=record,
                                  dedupe_key=f"m:c{n}", dedupe_result='{"s":"done","p":null}',
                                  journal=['{"k":"in"}', '{"k":"out"}', '{"k":"transition"}']))
        versions[user] += 1

    rows.append(("Redis: commit (Lua: dedupe, record, journal)", await aus(commit, number, repeat)))
    rows.append(("Redis: ping (one bare round trip)", await aus(lambda n: redis.ping(), number, repeat)))
    rows.append(("turn on Redis (Runtime.handle)",
                 await aus(lambda n: runtime.handle(message(n), ReplySlot()), number, repeat)))
    rows += await concurrent_rows(runtime, message, number, repeat)
    await redis.close()
    return rows


GROUP_ROW = f"{CONCURRENT} turns at once on Redis, group commit: CPU per turn"
ALONE_ROW = "  same, each load and commit its own round trip"


async def concurrent_rows(runtime: Any, message: Callable[[int], Any], number: int,
                          repeat: int) -> list[tuple[str, float]]:
    """Client CPU per turn when turns overlap, as under load: with the store's group commit
    (one pipeline per loop tick) and with it switched off, alternated."""
    store = runtime.store
    batch = store._batch
    runs: dict[str, list[float]] = {GROUP_ROW: [], ALONE_ROW: []}
    for _ in range(repeat):
        for name in runs:
            store._batch = batch if name == GROUP_ROW else None
            started = time.process_time()
            for _ in range(max(1, number // CONCURRENT)):
                await asyncio.gather(*(runtime.handle(message(next(_CALLS))) for _ in range(CONCURRENT)))
            runs[name].append((time.process_time() - started) / (max(1, number // CONCURRENT) * CONCURRENT) * 1e6)
    store._batch = batch
    return [(name, statistics.median(found)) for name, found in runs.items()]


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    p.add_argument("--number", type=int, default=3000, help="calls per timed run (default 3000)")
    args = p.parse_args(argv)
    number, repeat = (100, 2) if args.quick else (args.number, 5)
    header("the callback pipeline, stage by stage (µs per call, one process)")
    rows = protocol_rows(number * 3, repeat)
    with RedisServer(cpu=LOAD_CPU) as redis:
        rows += asyncio.run(runtime_rows(redis.url(), number, repeat))
    for name, cost in rows:
        print(f"{cost:8.1f} µs  {name}")
    found = dict(rows)
    parse = found["persona: verify + decrypt + screen + parse"] / found["wechatpy: decrypt_message + parse_message"]
    reply = found["persona: reply render + encrypt + sign"] / found["wechatpy: TextReply.render + encrypt_message"]
    share = (found["Redis: load (record + dedupe key, one pipeline)"] + found["Redis: commit (Lua: dedupe, record, journal)"]) \
        / found["turn on Redis (Runtime.handle)"]
    print(f"Redis round trips / whole turn on Redis: {share:.2f}")
    print(f"persona / wechatpy: parse {parse:.2f}×, reply {reply:.2f}×")
    print(f"group commit: {found[ALONE_ROW] / found[GROUP_ROW]:.2f}× less client CPU per turn "
          f"with {CONCURRENT} turns in flight")
    print(f"memory-store turn: machine only / compiled transitions {found[MACHINE_ROW] / found[TURN_ROW]:.2f}×; "
          f"machine and json / today {found[OLD_ROW] / found[TURN_ROW]:.2f}×")
    return found


if __name__ == "__main__":
    main()
