"""Email: the message of a delivery as plain text and HTML, with a one-click unsubscribe
(RFC 8058) on reminders, sent through Django's mail API (the Resend backend in production).

A backend that batches (`reports_each_message = True`: the Resend backend) gets every message at
once and tells what happened to each by setting attributes on it: `provider_id` when sent,
`send_error` (a SendError) when not. Any other backend (SMTP, locmem, the keep-locally one) gets
them one at a time: a message that raised nothing was sent, one that raised is retried.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

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
    with timezone.override(recipient.tzinfo):  # any time a template shows is in the recipient's zone
        body = render_to_string("notifications/email/message.txt", context)
        html = render_to_string("notifications/email/message.html", context)
    email = EmailMultiAlternatives(subject=message.title, body=body, to=[recipient.email])
    email.attach_alternative(html, "text/html")
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
    failures: dict[int, Exception] = {}
    try:
        with mailers.default as connection:
            if getattr(connection, "reports_each_message", False):
                try:
                    connection.send_messages([email for _, email in emails])  # batched by the backend
                except SendFailed:
                    pass  # each message carries its own error
            else:
                # a backend that cannot say which messages of a batch went (SMTP stops at the first
                # failure) gets them one at a time, so a retry never repeats one that was sent
                for delivery, email in emails:
                    try:
                        connection.send_messages([email])
                    except Exception as exc:  # noqa: BLE001 - this message's failure
                        failures[delivery.id] = exc
    except Exception as exc:  # noqa: BLE001 - the connection itself failed (SMTP down, network)
        log.warning("sending %d emails failed: %s", len(emails), exc)
        failures = {d.id: exc for d, e in emails if not getattr(e, "provider_id", "") and d.id not in failures}
    for delivery, email in emails:
        error = getattr(email, "send_error", None)
        if error is not None:
            outcomes.append(Outcome(delivery, "retry" if error.transient else "failed", error=str(error),
                                    after=error.retry_after))
        elif delivery.id in failures:
            exc = failures[delivery.id]
            # a message that cannot even be written (a header with a line break) fails for good;
            # anything else (the server, the network) is worth another try
            outcomes.append(Outcome(delivery, "failed" if isinstance(exc, ValueError | UnicodeError) else "retry",
                                    error=f"{type(exc).__name__}: {exc}"))
        else:
            outcomes.append(Outcome(delivery, "sent", provider_id=getattr(email, "provider_id", "")))
    return outcomes
