"""Email through Resend: the real `resend` SDK against a fake of Resend's HTTP API that checks what
Resend checks. Plain text and HTML, the key in the header, subjects that fit, the one-click
unsubscribe header on reminders, batches, and what happens on each kind of error."""

import json
import threading
from datetime import timedelta

import pytest
from django.core import mail

from notifications.backends import ResendBackend
from notifications.models import Delivery, DeliveryStatus, EmailBatch, Notification
from sessions import lifecycle
from tests.conftest import NOW, make_user
from tests.fakes.resend_server import BATCH, EMAILS, LOST, error, rate_limited, server_error
from tutoring.models import Role

from .conftest import inbox, sweep


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def dispute(awaiting, parent, reason="The tutor left after 20 minutes."):
    lifecycle.dispute(awaiting, by=parent, reason=reason, now=NOW)


def test_a_notice_reaches_resend_with_the_key_both_parts_and_an_idempotency_key(fake_resend, awaiting, parent,
                                                                              coordinator, settings):
    settings.DEFAULT_FROM_EMAIL = "Tutoring <no-reply@tutoring.example.com>"
    settings.SITE_URL = "https://tutoring.example.com"
    Delivery.objects.all().delete()
    dispute(awaiting, parent)
    sweep(NOW)
    # coordinator and creator: two emails in one batch request
    (request,) = fake_resend.requests
    assert request.path == BATCH
    assert request.headers["authorization"] == f"Bearer {fake_resend.api_key}"
    assert request.headers["x-batch-validation"] == "permissive"
    assert request.headers["idempotency-key"].startswith("emails-")
    email = next(e for e in request.body if e["to"] == [coordinator.email])
    assert email["from"] == "Tutoring <no-reply@tutoring.example.com>"
    assert email["subject"] == "Dispute: Sam's session with Tia on Sun 15 Nov"
    assert "Hello Coco," in email["text"] and "“The tutor left after 20 minutes.”" in email["text"]
    assert (f"Review the dispute: https://tutoring.example.com/admin/tutoring_sessions/session/{awaiting.id}/change/"
            in email["text"])
    assert "<blockquote" in email["html"] and "Review the dispute</a>" in email["html"]
    assert "List-Unsubscribe" not in email.get("headers", {})  # only reminders carry it
    sent = {e["to"][0]: e["id"] for e in fake_resend.sent}
    coco = Delivery.objects.get(recipient=coordinator, channel="email")
    assert (coco.status, coco.attempts, coco.provider_id) == (DeliveryStatus.SENT, 1, sent[coordinator.email])


def test_one_email_goes_alone_with_its_own_idempotency_key(fake_resend, awaiting, parent, tutor):
    lifecycle.acknowledge(awaiting, by=parent, now=NOW)
    sweep(NOW)
    (request,) = fake_resend.requests
    delivery = Delivery.objects.get(recipient=tutor, channel="email")
    assert request.path == EMAILS and request.headers["idempotency-key"] == delivery.email_batch.key
    assert json.loads(delivery.email_batch.payload) == [request.body] and delivery.email_index == 0


def test_reminders_carry_a_one_click_unsubscribe(fake_resend, make_session, tutor, settings):
    """R16 R02: the reminder reaches Resend with a link into the room, and (RFC 8058) a
    List-Unsubscribe with an https link to a POST endpoint, and List-Unsubscribe-Post."""
    settings.SITE_URL = "https://tutoring.example.com"
    make_session(start=NOW + timedelta(hours=1))
    sweep(NOW)
    email = next(e for e in fake_resend.sent if e["to"] == [tutor.email])
    assert f"https://tutoring.example.com/session/{Delivery.objects.filter(channel='email').first().session_id}/" \
        in email["text"]
    link = email["headers"]["List-Unsubscribe"]
    assert link.startswith("<https://tutoring.example.com/notifications/unsubscribe/") and link.endswith("/>")
    assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.strip("<>") in email["text"] and "Stop these emails" in email["html"]


