"""Masking runs over what customers typed: it must take linear time whatever they typed, and
mask exactly what the plain e-mail pattern would."""

from __future__ import annotations

import random
import time

import pytest

from persona.studio.masking import EMAIL, MASK, mask_text


@pytest.mark.parametrize("text", ["a" * 30_000, "a" * 15_000 + "@" + "b" * 15_000, ("a" * 50 + "@b.c") * 500,
                                  "a@" * 15_000, ".@" + "a." * 15_000, "1" * 30_000])
def test_masking_takes_linear_time_on_hostile_text(text):
    started = time.perf_counter()
    mask_text(text)
    assert time.perf_counter() - started < 0.25


def test_emails_are_masked_as_the_plain_pattern_masks_them():
    def plain(text: str) -> str:
        return EMAIL.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2)}", text)

    rng = random.Random(7)
    for alphabet in ("ab.+-@ 1中", "a.@", "a@.b-", "x.@ "):
        for _ in range(20_000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 18)))
            assert mask_text(text) == plain(text), repr(text)
    assert mask_text("amy.w@example.com, bob@x.cn") == "a****@example.com, b****@x.cn"
