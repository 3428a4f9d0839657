"""Every command has its help texts in ``commands.toml``, and the file names no other."""

from __future__ import annotations

import tomllib
from importlib import resources

from persona.cli import COMMANDS, build_parser


def test_each_command_and_only_those_has_help_texts():
    texts = tomllib.loads(resources.files("persona.cli").joinpath("commands.toml").read_text(encoding="utf-8"))
    assert set(texts) == {name.replace("_", "-") for name in COMMANDS}
    assert all(text["help"] and set(text) <= {"help", "description", "raw"} for text in texts.values())


def test_help_comes_from_the_file_or_the_module_docstring(capsys):
    parser = build_parser()
    for command, says in (("funnel", "For the bot"), ("worker", "``persona worker")):
        try:
            parser.parse_args([command, "--help"])
        except SystemExit as exit:
            assert exit.code == 0
        assert says in capsys.readouterr().out
