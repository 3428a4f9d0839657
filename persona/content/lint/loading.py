"""Loading a bot for ``persona lint``: a bot that does not import is a problem at its own line.

Only "there is no such module" is an error of the command (:class:`~persona.errors.PersonaError`);
a syntax error, a definition refused by :mod:`persona.model.persona` or the bot's own exception at
import time is reported at the bot's line that raised it, so the writer sees where to look.
"""

from __future__ import annotations

import ast
import importlib
import re
import traceback
from pathlib import Path

from ...model.wording import says
from ...errors import DefinitionError, PersonaError
from ...model.persona import Persona, load_persona
from .report import ERROR, Report

#: frames in persona's own package are never the bot's line
_PACKAGE = Path(__file__).resolve().parents[2]  # persona/


def import_bot(path: str, report: Report) -> type[Persona] | None:
    """The persona class at ``path``, or None with the reason added to ``report``."""
    module_name = path.partition(":")[0]
    try:
        importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise PersonaError(f"cannot import bot {module_name!r}: no module named {exc.name!r} "
                               "(run from the folder that holds it, or set PYTHONPATH)") from None
        _import_problem(exc, report)
        return None
    except SyntaxError as exc:
        report.add(ERROR, exc.filename or module_name, exc.lineno, says("lint.python_syntax", detail=exc.msg))
        return None
    except Exception as exc:  # DefinitionError from the class checks, or the bot's own bug
        _import_problem(exc, report)
        return None
    try:
        return load_persona(path)
    except DefinitionError as exc:
        raise PersonaError(str(exc)) from None


def _import_problem(exc: BaseException, report: Report) -> None:
    """Point at the bot's own line the import failed on (the class statement, usually)."""
    file, line = report.bot, 0
    for frame in traceback.extract_tb(exc.__traceback__):
        name = Path(frame.filename)
        if frame.filename.startswith("<") or _PACKAGE in name.resolve().parents:
            continue
        if "site-packages" in name.parts or "importlib" in frame.filename:
            continue
        file, line = frame.filename, frame.lineno or 0
    what = str(exc) if isinstance(exc, PersonaError) else f"{type(exc).__name__}: {exc}"
    named = re.match(r"\w+\.(\w+): ", what) if isinstance(exc, DefinitionError) else None
    if named and Path(file).is_file():  # "Shop.ordered: states= names unknown state...": the handler's line
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == named.group(1):
                line = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                break
    report.add(ERROR, file, line, says("lint.no_import", detail=what))
