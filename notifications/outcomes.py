"""What sending answers, shared by the dispatcher, every channel and the email backends: one
Outcome per delivery, and the SendError a backend reports for one message it did not send. A leaf
module (it imports no other module of this app), so the channels, the email module and the
backends all import it and none of them imports another in a circle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Delivery


@dataclass
class Outcome:
    """What happened to one delivery: sent, skipped (with why), retry (transient error, maybe with
    the provider's retry-after), failed (permanent error) or wait (not attempted yet, until)."""

    delivery: Delivery
    status: str  # "sent", "skipped", "retry", "failed", "wait"
    error: str = ""
    provider_id: str = ""
    after: datetime | float | None = None  # wait: until when; retry: seconds the provider asked for
    recorded: bool = False  # the channel already wrote the delivery's final state itself


class SendError(Exception):
    """One message was not sent. `transient`: worth another try (`retry_after` seconds at least,
    when the provider said so); otherwise recorded as failed and not retried. `taken`: the provider
    already took another request under the same Idempotency-Key (so what that one held went)."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None, taken: bool = False):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
        self.taken = taken


class SendFailed(Exception):
    """Raised by a backend (unless fail_silently) when some messages of a batch were not sent;
    each of them carries its own `send_error`."""
