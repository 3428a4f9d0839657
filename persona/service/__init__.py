"""The HTTP side of persona: WeChat/WeCom callbacks, business events, forms, health and metrics.

``create_app(bots)`` builds the aiohttp application ``persona serve`` runs; mount it into an
existing aiohttp site the same way.

May import: :mod:`persona.engine` and everything below it (never the tools: cli, studio,
migrate).
"""

from .app import DEFAULT_DEADLINE, create_app
from .context import bot_environ
from .events import SIGNATURE_HEADER, sign

__all__ = ["DEFAULT_DEADLINE", "SIGNATURE_HEADER", "bot_environ", "create_app", "sign"]
