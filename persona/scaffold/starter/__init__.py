"""Starter: a persona bot for WeChat and WeCom (``persona serve starter``)."""

from .persona import Starter

__all__ = ["Starter"]
