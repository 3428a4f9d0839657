"""``persona graph BOT -o FILE``: the flow a marketer would draw, drawn from the code.

States are boxes, transitions solid arrows labelled with their trigger (and condition), timers
dashed: a timer that moves the customer points at the new state, one that only speaks loops
on the state it is bound to (declared, or the state a handler schedules it in), and timers
that run in any state are listed in a note.

The format follows FILE's suffix: ``.mmd`` (Mermaid flowchart text, renders on GitHub and in
most wikis), ``.dot``/``.gv`` (Graphviz source), ``.svg``/``.png``/``.pdf`` (drawn by
Graphviz's ``dot`` when it is installed; without it, Mermaid text is written next to FILE).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import PersonaError
from ..content.graph import Graph
from ..model.persona import load_persona
from .arguments import add_bot

RENDERED = ("svg", "png", "pdf")
FORMATS = ("mermaid", "dot", *RENDERED)
SUFFIXES = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid", ".dot": "dot", ".gv": "dot",
            ".svg": "svg", ".png": "png", ".pdf": "pdf"}



def arguments(p: argparse.ArgumentParser) -> None:
    """``persona graph``'s arguments (its help texts are in ``commands.toml``)."""
    add_bot(p)
    p.add_argument("-o", "--output", metavar="FILE", help="where to write (default: stdout)")
    p.add_argument("-f", "--format", choices=FORMATS,
                   help="override the format the suffix implies (mermaid, dot, svg, png, pdf)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cls = load_persona(args.bot)
    graph = Graph.of(cls)
    output = Path(args.output) if args.output and args.output != "-" else None
    fmt = args.format or (SUFFIXES.get(output.suffix.lower()) if output else None) or "mermaid"
    if output is None:
        if fmt in RENDERED:
            raise PersonaError(f"--format {fmt} needs -o FILE")
        sys.stdout.write(graph.dot() if fmt == "dot" else graph.mermaid())
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "mermaid":
        output.write_text(graph.mermaid(), encoding="utf-8")
    elif fmt == "dot":
        output.write_text(graph.dot(), encoding="utf-8")
    else:
        dot = shutil.which("dot")
        if dot is None:
            fallback = output.with_suffix(".mmd")
            fallback.write_text(graph.mermaid(), encoding="utf-8")
            print(f"persona: Graphviz's dot is not installed, so {output} was not drawn; wrote Mermaid "
                  f"text to {fallback} instead (install graphviz for {fmt})", file=sys.stderr)
            return 0
        done = subprocess.run([dot, f"-T{fmt}", "-o", str(output)], input=graph.dot().encode("utf-8"),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise PersonaError(f"dot failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    print(f"wrote {output} ({fmt}: {len(graph.states)} states, {len(graph.edges)} edges)", file=sys.stderr)
    return 0
