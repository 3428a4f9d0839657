"""Personal fields, masked for roles that do not need them.

A field is personal by its name (phone, name, address, birthday...) or by looking like a
mainland mobile number or an e-mail address wherever it appears (an attribute, a tag value, a
line a customer typed). Masking keeps enough to recognise a customer on the phone
(``138****5678``) and nothing more.
"""

from __future__ import annotations

import re
from typing import Any

PERSONAL_KEYS = frozenset({"phone", "mobile", "tel", "telephone", "name", "real_name", "realname",
                           "address", "addr", "email", "birthday", "id_card", "idcard", "wechat_id",
                           "contact"})
PHONE = re.compile(r"(?<!\d)(\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
EMAIL = re.compile(r"([\w.+-])[\w.+-]*(@[\w-]+(?:\.[\w-]+)+)")
#: EMAIL entered only where a run of address characters starts. Searched on its own, EMAIL
#: tries every position inside a run and takes quadratic time: seconds for the few kilobytes
#: of letters a stranger can type into a message that a page then shows.
_EMAIL_AT_RUN = re.compile(r"(?<![\w.+-])" + EMAIL.pattern)
_ADDRESS_CHAR = re.compile(r"[\w.+-]")
MASK = "****"


def personal_key(key: str) -> bool:
    low = key.casefold()
    return low in PERSONAL_KEYS or any(low.endswith("_" + k) for k in PERSONAL_KEYS)


def mask_text(text: str) -> str:
    """Phone numbers and e-mail addresses inside free text, masked."""
    text = PHONE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}{MASK}{m.group(4)}", text)
    return _mask_emails(text)


def _mask_emails(text: str) -> str:
    """``EMAIL.sub`` to the letter, in time linear in ``text``.

    A match needs its run of address characters to end in ``@``, so where one start in a run
    fails every later start in that run fails too: only run starts are searched, plus the
    spot inside a run where the previous match ended (as ``re.sub`` would resume there).
    """
    out: list[str] = []
    done = 0
    while True:
        match = None
        if done and _ADDRESS_CHAR.match(text, done - 1):
            match = EMAIL.match(text, done)
        match = match or _EMAIL_AT_RUN.search(text, done)
        if match is None:
            break
        out.append(text[done:match.start()])
        out.append(f"{match.group(1)}{MASK}{match.group(2)}")
        done = match.end()
    out.append(text[done:])
    return "".join(out)


def mask_value(key: str, value: Any) -> Any:
    """One attribute or tag value as a role without personal access sees it."""
    if personal_key(key):
        if value in (None, ""):
            return value
        if not isinstance(value, str):
            return MASK
        text = value
        masked = mask_text(text)
        return masked if masked != text else (text[:1] + MASK if len(text) > 1 else MASK)
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(key, v) for v in value]
    return value


def mask_fields(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: mask_value(k, v) for k, v in fields.items()}
