"""Form links in scripts: ``{{ form_link("questionnaire") }}`` must name a form the persona
declares (``Persona.forms``), or the customer would get a script that fails to render.

Only a name written as a constant is checked; one computed at run time is the code's business.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from jinja2 import nodes as jn

from ...model.persona import Persona
from ...model.wording import Said, says
from .report import suggest
from .scripts import Script

#: the script global that builds a customer's signed form link
FORM_LINK = "form_link"


def form_link_names(tree: jn.Template) -> Iterator[tuple[str, int]]:
    """Each constant form name a script passes to ``form_link``, with its line."""
    for call in tree.find_all(jn.Call):
        if isinstance(call.node, jn.Name) and call.node.name == FORM_LINK and call.args:
            first = call.args[0]
            if isinstance(first, jn.Const) and isinstance(first.value, str):
                yield first.value, call.lineno


def check_form_links(cls: type[Persona], scripts: dict[str, Script]) -> Iterator[tuple[Path, int, Said]]:
    """``(file, line, finding)`` for every form link naming a form ``cls`` does not declare."""
    known = [f.name for f in cls.forms]
    for script in scripts.values():
        if script.tree is None:
            continue
        for name, line in form_link_names(script.tree):
            if name not in known:
                yield script.path, line, says("lint.form_unknown", form=name, persona=cls.__name__,
                                              hint=suggest(name, known))
