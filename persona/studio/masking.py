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
MASK = "****"


def personal_key(key: str) -> bool:
    low = key.casefold()
    return low in PERSONAL_KEYS or any(low.endswith("_" + k) for k in PERSONAL_KEYS)


def mask_text(text: str) -> str:
    """Phone numbers and e-mail addresses inside free text, masked."""
    text = PHONE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}{MASK}{m.group(4)}", text)
    return EMAIL.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2)}", text)


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
