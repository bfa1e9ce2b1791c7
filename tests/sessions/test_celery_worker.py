"""The sweeps and notifications in a real Celery worker on the real broker (Redis)."""

from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.utils import timezone

from sessions import lifecycle, tasks
from sessions.models import Session, Status
from tutoring.celery import app
from tutoring.models import Notification

# All worker tests share one xdist process (make test runs --dist loadgroup): two test processes
# each running a worker on the same broker queue would execute each other's tasks.
pytestmark = pytest.mark.xdist_group("celery-broker")


@pytest.fixture
def worker(settings, transactional_db):
    """A worker thread consuming from the configured broker, with results in Redis so the test can
    wait on them (no sleeps)."""
    app.conf.task_always_eager = False
    app.conf.result_backend = app.conf.broker_url
    app.conf.task_ignore_result = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        app.conf.task_always_eager = True
        app.conf.task_ignore_result = True
        app.conf.result_backend = None


@pytest.mark.celery_worker
def test_the_sweeps_run_in_a_real_worker(worker, make_session, parent, tutor, reasons):
    """L40 L43: beat's tasks, executed by a worker, expire due threads and mark no-shows."""
    now = timezone.now()
    expiring = make_session(start=now - timedelta(minutes=5))
    lifecycle.propose_reschedule(expiring, by=parent, proposed_start=now + timedelta(days=3),
                                 reason_id=reasons[("parent", "reschedule")].id, now=now - timedelta(days=2))
    missed = make_session(start=now - timedelta(days=3))

    assert tasks.expire_reschedules.delay().get(timeout=60) == 1
    assert tasks.mark_no_shows.delay().get(timeout=60) >= 1
    assert tasks.expire_reschedules.delay().get(timeout=60) == 0
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
    assert tasks.notify_events.delay([event_id]).get(timeout=60) == 0  # already sent once on commit
    assert Notification.objects.filter(recipient=parent, event_id=event_id).count() == 1
    assert Session.objects.get(pk=s.pk).status == Status.SCHEDULED