def test_an_email_failure_is_retried_without_a_second_in_app_notice(fake_resend, awaiting, parent, coordinator,
                                                                    creator, settings):
    """Resend answers 500: the in-app notice is there at once and stays single; the email is tried
    again after the backoff and then sent."""
    creator.is_active = False
    creator.save()
    fake_resend.queue(server_error())
    dispute(awaiting, parent)
    sweep(NOW)
    email = Delivery.objects.get(recipient=coordinator, channel="email")
    assert (email.status, email.attempts) == (DeliveryStatus.PENDING, 1)
    assert email.last_error.startswith("Resend 500 application_error")
    assert email.next_attempt_at == NOW + timedelta(minutes=1)
    assert len(inbox(coordinator)) == 1 and fake_resend.sent == []
    sweep(NOW + timedelta(seconds=30))  # not due yet
    assert len(fake_resend.requests) == 1
    sweep(NOW + timedelta(minutes=1))
    email.refresh_from_db()
    assert (email.status, email.attempts) == (DeliveryStatus.SENT, 2)
    assert len(fake_resend.sent) == 2 and len(inbox(coordinator)) == 1  # the coordinator's and the tutor's
    assert Notification.objects.count() == 2


def test_backoff_doubles_is_capped_and_gives_up_after_the_last_attempt(fake_resend, awaiting, parent,
                                                                       coordinator, creator, settings):
    settings.NOTIFY_MAX_ATTEMPTS, settings.NOTIFY_RETRY_MAX_MINUTES = 5, 4
    creator.is_active = False
    creator.save()
    fake_resend.queue(*[server_error()] * 5)
    dispute(awaiting, parent)
    moment, waits = NOW, []
    for _ in range(5):
        sweep(moment)
        email = Delivery.objects.get(recipient=coordinator, channel="email")
        if email.status != DeliveryStatus.PENDING:
            break
        waits.append(email.next_attempt_at - moment)
        moment = email.next_attempt_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 4)]
    assert email.status == DeliveryStatus.FAILED and email.attempts == 5
    assert email.last_error.startswith("gave up after 5 attempts: Resend 500")


def test_a_rate_limit_waits_at_least_what_resend_asks(fake_resend, awaiting, parent, coordinator, creator):
    creator.is_active = False
    creator.save()
    fake_resend.queue(rate_limited(retry_after=300))
    dispute(awaiting, parent)
    sweep(NOW)
    email = Delivery.objects.get(recipient=coordinator, channel="email")
    assert email.status == DeliveryStatus.PENDING and email.next_attempt_at == NOW + timedelta(seconds=300)
    assert "429 rate_limit_exceeded" in email.last_error


def test_a_refused_address_fails_for_good_at_once_and_the_batch_goes_on(fake_resend, awaiting, parent,
                                                                        coordinator, creator, tutor):
    """Permissive batch validation: Resend refuses one address, the other email goes."""
    creator.email = "not-an-address@localhost"  # Django accepts it; Resend wants a dotted domain
    creator.save()
    dispute(awaiting, parent)
    sweep(NOW)
    bad = Delivery.objects.get(recipient=creator, channel="email")
    assert (bad.status, bad.attempts) == (DeliveryStatus.FAILED, 1)
    assert bad.last_error == "Resend refused it: Invalid `to` field. The email address needs to follow the " \
                             "`email@example.com` or `Name <email@example.com>` format."
    assert sorted(e["to"] for e in fake_resend.sent) == sorted([[coordinator.email], [tutor.email]])
    sweep(NOW + timedelta(hours=2))
    assert len(fake_resend.requests) == 1  # not retried


def test_a_wrong_key_is_a_permanent_failure(fake_resend, settings, awaiting, parent, coordinator):
    settings.MAILERS = fake_resend.mailers(api_key="re_wrong")
    dispute(awaiting, parent)
    sweep(NOW)
    assert {d.last_error for d in Delivery.objects.filter(channel="email")} == {
        "Resend 403 invalid_api_key: API key is invalid"}
    assert {d.status for d in Delivery.objects.filter(channel="email")} == {DeliveryStatus.FAILED}


def test_the_backend_sends_through_djangos_mail_api_and_raises_on_failure(fake_resend):
    """Password resets and other plain Django mail go through the same backend."""
    from django.core.mail import send_mail

    assert send_mail("Reset your password", "Open this link.", None, ["pat@example.test"]) == 1
    assert fake_resend.sent[0]["subject"] == "Reset your password"
    assert fake_resend.sent[0]["text"] == "Open this link." and "html" not in fake_resend.requests[0].body
    fake_resend.queue(error(422, "validation_error", "Invalid `to` field."))
    with pytest.raises(Exception, match="Invalid `to` field"):
        send_mail("Again", "Body", None, ["pat@example.test"])


