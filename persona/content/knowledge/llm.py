"""Optional: a language model writes the suggested replies from the retrieved entries.

Any OpenAI-compatible chat-completions endpoint, configured by ``PERSONA_LLM_BASE``,
``PERSONA_LLM_KEY`` and ``PERSONA_LLM_MODEL``. The model only ever drafts for a human agent,
and even so it is fenced in: the prompt is masked (no phone numbers, id or card numbers,
e-mail addresses), the call has a hard timeout, and :class:`~persona.content.knowledge.Suggester`
drops drafts that are too long or cite a link the brand never published.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import aiohttp

from ...errors import PersonaError
from .faq import Entry

log = logging.getLogger(__name__)

#: seconds the model gets before the retrieval candidates are used instead
TIMEOUT = 3.0

#: what never leaves for the model: (pattern, what it is replaced with)
MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[邮箱]"),
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[证件号]"),
    (re.compile(r"(?<!\d)\d{16,19}(?!\d)"), "[卡号]"),
    (re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)"), "[手机号]"),
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), "[电话]"),
)


class LLMError(PersonaError):
    """The model did not answer usefully in time; the retrieval candidates are used."""


def mask(text: str) -> str:
    """``text`` with phone numbers, id and card numbers and e-mail addresses replaced."""
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class LLMConfig:
    base: str
    key: str
    model: str
    timeout: float = TIMEOUT

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "LLMConfig | None":
        """The configuration when all three variables are set; None (offline) otherwise."""
        base, key, model = (environ.get(f"PERSONA_LLM_{name}", "").strip() for name in ("BASE", "KEY", "MODEL"))
        if not (base and key and model):
            if base or model:
                log.warning("PERSONA_LLM_BASE, PERSONA_LLM_KEY and PERSONA_LLM_MODEL must all be set; "
                            "suggestions come from the FAQ alone")
            return None
        return cls(base.rstrip("/"), key, model)


def prompt(question: str, entries: Sequence[tuple[Entry, str]], voice: str,
           history: Sequence[tuple[str, str]], documents: Mapping[str, str]) -> list[dict[str, str]]:
    """The chat messages, masked. ``entries``: each entry with its answer rendered for the
    customer; ``history``: (who, text) of the last turns."""
    system = ("你在帮一位真人客服起草回复。只根据下面的资料回答，不要编造价格、链接或承诺；"
              "资料里没有的，就请客户稍等、由客服确认。"
              "输出一个 JSON 数组，包含三条不同的候选回复（字符串），最好的在前。")
    if voice:
        system += f"\n说话的人设：{voice}"
    parts = ["资料："]
    parts += [f"- 问：{' / '.join(e.q[:3])}\n  答：{answer}" for e, answer in entries]
    for name, text in documents.items():
        parts.append(f"[{name}]\n{text[:1500]}")
    if history:
        parts.append("最近的对话：")
        parts += [f"{who}: {text}" for who, text in history]
    parts.append(f"客户刚才说：{question}")
    return [{"role": "system", "content": mask(system)}, {"role": "user", "content": mask("\n".join(parts))}]


class Writer:
    """Asks the model for three drafts."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = config

    async def drafts(self, messages: list[dict[str, str]]) -> list[str]:
        """The model's drafts; raises LLMError on a timeout, an HTTP error or an answer that is
        not a JSON list of strings."""
        body = {"model": self.config.model, "messages": messages, "temperature": 0.7}
        headers = {"Authorization": f"Bearer {self.config.key}"}
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(f"{self.config.base}/chat/completions", json=body, headers=headers) as resp:
                    if resp.status != 200:
                        raise LLMError(f"the model answered HTTP {resp.status}")
                    data: Any = await resp.json(content_type=None)
        except TimeoutError:
            raise LLMError(f"the model did not answer within {self.config.timeout:g} s") from None
        except (aiohttp.ClientError, ValueError) as exc:
            raise LLMError(f"the model could not be reached: {exc}") from None
        try:
            content = data["choices"][0]["message"]["content"]
            drafts = json.loads(_unfence(content))
        except (KeyError, IndexError, TypeError, ValueError):
            raise LLMError("the model's answer is not a JSON list of replies") from None
        if not isinstance(drafts, list) or not all(isinstance(d, str) for d in drafts):
            raise LLMError("the model's answer is not a JSON list of replies")
        return [d.strip() for d in drafts if d.strip()]


def _unfence(content: str) -> str:
    """Models like to wrap JSON in a ``` fence."""
    content = content.strip()
    if content.startswith("```"):
        content = content.strip("`")
        content = content[content.find("\n") + 1:] if "\n" in content else content
    return content.strip()
