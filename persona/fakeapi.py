"""The local fake of the WeChat and WeCom APIs, where it has always been importable from:
:mod:`persona.wechat.fake` holds it, one module a platform."""

from .wechat.fake import FakeWeChat, MessageLog, Sent, serve

__all__ = ["FakeWeChat", "MessageLog", "Sent", "serve"]
