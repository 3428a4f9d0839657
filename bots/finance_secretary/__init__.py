"""理财秘书 — the fixed-investment finance secretary bot (``persona serve bots.finance_secretary``)."""

from .persona import FinanceSecretary

__all__ = ["FinanceSecretary"]