def test_a_repeated_request_with_the_same_key_is_not_sent_twice(fake_resend):
    """A send retried after a timeout carries the same Idempotency-Key: Resend answers the first
    answer again."""
    backend = ResendBackend(api_key=fake_resend.api_key, api_url=fake_resend.url)
    first, again = (mail.EmailMessage("Hello", "Body", "a@example.test", ["b@example.test"]) for _ in range(2))
    first.idempotency_key = again.idempotency_key = "delivery-42"
    backend.send_messages([first])
    backend.send_messages([again])
    assert first.provider_id == again.provider_id and len(fake_resend.sent) == 1


def test_a_network_failure_is_retried(settings, awaiting, parent, coordinator):
    settings.MAILERS = {"default": {"BACKEND": "notifications.backends.ResendBackend",
                                    "OPTIONS": {"api_key": "re_x", "api_url": "http://127.0.0.1:9", "timeout": 2}}}
    dispute(awaiting, parent)
    sweep(NOW)
    email = Delivery.objects.get(recipient=coordinator, channel="email")
    assert email.status == DeliveryStatus.PENDING and "HttpClientError" in email.last_error


def test_many_emails_go_in_batches_of_at_most_a_hundred(fake_resend, make_session, tutor):
    others = [make_user(f"kid{i}", Role.STUDENT) for i in range(150)]
    for i, kid in enumerate(others):
        make_session(start=NOW + timedelta(minutes=30, seconds=i), student=kid,
                     tutor=make_user(f"t{i}", Role.TUTOR))
    sweep(NOW)
    assert all(r.path == BATCH and 2 <= len(r.body) <= 100 for r in fake_resend.requests)
    assert len(fake_resend.requests) <= 6  # 300 emails in claims of 200 deliveries (in-app ones among them)
    assert len(fake_resend.sent) == 300 == Delivery.objects.filter(channel="email", status="sent").count()


def test_a_backend_that_cannot_say_which_messages_went_sends_them_one_at_a_time(awaiting, parent, coordinator,
                                                                               creator, tutor):
    """SMTP stops at the first failure of a batch: each message goes on its own, so one that fails
    is dealt with alone and the ones that went are not sent again (here Django's locmem backend and
    an address its header checks refuse: a message that cannot be written fails for good)."""
    creator.email = "cleo@example.test\nBcc: everyone@example.test"
    creator.save()
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    sweep(NOW)
    assert sorted(m.to for m in mail.outbox) == sorted([[coordinator.email], [tutor.email]])
    assert Delivery.objects.get(recipient=coordinator, channel="email").status == DeliveryStatus.SENT
    bad = Delivery.objects.get(recipient=creator, channel="email")
    assert bad.status == DeliveryStatus.FAILED and "may not contain linefeed" in bad.last_error
    sweep(NOW + timedelta(hours=1))
    assert len(mail.outbox) == 2  # the coordinator's and the tutor's emails did not go again


def test_a_retried_batch_is_the_same_request_so_resend_never_sends_it_twice(fake_resend, awaiting, parent,
                                                                           coordinator, creator, make_session):
    """Issue 18 (the email provider failing: never doubled). Resend takes a batch and sends it, but
    its answer is lost (the connection drops). By the retry, reminders have become due as well and
    are claimed with it, and a name in the email has changed: the retry repeats the first request
    exactly (same key, same body, so Resend answers its first answer and sends nothing) and the
    reminders go in a batch of their own. Each person gets each email once."""
    fake_resend.queue(LOST)
    dispute(awaiting, parent)  # the coordinator, the creator and the session's tutor: one batch
    sweep(NOW)
    (first,) = fake_resend.requests
    key = first.headers["idempotency-key"]
    assert first.path == BATCH and len(fake_resend.sent) == 3  # Resend sent all three; we never heard
    lost = list(Delivery.objects.filter(channel="email").order_by("id"))
    assert {(d.status, d.provider_id, d.email_batch.key) for d in lost} == {(DeliveryStatus.PENDING, "", key)}
    retry_at = NOW + timedelta(minutes=1)
    make_session(start=retry_at + timedelta(minutes=50))  # its reminders are due at the retry
    creator.first_name = "Renamed"  # a new rendering would differ; the kept request does not
    creator.save()
    sweep(retry_at)
    repeats = [r for r in fake_resend.requests[1:] if r.headers["idempotency-key"] == key]
    assert len(repeats) == 1 and repeats[0].body == first.body and repeats[0].path == BATCH
    reminders = Delivery.objects.filter(channel="email", kind__startswith="reminder")
    assert reminders.count() >= 2 and {d.email_batch.key for d in reminders} != {key}
    assert len(fake_resend.sent) == 3 + reminders.count()  # nothing went twice
    sent = [(e["to"][0], e["subject"]) for e in fake_resend.sent]
    assert len(sent) == len(set(sent))
    ids = {e["to"][0]: e["id"] for e in fake_resend.sent[:3]}
    for d in Delivery.objects.filter(pk__in=[d.pk for d in lost]).select_related("recipient"):
        assert (d.status, d.attempts, d.provider_id) == (DeliveryStatus.SENT, 2, ids[d.recipient.email])
    assert EmailBatch.objects.count() == 2


