"""The sweeps and notifications in a real Celery worker on the real broker (Redis)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import tasks as notifications_tasks
from notifications.models import Notification
from sessions import lifecycle, tasks
from sessions.models import Session, Status


@pytest.mark.celery_worker
def test_the_sweeps_run_in_a_real_worker(worker, make_session, parent, tutor, reasons):
    """L40 L43: beat's tasks, executed by a worker, expire due threads and mark no-shows."""
    now = timezone.now()
    expiring = make_session(start=now - timedelta(minutes=5))
    lifecycle.propose_reschedule(expiring, by=parent, proposed_start=now + timedelta(days=3),
                                 reason_id=reasons[("parent", "reschedule")].id, now=now - timedelta(days=2))
    missed = make_session(start=now - timedelta(days=3))

    assert tasks.expire_reschedules.apply_async(ignore_result=False).get(timeout=60) == 1
    assert tasks.mark_no_shows.apply_async(ignore_result=False).get(timeout=60) >= 1
    assert tasks.expire_reschedules.apply_async(ignore_result=False).get(timeout=60) == 0
    expiring.refresh_from_db()
    missed.refresh_from_db()
    assert (expiring.status, missed.status) == (Status.NOT_COMPLETED, Status.NO_SHOW)


@pytest.mark.celery_worker
def test_notifications_are_sent_by_the_worker_after_commit(worker, make_session, parent, tutor, reasons):
    now = timezone.now()
    s = make_session(start=now + timedelta(days=3))
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=now + timedelta(days=4),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=now)
    event_id = s.events.get().id
    # the on-commit task already notified once; a retry (same event) sends nothing again
    # (the task queued before the outbox, under its old name: notifications.tasks.notify_events)
    legacy = notifications_tasks.notify_events
    assert legacy.name == "sessions.tasks.notify_events"
    assert legacy.apply_async([[event_id]], ignore_result=False).get(timeout=60) == 0
    assert Notification.objects.filter(recipient=parent, event_id=event_id).count() == 1
    assert Session.objects.get(pk=s.pk).status == Status.SCHEDULED
