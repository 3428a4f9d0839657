"""The service's fixtures (bots on a fresh namespace, the app on a real port) for fault tests."""

from tests.service.conftest import make_bot, serve  # noqa: F401  (fixtures)
