"""Email never doubled, with a real Celery worker on the real broker: Resend takes a batch but its
answer is lost, and the worker's next dispatch repeats that very request, whatever else is due."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import planning, tasks
from notifications.models import Delivery, DeliveryStatus
from sessions import lifecycle
from sessions.models import Status
from tests.fakes.resend_server import BATCH, LOST

pytestmark = [pytest.mark.celery_worker]


def in_worker(task):
    """What beat does: the task on the broker, run by the worker; its result."""
    return task.apply_async(ignore_result=False).get(timeout=60)


def test_a_batch_whose_answer_was_lost_is_sent_once_through_the_worker(worker, fake_resend, make_session, parent,
                                                                        coordinator, creator, tutor):
    """Issue 18 (the email provider failing: retried, never lost, never doubled)."""
    start = timezone.now() - timedelta(hours=3)
    finished = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                            checked_out_at=start + timedelta(hours=1))
    fake_resend.queue(LOST)
    lifecycle.dispute(finished, by=parent, reason="The tutor left after twenty minutes.", now=timezone.now())
    in_worker(tasks.dispatch_due)  # the solo worker runs in order: the commit hook's relay ran before
    (first,) = fake_resend.requests
    assert first.path == BATCH and sorted(e["to"][0] for e in fake_resend.sent) == sorted(
        [coordinator.email, creator.email, tutor.email])
    lost = Delivery.objects.filter(channel="email", status=DeliveryStatus.PENDING)
    assert lost.count() == 3
    # the backoff has passed, and a session's reminders are due beside the retry
    lost.update(next_attempt_at=timezone.now())
    make_session(start=timezone.now() + timedelta(minutes=50))
    assert planning.plan()
    in_worker(tasks.dispatch_due)
    key = first.headers["idempotency-key"]
    assert [r.body for r in fake_resend.requests if r.headers["idempotency-key"] == key] == [first.body] * 2
    emails = Delivery.objects.filter(channel="email")
    assert {d.status for d in emails} == {DeliveryStatus.SENT}
    assert sorted(d.provider_id for d in emails) == sorted(e["id"] for e in fake_resend.sent)  # each once
    assert len(fake_resend.sent) == emails.count() == 3 + emails.filter(kind__startswith="reminder").count()
