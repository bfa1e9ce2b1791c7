"""Email: the message of a delivery as plain text and HTML, with a one-click unsubscribe
(RFC 8058) on reminders, sent through Django's mail API (the Resend backend in production).

Backends tell this module what happened to each message of a batch by setting attributes on it:
`provider_id` when sent, `send_error` (a SendError) when not. A backend that sets neither and
raises nothing sent the message (locmem, SMTP); one that raises failed the whole batch for a
reason worth retrying.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse

from .channels import Outcome
from .kinds import KINDS, Message
from .models import Channel, Topic
from .texts import absolute

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


class SendError(Exception):
    """One message was not sent. `transient`: worth another try (`retry_after` seconds at least,
    when the provider said so); otherwise recorded as failed and not retried."""

    def __init__(self, message: str, *, transient: bool, retry_after: float | None = None):
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class SendFailed(Exception):
    """Raised by a backend (unless fail_silently) when some messages of a batch were not sent;
    each of them carries its own `send_error`."""


def unsubscribe_token(user_id: int, topic: str, channel: str = Channel.EMAIL) -> str:
    return signing.dumps({"u": user_id, "t": topic, "c": channel}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> dict | None:
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") not in Topic.values or data.get("c") not in Channel.values:
        return None
    return data


def unsubscribe_url(user_id: int, topic: str) -> str:
    return absolute(reverse("notifications-unsubscribe", args=[unsubscribe_token(user_id, topic)]))


def build(delivery, message: Message) -> EmailMultiAlternatives:
    """The email of one delivery: both parts from the same message, every link absolute."""
    recipient = delivery.recipient
    kind = KINDS[delivery.kind]
    unsubscribe = unsubscribe_url(recipient.id, kind.topic) if kind.unsubscribe else ""
    context = {
        "recipient": recipient,
        "message": message,
        "link": absolute(message.url),
        "topic": Topic(kind.topic).label,
        "preferences": absolute(reverse("notifications-preferences")),
        "unsubscribe": unsubscribe,
        "site": settings.SITE_URL,
    }
    email = EmailMultiAlternatives(
        subject=message.title,
        body=render_to_string("notifications/email/message.txt", context),
        to=[recipient.email],
    )
    email.attach_alternative(render_to_string("notifications/email/message.html", context), "text/html")
    if unsubscribe:
        email.extra_headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        email.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # the provider drops a repeat of this delivery (a send retried after a crash) within a day
    email.idempotency_key = f"delivery-{delivery.id}"
    return email


def send_all(items: list) -> list[Outcome]:
    """Send the emails of (delivery, message) pairs in one go (the backend batches them) and
    answer one outcome each."""
    outcomes, emails = [], []
    for delivery, message in items:
        try:
            emails.append((delivery, build(delivery, message)))
        except Exception as exc:  # noqa: BLE001 - a template error is this delivery's, not the batch's
            log.exception("could not build the email of delivery %s", delivery.id)
            outcomes.append(Outcome(delivery, "failed", error=f"the email could not be written: {exc}"))
    if not emails:
        return outcomes
    batch_error = None
    try:
        with mailers.default as connection:
            connection.send_messages([email for _, email in emails])
    except SendFailed:
        pass  # each message carries its own error
    except Exception as exc:  # noqa: BLE001 - the backend failed the whole batch (SMTP down, network)
        log.warning("sending %d emails failed: %s", len(emails), exc)
        batch_error = exc
    for delivery, email in emails:
        error = getattr(email, "send_error", None)
        if error is not None:
            outcomes.append(Outcome(delivery, "retry" if error.transient else "failed", error=str(error),
                                    after=error.retry_after))
        elif batch_error is not None and not getattr(email, "provider_id", ""):
            outcomes.append(Outcome(delivery, "retry", error=f"{type(batch_error).__name__}: {batch_error}"))
        else:
            outcomes.append(Outcome(delivery, "sent", provider_id=getattr(email, "provider_id", "")))
    return outcomes
