"""A/B variants: which text of a script a customer gets, decided once and kept.

A customer's first message of a script with several variants picks one by a stable hash of
the script and the customer (so every process, and a re-run of the same turn, picks the
same) weighted by the variants' weights, and records the pick on the customer. Later
messages use the recorded variant while it runs; a stopped variant (weight 0) or one no
longer published sends its customers to a running one from their next message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .customer import Customer


def choose_variant(script: str, customer: Customer, choices: Sequence[tuple[str, float]]) -> str:
    """The variant of ``script`` for ``customer`` among ``(name, weight)`` choices, recorded on
    the customer (it is committed with the turn)."""
    running = [(name, weight) for name, weight in choices if weight > 0]
    current = customer.variants.get(script)
    if current is not None and any(name == current for name, _ in running):
        return current
    if not running:  # every variant stopped: the script's own text, assigned to no one
        return choices[0][0]
    picked = weighted_pick(f"{script}\x1f{customer.id}", running)
    customer.variants[script] = picked
    return picked


def weighted_pick(key: str, weights: Sequence[tuple[str, float]]) -> str:
    """One name from ``weights``, chosen by a uniform hash of ``key``: the same key always gets
    the same name for the same weights, and keys spread in proportion to the weights."""
    ordered = sorted(weights)
    total = sum(weight for _, weight in ordered)
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") / 2**64 * total
    running = 0.0
    for name, weight in ordered:
        running += weight
        if point < running:
            return name
    return ordered[-1][0]
