"""persona: finite-state persona bots for WeChat and WeCom.

A bot is a :class:`Persona` subclass: states and transitions, handlers for messages, events
and timers, and Jinja2 scripts beside it. The runtime processes each input for one customer
atomically on a store (SQLite, Redis or memory), and every message passes the customer-respect
gate before it is delivered through WeChat's APIs.
"""

from . import compiled as _compiled

_compiled.install()  # before any compiled module is imported: PERSONA_PURE=1 or an edit not yet rebuilt

from .clock import Clock, FakeClock  # noqa: E402
from .model.customer import Customer
from .errors import (ChannelError, ConflictError, DefinitionError, EventDataError, FormLinkError, HandlerError,
                     PersonaError, ProtocolError, StoreUnavailable, TemplateError)
from .model.handlers import on
from .model.inputs import BusinessEvent, Input, MediaMessage, PlatformEvent, TextMessage, TimerFired
from .model.messages import Message
from .model.persona import Persona, Policy, load_persona
from .model.staffing import HandoffSpec
from .engine.outcome import Outcome, ReplySlot, Status
from .engine.runtime import Runtime
from .model.turn import Turn

__all__ = [
    "BusinessEvent", "ChannelError", "Clock", "ConflictError", "Customer", "DefinitionError",
    "EventDataError", "FakeClock", "FormLinkError", "HandlerError", "HandoffSpec", "Input", "MediaMessage", "Message", "Outcome", "Persona",
    "PersonaError", "PlatformEvent", "Policy", "ProtocolError", "ReplySlot", "Runtime",
    "Status", "StoreUnavailable", "TemplateError", "TextMessage", "TimerFired", "Turn", "load_persona", "on",
]
__version__ = "0.1.0"
