"""Errors of our own, each with a message a bot author can act on."""

from __future__ import annotations

from typing import Any


class PersonaError(Exception):
    """Base class of every error persona raises on purpose."""


class DefinitionError(PersonaError):
    """A Persona subclass is declared wrongly (unknown state, trigger, timer...).

    Raised at import time, so a broken bot never reaches production.
    """


class TemplateError(PersonaError):
    """A script template is missing, does not parse, or uses an undefined variable.

    ``said``: the same message by id (:class:`persona.model.wording.Said`), for :meth:`text`
    in another language; ``str()`` is English.
    """

    def __init__(self, message: str, *, template: str | None = None, line: int | None = None,
                 variable: str | None = None, said: Any = None) -> None:
        super().__init__(message)
        self.template = template
        self.line = line
        self.variable = variable
        self.said = said

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (``en`` or ``zh``)."""
        return str(self.said.text(lang)) if self.said is not None else str(self)


class ScriptRejected(PersonaError):
    """A script version fails lint: it is not published (or, at start, the bot does not start).

    ``problems`` are lint's findings, one ``file:line: error: message`` line each;
    ``findings`` the same as lint's :class:`~persona.content.lint.Problem` objects, when the
    caller has them (to say them in another language).
    """

    def __init__(self, message: str, problems: list[str] | None = None, *, findings: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])
        self.findings = list(findings or [])


class EventDataError(PersonaError):
    """A business event's ``data`` does not match what the persona declared for it.

    ``fields`` names every field that is missing or of the wrong type; the service answers 422.
    """

    def __init__(self, message: str, *, fields: list[str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or []


class StoreUnavailable(PersonaError):
    """The store cannot be reached; the input was not processed and may be retried."""


class StoreLayoutError(PersonaError):
    """The store holds data in a layout this version does not read; the message names the command
    that converts it."""


class ConflictError(PersonaError):
    """Another input for the same customer committed first; reload and decide again."""


class MergeError(PersonaError):
    """Two customers cannot be linked or merged as asked (the message says why and what to do)."""


class HandlerError(PersonaError):
    """A bot's handler raised; the customer's state was left unchanged."""


class ProtocolError(PersonaError):
    """A WeChat/WeCom callback is malformed, hostile or wrongly signed.

    ``status`` is the HTTP status the service answers with.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ChannelError(PersonaError):
    """An outbound API call failed.

    ``retryable`` says whether the same message may be sent again later; ``code`` is the
    platform's errcode when there is one.
    """

    def __init__(self, message: str, *, code: int | None = None, retryable: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable


class AccountError(PersonaError):
    """A studio account cannot be created as asked (bad name, unknown role, short password)."""


class KnowledgeError(PersonaError):
    """A bot's ``faq.yaml`` or ``knowledge/`` is malformed (``file`` and ``line`` say where)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        super().__init__(f"{file}:{line}: {message}" if file and line else f"{file}: {message}" if file else message)
        self.file = file
        self.line = line
        self.detail = message


class ShapeError(PersonaError):
    """The store holds customers in states or with timers the persona no longer has, and no
    migration says where they go; the process refuses to start rather than strand them."""


class FormLinkError(PersonaError):
    """A link to a form is not one persona signed for this bot, form and customer (forged or
    altered), or it is past its expiry (``expired``); the page says so and nothing is kept."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired
