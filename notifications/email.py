"""Email: the message of a delivery as plain text and HTML, with a one-click unsubscribe
(RFC 8058) on reminders, sent through Django's mail API (the Resend backend in production).

A backend that batches (`reports_each_message = True`: the Resend backend) gets requests this
module forms and keeps (EmailBatch: the emails and their Idempotency-Key) and answers each email's
id or its SendError (outcomes.py); a retry repeats the kept request (send_all). Any other backend
(SMTP, locmem, the keep-locally one) gets the messages one at a time: a message that raised nothing
was sent, one that raised is retried.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import connection as db
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .backends import BATCH_MAX
from .kinds import KINDS, Message
from .models import Channel, Delivery, DeliveryStatus, EmailBatch, Topic
from .outcomes import Outcome, SendError
from .texts import absolute

log = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"


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
    return email


# Resend keeps an Idempotency-Key 24 hours: a kept batch younger than this is repeated on a retry,
# an older one (only "send again" in the admin comes that late) is written and sent anew
KEY_KEPT = timedelta(hours=23)


def send_all(items: list, now=None) -> list[Outcome]:
    """Send the emails of (delivery, message) pairs in one go and answer one outcome each.

    With a backend that batches (Resend), each request is formed once and kept before it is sent
    (an EmailBatch: the emails as sent and their Idempotency-Key, each delivery pointing at its
    place in it). A delivery that comes back for another try (its message is None: the dispatcher
    did not write it again) is sent by repeating its batch's very request, so Resend answers the
    first answer if it took it, and the email never goes twice, whatever else is due now; the
    emails of its members skipped since (the dispatcher asked their readers again) are left out."""
    now = now or timezone.now()
    outcomes, emails, kept = [], [], []
    for delivery, message in items:
        if message is None:
            kept.append(delivery)
            continue
        try:
            emails.append((delivery, build(delivery, message)))
        except Exception as exc:  # noqa: BLE001 - a template error is this delivery's, not the batch's
            log.exception("could not build the email of delivery %s", delivery.id)
            outcomes.append(Outcome(delivery, "failed", error=f"the email could not be written: {exc}"))
    if not emails and not kept:
        return outcomes
    mailer = mailers.default
    if getattr(mailer, "reports_each_message", False):
        # an error outside Resend's answers (the database) reaches the dispatcher: all retried
        return outcomes + _send_batches(mailer, emails, kept, now)
    failures: dict[int, Exception] = {}
    try:
        with mailer as connection:
            for delivery in kept:  # batched by Resend, which is no longer the backend
                outcomes.append(Outcome(delivery, "failed", error="it went to Resend in a batch, and Resend is no "
                                                                  "longer configured: send it again to rewrite it"))
            _forget_batches([d.id for d in kept])
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
        if delivery.id in failures:
            exc = failures[delivery.id]
            # a message that cannot even be written (a header with a line break) fails for good;
            # anything else (the server, the network) is worth another try
            outcomes.append(Outcome(delivery, "failed" if isinstance(exc, ValueError | UnicodeError) else "retry",
                                    error=f"{type(exc).__name__}: {exc}"))
        else:
            outcomes.append(Outcome(delivery, "sent", provider_id=getattr(email, "provider_id", "")))
    return outcomes


def _send_batches(mailer, emails: list, kept: list, now) -> list[Outcome]:
    """Form the new emails into batches (kept before anything is sent), then send every batch:
    the new ones and, once each, those the retried deliveries were in. Only the deliveries handed
    in are answered; another member of a repeated batch gets its answer when its own turn comes
    (Resend answers the same request the same way)."""
    requests: dict[int, EmailBatch] = {}
    members: dict[int, list] = {}  # batch id: [(delivery, index)]
    for start in range(0, len(emails), BATCH_MAX):
        chunk = emails[start:start + BATCH_MAX]
        batch = _form([d for d, _ in chunk], [mailer.params(e) for _, e in chunk], now)
        requests[batch.id] = batch
        members[batch.id] = [(d, index) for index, (d, _) in enumerate(chunk)]
    for batch in EmailBatch.objects.filter(pk__in={d.email_batch_id for d in kept}):
        requests[batch.id] = batch
    for delivery in kept:
        members.setdefault(delivery.email_batch_id, []).append((delivery, delivery.email_index))
    left = _skipped_members(kept)
    outcomes, refused = [], []
    for batch_id, batch_members in members.items():
        batch = requests.get(batch_id)
        payload = json.loads(batch.payload) if batch else []
        places = [i for i in range(len(payload)) if (batch_id, i) not in left]
        results = mailer.send_request([payload[i] for i in places], batch.key) if places else []
        if len(places) < len(payload):
            results = _in_kept_places(results, places, len(payload))
        for delivery, index in batch_members:
            result = results[index] if index is not None and 0 <= index < len(results) else \
                SendError("its batch was lost", transient=False)
            if isinstance(result, SendError):
                outcomes.append(Outcome(delivery, "retry" if result.transient else "failed", error=str(result),
                                        after=result.retry_after))
                if not result.transient:
                    refused.append(delivery.id)  # not sent: "send again" writes it anew
            else:
                outcomes.append(Outcome(delivery, "sent", provider_id=result))
    _forget_batches(refused)
    return outcomes


def _skipped_members(kept: list) -> set[tuple[int, int]]:
    """(batch, place) of the emails in the kept batches whose delivery was skipped since (its reader
    opted out, the session was cancelled): a repeat leaves them out, for the request was perhaps
    never taken (a 5xx) and would send them now."""
    return set(Delivery.objects.filter(email_batch__in={d.email_batch_id for d in kept},
                                       status=DeliveryStatus.SKIPPED).values_list("email_batch_id", "email_index"))


def _in_kept_places(results: list, places: list[int], size: int) -> list:
    """The answers of a batch repeated without some of its emails, at their places in the kept batch.
    The same key with fewer emails is another request: if Resend took the first (409
    invalid_idempotent_request: it remembers the key), everything in it went then (the ids are in
    that lost answer)."""
    if results and all(isinstance(r, SendError) and r.taken for r in results):
        results = [""] * len(results)
    answers = [SendError("left out of the repeated batch", transient=False)] * size
    for place, result in zip(places, results, strict=True):
        answers[place] = result
    return answers


_JOIN = """
UPDATE notifications_delivery
SET email_batch_id = %(batch)s, email_index = array_position(%(ids)s::bigint[], id) - 1
WHERE id = ANY(%(ids)s::bigint[])
"""


def _form(deliveries: list, payload: list[dict], now) -> EmailBatch:
    """Keep a batch (its emails exactly as they will be sent and a key of its own) and point its
    deliveries at their places in it, committed before the request goes."""
    with transaction.atomic():
        batch = EmailBatch.objects.create(key=f"emails-{uuid.uuid4()}", payload=json.dumps(payload), created_at=now)
        with db.cursor() as cursor:
            cursor.execute(_JOIN, {"batch": batch.id, "ids": [d.id for d in deliveries]})
    for index, delivery in enumerate(deliveries):
        delivery.email_batch_id, delivery.email_index = batch.id, index
    return batch


def _forget_batches(delivery_ids: list[int]) -> None:
    if delivery_ids:
        Delivery.objects.filter(pk__in=delivery_ids).update(email_batch=None, email_index=None)


def forget_old_batches(now=None) -> int:
    """Drop kept batches Resend no longer remembers (two days old: nothing repeats them any more,
    see KEY_KEPT); their deliveries keep their state. Beat's dispatch_due calls this."""
    now = now or timezone.now()
    deleted, _ = EmailBatch.objects.filter(created_at__lt=now - timedelta(days=2)).delete()
    return deleted
