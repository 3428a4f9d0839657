"""Builds persona, compiling the modules ``persona/compiled.py`` names with mypyc when it can.

Everything else about the package is in pyproject.toml. With no C compiler (or with
``PERSONA_BUILD_PURE=1``) the install is pure Python and works the same, slower; a module whose
compilation fails is left as source (the extensions are optional).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import setup


def compiled_modules() -> list[str]:
    spec = importlib.util.spec_from_file_location("persona_compiled", Path(__file__).parent / "persona" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [str(module.source_of(name, Path("persona"))) for name in module.MODULES]


def forget_old_builds() -> None:
    """Remove the extensions an earlier install compiled into the tree: a module taken off the
    list, or built against another shared library, must not keep running its old build."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for old in [*Path("persona").rglob(f"*{suffix}"), *Path(".").glob(f"*__mypyc{suffix}")]:
            old.unlink()


def extensions() -> list[object]:
    forget_old_builds()
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if os.environ.get("PERSONA_BUILD_PURE", "") not in ("", "0") or shutil.which(compiler) is None:
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    # the build environment has persona's sources, not its dependencies: their types are Any here,
    # which mypyc compiles as generic Python operations (correct, a little less fast)
    try:
        built = mypycify(["--config-file=", "--ignore-missing-imports", "--follow-imports=silent",
                          *compiled_modules()], opt_level="3")
    except (Exception, SystemExit) as exc:  # mypyc refused the code: install the source, say why
        print(f"persona: not compiled ({type(exc).__name__}: {exc}); installing pure Python", file=sys.stderr)
        return []
    for extension in built:
        extension.optional = True
    return list(built)


setup(ext_modules=extensions())
