"""docs/reference.md stays complete and true: every public member of ``Turn`` has a section
with an example, every example parses, every timer kind is in the table, and the timer example
defines a persona that imports."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import persona
from persona import Turn
from persona.model.timers import TimerSpec

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"


def sections() -> dict[str, str]:
    """``### heading`` → the text under it."""
    text = REFERENCE.read_text(encoding="utf-8")
    parts = re.split(r"^### (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def examples(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


#: What the methods collect for the runtime: named in the reference, not called by handlers.
COLLECTED = {"messages", "effects", "notes", "transitions", "timers_set", "timers_del", "fallbacks", "handover"}


def turn_members() -> set[str]:
    """Every public method, property and attribute of a Turn a handler may use."""
    public = {name for name in vars(Turn) if not name.startswith("_")}
    source = inspect.getsource(Turn.__init__)
    public |= {name for name in re.findall(r"self\.([a-z]\w*)\s*(?::[^=]+)?=", source)}
    return public - COLLECTED


def test_what_the_runtime_collects_is_named():
    text = REFERENCE.read_text(encoding="utf-8")
    source = inspect.getsource(Turn.__init__)
    assert COLLECTED <= set(re.findall(r"self\.([a-z]\w*)\s*(?::[^=]+)?=", source))
    for name in COLLECTED:
        assert f"`turn.{name}`" in text, name


def test_the_readme_links_the_reference():
    assert "(docs/reference.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_public_member_of_turn_has_a_section_with_an_example_using_it():
    found = sections()
    for name in sorted(turn_members()):
        heading = f"turn.{name}"
        assert heading in found, f"docs/reference.md has no '### {heading}'"
        code = examples(found[heading])
        assert code and any(f"turn.{name}" in block for block in code), f"{heading}: no example uses it"


def test_every_example_parses():
    text = REFERENCE.read_text(encoding="utf-8")
    blocks = examples(text)
    assert len(blocks) > len(turn_members())
    for block in blocks:
        compile(block, "docs/reference.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_every_timer_kind_is_in_the_table():
    text = REFERENCE.read_text(encoding="utf-8")
    schedule = [p for p in inspect.signature(TimerSpec.build).parameters
                if p not in ("cls", "name", "state", "offset", "weekdays", "at", "when", "grace", "service")]
    for kind in schedule:
        assert re.search(rf"^\| `{kind}=", text, re.M), f"timer kind {kind}= is not in the table"
    for option in ("state=", "when=", "grace=", "service=True", "offset=", "weekdays=", "at="):
        assert f"`{option}" in text, option


def test_the_timer_example_defines_a_persona_that_imports():
    text = REFERENCE.read_text(encoding="utf-8")
    [example] = [b for b in examples(text) if b.startswith("class Clinic(Persona)")]
    namespace: dict = {"__name__": "reference_example", **{n: getattr(persona, n) for n in persona.__all__}}
    exec(compile(example, "docs/reference.md", "exec"), namespace)
    clinic = namespace["Clinic"]
    assert set(clinic.timer_specs) == {"confirm", "eve", "chair", "brush", "checkup", "birthday", "day7", "recall"}
    assert clinic.routes.timer["callback"][0].states == {"booked", "patient"}

