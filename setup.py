"""Builds persona, compiling the modules ``persona/compiled.py`` names with mypyc when it can.

Everything else about the package is in pyproject.toml. With no C compiler (or with
``PERSONA_BUILD_PURE=1``) the install is pure Python and works the same, slower; when mypyc
refuses the code, or any module fails to compile, no module is compiled (``AllOrNothing``).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext


def compiled_modules() -> list[str]:
    spec = importlib.util.spec_from_file_location("persona_compiled", Path(__file__).parent / "persona" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [str(module.source_of(name, Path("persona"))) for name in module.MODULES]


def forget_old_builds(keep: set[str]) -> None:
    """Remove the extensions an earlier editable install compiled into the tree that this build
    does not make again (``keep``: the names it makes): a module taken off the list, or a shared
    library of another list, must not keep running, nor shadow the source of a pure install."""
    for old in [*Path("persona").rglob("*.so"), *Path("persona").rglob("*.pyd"), *Path(".").glob("*__mypyc*")]:
        suffix = next((s for s in importlib.machinery.EXTENSION_SUFFIXES if old.name.endswith(s)), None)
        if suffix is not None and ".".join(old.with_name(old.name[:-len(suffix)]).parts) not in keep:
            old.unlink()


def extensions() -> list[Any]:
    built = compile_modules()
    forget_old_builds({extension.name for extension in built})
    return built


def compile_modules() -> list[Any]:
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


class AllOrNothing(build_ext):
    """Builds the compiled modules as one: if any fails (each is optional, so the install goes
    on), none is kept, since a module's shim without the shared library it calls cannot import."""

    def run(self) -> None:
        self.failed: list[str] = []
        super().run()
        if self.failed:
            print(f"persona: {', '.join(self.failed)} did not compile; installing pure Python", file=sys.stderr)
            for extension in self.extensions:
                Path(self.get_ext_fullpath(extension.name)).unlink(missing_ok=True)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception:
            self.failed.append(ext.name)
            raise


setup(ext_modules=extensions(), cmdclass={"build_ext": AllOrNothing})
