"""Each compiled module's gain alone: the same work timed on the mypyc build and on the source.

For every module in ``persona/compiled.py`` the work a turn asks of it is timed in a fresh
process, once on the compiled build and once with ``PERSONA_PURE=1``, alternated over rounds
(median of the rounds, each the best of five repeats):

* ``persona.store.redis.records``: a dormant customer's record encoded to its compact form,
  and decoded back (what every Redis load and commit does);
* ``persona.engine.gate``: one proactive marketing message through the gate (caps, quiet hours,
  windows: every message of every turn);
* three modules that are not compiled, for reference (compiled, they were no faster or slower;
  see benchmarks/README.md): ``customer`` (the record loaded into a ``Customer`` and dumped),
  ``xmlguard`` (a text callback's XML parsed, its fields read) and ``jsonwire`` (the record
  dumped and loaded, orjson underneath).

The gain in the server is in ``benchmarks.callback`` (plaintext on Redis, both builds in one run).

Run: ``python -m benchmarks.compiled [--rounds 3] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._common import PYTHON, ROOT, env, header

PROBE = r"""
import itertools, json, sys, timeit
from persona import compiled, jsonwire
from persona.model.customer import Customer, Timer
from persona.store.redis import records
from persona.wechat.protocol import xmlguard
from persona.engine.gate import Gate
from persona.model.messages import Message
from persona.model.persona import Policy

customer = Customer("o" + "1" * 27, "a", tags={"source": "parcel", "product": "lipstick", "discount": "coupon",
                    "first_price": "99", "spend": "mid"}, first_seen=1.7e9 - 86400, last_seen=1.7e9,
                    timers={"tick": Timer(1.7e9 + 30 * 86400)})
raw = customer.dump()
codes = {}
counter = itertools.count(1)
def known(name):
    return codes.setdefault(name, next(counter))
payload, _ = records.encode(raw, known)
names = {code: name for name, code in codes.items()}
xml = ("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>"
       "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
       "<Content><![CDATA[在吗]]></Content><MsgId>1</MsgId></xml>").encode()
value = json.loads(raw)
gate, policy = Gate(), Policy(daily_cap=10**9, weekly_cap=10**9)
sale = Message("text", "新品", proactive=True)
# (module, what): the work each module is asked for in a turn
work = {
    "Customer.load": lambda: Customer.load(customer.id, raw, 1),
    "Customer.dump": customer.dump,
    "Gate.decide (marketing)": lambda: gate.decide(sale, customer, policy, 1.7e9 + 3600 * 4, "Asia/Shanghai"),
    "records.encode": lambda: records.encode(raw, codes.get),
    "records.decode": lambda: records.decode(payload, names.__getitem__),
    "xmlguard.parse + fields": lambda: xmlguard.fields(xmlguard.parse(xml)),
    "jsonwire.dump + load": lambda: jsonwire.load(jsonwire.dump(value)),
}
out = {name: min(timeit.repeat(fn, number=5000, repeat=5)) / 5000 * 1e6 for name, fn in work.items()}
print(json.dumps({"running": compiled.running(), "us": out}))
"""


#: which module each row's work is in
MODULE_OF = {"Customer.load": "customer", "Customer.dump": "customer", "Gate.decide (marketing)": "gate",
             "records.encode": "records", "records.decode": "records", "xmlguard.parse + fields": "xmlguard",
             "jsonwire.dump + load": "jsonwire"}


def probe(pure: bool) -> dict[str, Any]:
    done = subprocess.run([PYTHON, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env(PERSONA_PURE="1" if pure else "0"))
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="alternated rounds (default 3)")
    p.add_argument("--quick", action="store_true", help="a tiny run that only proves it works")
    args = p.parse_args(argv)
    rounds = 1 if args.quick else args.rounds
    header("compiled modules alone: mypyc build vs source, the same work, alternated")
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    running: list[str] = []
    for _ in range(rounds):
        for pure in (False, True):
            result = probe(pure)
            runs[pure].append(result["us"])
            running = result["running"] if not pure else running
    if not running:
        print("nothing is compiled here (no C compiler at install, PERSONA_BUILD_PURE=1, or an edit not yet "
              "rebuilt): both columns are the source")
    ratios: dict[str, float] = {}
    for name in runs[False][0]:
        built = statistics.median(r[name] for r in runs[False])
        source = statistics.median(r[name] for r in runs[True])
        ratios[name] = source / built
        mark = "" if any(m.endswith("." + MODULE_OF[name]) for m in running) else "   (not compiled)"
        print(f"  {name:<26} compiled {built:7.2f} µs   source {source:7.2f} µs   {ratios[name]:5.2f}×{mark}")
    print(f"compiled: {', '.join(running) or 'none'}")
    mine = [r for name, r in ratios.items() if any(m.endswith("." + MODULE_OF[name]) for m in running)]
    print(f"source / compiled, geometric mean over the compiled modules' work: "
          f"{statistics.geometric_mean(mine) if mine else 1.0:.2f}×")
    return ratios


if __name__ == "__main__":
    main()
    sys.exit(0)
