"""The live-scripts tests' lab bot, as a copy whose scripts a test may edit."""

from __future__ import annotations

import importlib
import shutil
import sys
import uuid
from pathlib import Path

import pytest

LAB = Path(__file__).parent / "lab"


@pytest.fixture
def bot_copy(tmp_path, monkeypatch):
    """A copy of the lab bot under a fresh module name, so its scripts folder can be edited."""
    name = f"labcopy{uuid.uuid4().hex[:8]}"
    shutil.copytree(LAB, tmp_path / name)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module.Lab, tmp_path / name / "scripts"
    sys.modules.pop(name, None)
