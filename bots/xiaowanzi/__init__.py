"""小完子, the beauty brand's IP in WeChat: ``persona serve bots.xiaowanzi``."""

from .persona import Xiaowanzi

__all__ = ["Xiaowanzi"]
