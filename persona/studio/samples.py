"""Who a preview is rendered for: the persona's own sample customers, a generated one, or a
real customer from the store (the page marks that preview as a real customer's).

The variables a handler passes to ``turn.say(script, offer=...)`` exist only inside the bot's
code, so a preview fills what the text uses and nobody else gives with visible placeholders
(``〔offer.title〕``): the writer sees where each value lands. A sample file can give real
values instead (``samples/*.json`` beside the persona, the format of ``persona preview``).
"""

from __future__ import annotations

import time
from typing import Any

import jinja2
from jinja2 import meta, nodes

from ..content.samples import Sample, from_file, sample_files
from ..model.customer import Customer
from ..content.lint import BASE_VARIABLES
from ..model.persona import Persona

__all__ = ["GENERATED", "GIVEN", "Sample", "from_file", "generated", "placeholders", "real", "sample_files"]

#: what every script sees without anyone passing it (see ``Turn.render``)
GIVEN = BASE_VARIABLES | {"kind", "category", "via"}
GENERATED = "generated"


def generated(persona: type[Persona]) -> Sample:
    """A new customer in the persona's first state, with nothing known about them yet."""
    now = time.time()
    return Sample(GENERATED, Customer("sample", persona.initial, first_seen=now, last_seen=now), now=now)


def real(customer: Customer) -> Sample:
    return Sample(customer.id, customer, now=time.time(), real=True)


def placeholders(env: jinja2.Environment, text: str, known: set[str]) -> dict[str, Any]:
    """A visible stand-in for each variable ``text`` uses that is not in ``known``: a string, or
    a dict of strings for one used with attributes (``offer.title``). Text that does not
    compile: none (the render says why, and lint reports it)."""
    try:
        tree = env.parse(text)
        missing = meta.find_undeclared_variables(tree) - known - GIVEN  # compiles: checks filters
    except jinja2.TemplateSyntaxError:  # a misspelt filter too (TemplateAssertionError)
        return {}
    attrs: dict[str, set[str]] = {name: set() for name in missing}
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in attrs:
            attrs[node.node.name].add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        if (isinstance(item.node, nodes.Name) and item.node.name in attrs and isinstance(item.arg, nodes.Const)
                and isinstance(item.arg.value, str)):
            attrs[item.node.name].add(item.arg.value)
    return {name: ({a: f"〔{name}.{a}〕" for a in sorted(used)} if used else f"〔{name}〕")
            for name, used in attrs.items()}