def test_a_refused_email_leaves_its_batch_so_send_again_writes_it_anew(fake_resend, awaiting, parent,
                                                                       coordinator):
    """A request Resend refused (here a wrong key, 403) sent nothing and is not remembered by
    Resend: the deliveries leave the batch, and the admin's send again forms a new one."""
    fake_resend.queue(error(403, "invalid_api_key", "API key is invalid"))
    dispute(awaiting, parent)
    sweep(NOW)
    failed = Delivery.objects.filter(channel="email")
    assert {(d.status, d.email_batch_id) for d in failed} == {(DeliveryStatus.FAILED, None)}
    failed.update(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=NOW)
    sweep(NOW)
    assert fake_resend.requests[1].headers["idempotency-key"] != fake_resend.requests[0].headers["idempotency-key"]
    assert {d.status for d in Delivery.objects.filter(channel="email")} == {DeliveryStatus.SENT}


def test_resend_remembers_a_key_with_its_request(fake_resend, time_machine):
    """What the fake checks, as Resend does: the same key and request answer the first answer and
    send nothing; the same key with another request is a 409; a key is forgotten after 24 hours."""
    backend = ResendBackend(api_key=fake_resend.api_key, api_url=fake_resend.url)
    emails = [{"from": "a@example.test", "to": [f"b{i}@example.test"], "subject": "Hi", "text": "Body"}
              for i in range(2)]
    first = backend.send_request(emails, "emails-1")
    assert backend.send_request(emails, "emails-1") == first and len(fake_resend.sent) == 2
    (other,) = set(backend.send_request(emails[:1] + [{**emails[1], "subject": "Hi!"}], "emails-1"))
    assert str(other) == ("Resend 409 invalid_idempotent_request: Same idempotency key used with a different "
                          "request payload.") and not other.transient
    assert len(fake_resend.sent) == 2
    time_machine.move_to(NOW + timedelta(hours=24), tick=False)  # Resend keeps a key 24 hours
    assert backend.send_request(emails, "emails-1") != first and len(fake_resend.sent) == 4


def test_kept_batches_are_dropped_once_resend_has_forgotten_them(fake_resend, awaiting, parent, coordinator):
    """Beat's dispatch_due drops kept requests two days old; the deliveries keep their state."""
    from notifications import email

    dispute(awaiting, parent)
    sweep(NOW)
    sent = Delivery.objects.get(recipient=coordinator, channel="email")
    assert sent.email_batch_id and EmailBatch.objects.count() == 1
    assert email.forget_old_batches(NOW + timedelta(days=1)) == 0
    assert email.forget_old_batches(NOW + timedelta(days=2, minutes=1)) == 1
    sent.refresh_from_db()
    assert (sent.status, sent.email_batch_id) == (DeliveryStatus.SENT, None)
    assert sent.provider_id == next(e["id"] for e in fake_resend.sent if e["to"] == [coordinator.email])


def test_a_key_in_progress_is_a_409_that_is_tried_again(fake_resend):
    """Two workers repeat one kept batch at once (each claimed one of its deliveries): Resend
    answers the second 409 concurrent_idempotent_requests while the first is in progress, which is
    worth another try; that try gets the first answer. Sent once."""
    backend = ResendBackend(api_key=fake_resend.api_key, api_url=fake_resend.url)
    emails = [{"from": "a@example.test", "to": [f"b{i}@example.test"], "subject": "Hi", "text": "Body"}
              for i in range(2)]
    hold, first = fake_resend.hold(), []
    worker = threading.Thread(target=lambda: first.extend(backend.send_request(emails, "emails-2")))
    worker.start()
    assert hold.entered.wait(10)
    (busy,) = set(backend.send_request(emails, "emails-2"))
    assert str(busy).startswith("Resend 409 concurrent_idempotent_requests") and busy.transient
    hold.release()
    worker.join(10)
    assert backend.send_request(emails, "emails-2") == first and len(fake_resend.sent) == 2
