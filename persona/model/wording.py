"""What persona tells the people who write a bot's scripts, by message id, in Chinese and English.

Lint's findings and render errors are read by content writers in the studio (a Chinese page)
and by developers at a terminal. Each is a :class:`Said`: a message id from :data:`TEXTS` and
the values it names. ``str()`` of a finding or an error stays English (logs, tests, tools that
parse it); :meth:`Said.text` gives either language. The studio asks for Chinese; the command
line follows ``--lang`` or the locale (:func:`language`).

Jinja's own syntax messages ("Unexpected end of template...") are English sentences with
values inside; the common ones are recognised and said in Chinese too (:func:`jinja_text`).
The texts live in ``wording.toml``, one file a translator or a writer can read and edit.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from dataclasses import dataclass, field
from typing import Any

EN, ZH = "en", "zh"
LANGUAGES = (EN, ZH)

#: message id -> {language: text with ``{name}`` fields}, from ``wording.toml`` beside this module
TEXTS: dict[str, dict[str, str]] = tomllib.loads(
    resources.files(__package__).joinpath("wording.toml").read_text(encoding="utf-8"))

#: Jinja's syntax messages, recognised: (pattern, message id)
JINJA: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^No (?P<what>filter|test) named '(?P<name>[^']+)'\.?(?:; did you mean '(?P<close>[^']+)'\?)?$"),
     "jinja.no_such"),
    (re.compile(r"^Unexpected end of template\..*?looking for the following tags: (?P<tags>[^.]+)\."),
     "jinja.unclosed"),
    (re.compile(r"^Encountered unknown tag '(?P<tag>[^']+)'"), "jinja.unknown_tag"),
    (re.compile(r"^unexpected '(?P<token>[^']+)'"), "jinja.unexpected"),
    (re.compile(r"^expected token '(?P<expected>[^']+)', got '(?P<got>[^']+)'"), "jinja.expected"),
    (re.compile(r"^unexpected end of template"), "jinja.eof"),
]


@dataclass(frozen=True)
class Said:
    """A message by id, with the values it names (a value may itself be a :class:`Said`)."""

    code: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str = EN) -> str:
        entry = TEXTS[self.code]
        values = {k: v.text(lang) if isinstance(v, (Said, Jinja)) else v for k, v in self.args.items()}
        return (entry.get(lang) or entry[EN]).format(**values)

    def __str__(self) -> str:
        return self.text(EN)


@dataclass(frozen=True)
class Jinja:
    """One of Jinja's own messages, said in Chinese where :data:`JINJA` recognises it."""

    message: str

    def text(self, lang: str = EN) -> str:
        return jinja_text(self.message, lang)


def says(code: str, **args: Any) -> Said:
    """``Said(code, args)``, checked: an unknown id is a bug here, not a blank in a page."""
    if code not in TEXTS:
        raise KeyError(f"no text for message id {code!r}")
    return Said(code, args)


def jinja_text(message: str, lang: str) -> str:
    """Jinja's syntax ``message`` in ``lang`` (as it is when not one :data:`JINJA` knows)."""
    if lang == EN:
        return message
    for pattern, code in JINJA:
        found = pattern.search(message)
        if found is None:
            continue
        values = {k: v for k, v in found.groupdict().items() if v is not None}
        if code == "jinja.no_such":
            values["what_zh"] = "过滤器" if values["what"] == "filter" else "测试"
            text = Said(code, values).text(lang)
            return text + (Said("jinja.no_such.close", {"close": values["close"]}).text(lang) if "close" in values else "")
        return Said(code, values).text(lang)
    return message


def language(flag: str | None, environ: Mapping[str, str]) -> str:
    """``--lang`` when given, else the locale's (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: zh_CN.UTF-8 → zh)."""
    if flag:
        return flag
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return ZH if value.lower().startswith("zh") else EN
    return EN
