"""An email Resend did not take is retried only to a reader who still wants it: with a real Celery
worker on the real broker and the fake Resend, the first try fails, the reader switches the email
off on their settings page, and the retry sends them nothing and says why on their delivery; the
others of the same batch still get theirs, once."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from notifications import tasks
from notifications.models import Delivery, DeliveryStatus, Topic
from sessions import lifecycle
from sessions.models import Status
from tests.fakes.resend_server import BATCH, EMAILS, LOST, server_error

pytestmark = [pytest.mark.celery_worker]

OPTED_OUT = "turned off in the person's notification settings"


def in_worker(task):
    """What beat does: the task on the broker, run by the worker; its result."""
    return task.apply_async(ignore_result=False).get(timeout=60)


def switch_off_approval_emails(user):
    """On the person's own settings page: everything stays on but the approvals' emails."""
    browser = Client()
    browser.force_login(user)
    rows = browser.get("/notifications/preferences/").context["rows"]
    on = [c["field"] for row in rows for c in row["cells"] if c.get("field") and c["field"] != f"{Topic.APPROVALS}:email"]
    assert browser.post("/notifications/preferences/", {"on": on}).status_code == 303


def retry_due_now():
    """The backoff has passed (the worker reads the real clock)."""
    Delivery.objects.filter(channel="email", status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())


@pytest.fixture
def finished(make_session):
    start = timezone.now() - timedelta(hours=3)
    return make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))


def test_a_retry_sends_nothing_to_a_reader_who_opted_out_after_the_first_try(worker, fake_resend, finished,
                                                                             parent, tutor):
    """Issue 18 (the email provider failing: retried, never lost, never doubled): the opt-out is
    asked again before the retry, as before a first send."""
    fake_resend.queue(server_error())
    lifecycle.acknowledge(finished, by=parent, now=timezone.now())  # the tutor is told
    in_worker(tasks.dispatch_due)
    (first,) = fake_resend.requests
    assert first.path == EMAILS and fake_resend.sent == []
    (email,) = Delivery.objects.filter(channel="email", recipient=tutor)
    assert email.status == DeliveryStatus.PENDING and "Resend 500" in email.last_error

    switch_off_approval_emails(tutor)
    retry_due_now()
    in_worker(tasks.dispatch_due)

    assert fake_resend.requests == [first] and fake_resend.sent == []
    email.refresh_from_db()
    assert (email.status, email.last_error, email.attempts) == (DeliveryStatus.SKIPPED, OPTED_OUT, 2)
    assert Delivery.objects.get(channel="in_app", recipient=tutor).status == DeliveryStatus.SENT


def test_the_batch_is_repeated_without_the_email_of_whoever_opted_out(worker, fake_resend, finished, parent,
                                                                       tutor, coordinator, creator):
    """Issue 18: the coordinators, the creator and the tutor are told of a dispute in one batch;
    Resend fails it; the tutor opts out; the repeat (the same key) carries the two others only."""
    fake_resend.queue(server_error())
    lifecycle.dispute(finished, by=parent, reason="The tutor left after twenty minutes.", now=timezone.now())
    in_worker(tasks.dispatch_due)
    (first,) = fake_resend.requests
    assert first.path == BATCH and len(first.body) == 3 and fake_resend.sent == []

    switch_off_approval_emails(tutor)
    retry_due_now()
    in_worker(tasks.dispatch_due)

    second = fake_resend.requests[1]
    assert len(fake_resend.requests) == 2
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert second.body == [e for e in first.body if e["to"] != [tutor.email]]
    assert sorted(e["to"][0] for e in fake_resend.sent) == sorted([coordinator.email, creator.email])
    emails = {d.recipient_id: d for d in Delivery.objects.filter(channel="email")}
    assert (emails[tutor.id].status, emails[tutor.id].last_error) == (DeliveryStatus.SKIPPED, OPTED_OUT)
    assert sorted(emails[u.id].provider_id for u in (coordinator, creator)) == sorted(e["id"] for e in fake_resend.sent)
    assert {emails[u.id].status for u in (coordinator, creator)} == {DeliveryStatus.SENT}


def test_a_batch_resend_took_is_not_sent_again_when_a_reader_opted_out(worker, fake_resend, finished, parent,
                                                                        tutor, coordinator, creator):
    """Issue 18: Resend took the batch but its answer was lost; the tutor opts out; the repeat
    without the tutor's email is refused as another request under the same key, which tells that
    the first went: the two others are sent (once), the tutor's delivery says why it was not."""
    fake_resend.queue(LOST)
    lifecycle.dispute(finished, by=parent, reason="The tutor left after twenty minutes.", now=timezone.now())
    in_worker(tasks.dispatch_due)
    assert len(fake_resend.sent) == 3

    switch_off_approval_emails(tutor)
    retry_due_now()
    in_worker(tasks.dispatch_due)

    assert len(fake_resend.requests) == 2 and len(fake_resend.sent) == 3  # nothing went twice
    emails = {d.recipient_id: d for d in Delivery.objects.filter(channel="email")}
    assert (emails[tutor.id].status, emails[tutor.id].last_error) == (DeliveryStatus.SKIPPED, OPTED_OUT)
    assert {emails[u.id].status for u in (coordinator, creator)} == {DeliveryStatus.SENT}
