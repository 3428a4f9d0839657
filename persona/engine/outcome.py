"""What handling one input did (:class:`Outcome`), and the one passive reply a callback may
carry (:class:`ReplySlot`).

Both are the runtime's answer to whoever fed it the input: the webhook service turns them
into an HTTP answer, the scheduler and the broadcast command into counts, tests into asserts.
A retry of an input already handled gets the first outcome back, as a duplicate whose
:attr:`Outcome.first_status` says how the first attempt ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Callable

from .. import jsonwire
from ..model.customer import Customer
from .gate import Decision
from ..model.messages import Message


class Status(StrEnum):
    """How handling an input ended (the ``outcome`` label of ``persona_inputs_total``)."""

    DONE = "done"  # a handler ran
    UNHANDLED = "unhandled"  # no handler took it (or a timer was cancelled meanwhile)
    ERROR = "error"  # the handler raised: nothing it did was kept
    REFUSED = "refused"  # a business event's handler refused its data (EventDataError): nothing kept
    DUPLICATE = "duplicate"  # handled before: see first_status
    SKIPPED = "skipped"  # not for this bot's customers (staff, the platform itself): no record made


@dataclass
class Outcome:
    """What handling one input did."""

    status: Status
    passive: Message | None = None
    messages: list[tuple[Message, Decision]] = field(default_factory=list)
    transitions: list[tuple[str, str, str]] = field(default_factory=list)
    customer: Customer | None = None
    error: str | None = None
    #: for :attr:`Status.REFUSED`, the fields of the event's data the handler named
    fields: list[str] = field(default_factory=list)
    #: for a duplicate, how the first attempt ended
    first_status: Status | None = None

    def result(self) -> str:
        """What a retry of the same input is answered with (stored with the dedupe key)."""
        return jsonwire.dump({"s": self.status, "p": self.passive.to_dict() if self.passive else None})

    @classmethod
    def from_result(cls, raw: str) -> "Outcome":
        """The duplicate's outcome, from what :meth:`result` stored for the first attempt."""
        data = jsonwire.load(raw)
        passive = Message.from_dict(data["p"]) if data.get("p") else None
        return cls(status=Status.DUPLICATE, passive=passive, first_status=_status(data.get("s")))


def _status(value: object) -> Status | None:
    try:
        return Status(str(value))
    except ValueError:  # stored by a version that knew other statuses, or nothing stored
        return None


class SlotState(StrEnum):
    """Where the one passive reply of a callback stands."""

    OPEN = "open"  # nobody has decided yet
    CLAIMED = "claimed"  # the turn will answer in the HTTP response
    ABANDONED = "abandoned"  # the deadline passed: the HTTP response went out empty


class ReplySlot:
    """The one passive reply an HTTP callback may carry, agreed once between the HTTP handler
    (which gives up at its deadline) and the turn (which claims it just before committing)."""

    __slots__ = ("state", "accepts")

    def __init__(self, accepts: Callable[[Message], bool] | None = None) -> None:
        self.state = SlotState.OPEN
        #: whether the callback can carry this message as a passive reply (the protocol knows:
        #: an image needs an uploaded media_id, a WeCom system event cannot be answered...)
        self.accepts = accepts

    def claim(self, message: Message) -> bool:
        """The turn's reply goes in the HTTP response: True unless the deadline passed first."""
        if self.accepts is not None and not self.accepts(message):
            return False
        if self.state is SlotState.OPEN:
            self.state = SlotState.CLAIMED
        return self.state is SlotState.CLAIMED

    def abandon(self) -> bool:
        """The deadline passed: True if the turn had not claimed the reply (answer empty)."""
        if self.state is SlotState.OPEN:
            self.state = SlotState.ABANDONED
        return self.state is SlotState.ABANDONED
