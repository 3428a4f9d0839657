"""A second bot for tests that serve several bots in one process: the help desk under another name."""

from __future__ import annotations

from tests.service.desk import Desk


class Annex(Desk):
    name = "annex"
    scripts_dir = str(Desk.folder() / "scripts")
