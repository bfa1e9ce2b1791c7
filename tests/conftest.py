"""The fixed cast used everywhere: a family (parent Pat with children Sam and Sue), tutor Tia,
creator Cleo with a course, coordinator Coco, and Otto the outsider (a parent and tutor of
other people) who gets 404 on everything and changes nothing."""

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection

from sessions.models import CancellationPolicy, ChangeReason, Session, Status
from tests.fakes.openai_server import FakeOpenAI
from tutoring.celery import app
from tutoring.models import Course, Enrollment, Guardianship, LessonPackage, Match, Role, User

pytest_plugins = ["tests.fakes.seaweedfs"]  # s3_server / s3_storage: a real S3 server on loopback

# A fixed "now" for tests that pass time explicitly: Monday 2026-11-16 10:00 UTC.
NOW = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def make_user(username, *roles, tz="UTC", **extra):
    return User.objects.create_user(username=username, password="pw", name=username.title(),
                                    email=f"{username}@example.test", roles=list(roles), time_zone=tz, **extra)


@pytest.fixture
def parent(db):
    return make_user("pat", Role.PARENT, tz="Europe/London")


@pytest.fixture
def student(db, parent):
    sam = make_user("sam", Role.STUDENT)
    Guardianship.objects.create(parent=parent, student=sam)
    return sam


@pytest.fixture
def sibling(db, parent):
    sue = make_user("sue", Role.STUDENT)
    Guardianship.objects.create(parent=parent, student=sue)
    return sue


@pytest.fixture
def tutor(db, student):
    tia = make_user("tia", Role.TUTOR, tz="UTC")
    Match.objects.create(tutor=tia, student=student)
    return tia


@pytest.fixture
def creator(db):
    return make_user("cleo", Role.CREATOR)


@pytest.fixture
def course(db, creator, student):
    course = Course.objects.create(creator=creator, title="Algebra I")
    Enrollment.objects.create(course=course, student=student)
    return course


@pytest.fixture
def coordinator(db):
    return make_user("coco", Role.COORDINATOR, is_staff=True)


@pytest.fixture
def outsider(db):
    otto = make_user("otto", Role.PARENT, Role.TUTOR, Role.CREATOR)
    kid = make_user("kid", Role.STUDENT)
    Guardianship.objects.create(parent=otto, student=kid)
    return otto


@pytest.fixture
def reasons(db):
    """The reason pickers: two per role and kind, 'other' needs a note."""
    made = {}
    for role in ("parent", "tutor"):
        for kind in ("cancel", "reschedule"):
            made[(role, kind)] = ChangeReason.objects.create(role=role, kind=kind, code="schedule-conflict",
                                                             label="Schedule conflict", position=1)
            made[(role, kind, "other")] = ChangeReason.objects.create(role=role, kind=kind, code="other",
                                                                      label="Other", requires_note=True, position=9)
    return made


@pytest.fixture
def policies(db):
    """Penalty sheet: parents pay nothing 48 h+ ahead, half from 24 h, full inside 24 h."""
    return {
        "parent_free": CancellationPolicy.objects.create(role="parent", min_hours_before=48, penalty="No charge",
                                                         guidance="Cancelling 48 hours or more ahead is free."),
        "parent_half": CancellationPolicy.objects.create(role="parent", min_hours_before=24, max_hours_before=48,
                                                         penalty="50% of the lesson", charge_percent=50,
                                                         guidance="Half the lesson is charged."),
        "parent_full": CancellationPolicy.objects.create(role="parent", min_hours_before=0, max_hours_before=24,
                                                         penalty="Full lesson", charge_percent=100,
                                                         guidance="The lesson is charged."),
        "tutor_late": CancellationPolicy.objects.create(role="tutor", min_hours_before=0, max_hours_before=48,
                                                        penalty="Reliability strike",
                                                        guidance="Late cancellations count against you."),
    }


@pytest.fixture
def package(db, student):
    return LessonPackage.objects.create(student=student, credits=10, expires_on=(NOW + timedelta(days=90)).date())


@pytest.fixture
def make_session(db, tutor, student, course):
    def make(start=None, minutes=60, status=Status.SCHEDULED, **fields):
        start = start or NOW + timedelta(days=2)
        fields.setdefault("tutor", tutor)
        fields.setdefault("student", student)
        fields.setdefault("course", course)
        return Session.objects.create(scheduled_start=start, scheduled_end=start + timedelta(minutes=minutes),
                                      status=status, **fields)

    return make


@pytest.fixture
def session(make_session):
    """A scheduled one-hour session two days after NOW."""
    return make_session()


@pytest.fixture
def awaiting(make_session):
    """Yesterday's session, checked in and out, waiting for the parent."""
    start = NOW - timedelta(days=1)
    return make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))


@pytest.fixture(autouse=True)
def private_cache_keys(settings):
    """Rate limits (sign-in, password reset, the beacon) and cached pages count in the Redis cache
    that every test process shares: each test gets keys of its own."""
    default = settings.CACHES["default"]
    settings.CACHES = {**settings.CACHES, "default": {**default, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


@pytest.fixture(autouse=True)
def notes_storage(settings, tmp_path):
    """Attachments go to a folder of the test's own (the local, signed-link storage), never var/."""
    root = tmp_path / "notes-storage"
    settings.STORAGES = {**settings.STORAGES, "notes": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}}}
    return root


def post_json(client, url, body=None):
    """POST `body` (an empty object when None) as JSON."""
    return client.post(url, data=json.dumps({} if body is None else body), content_type="application/json")


def at_once(fn, n: int = 2) -> list:
    """Run fn() in n threads released together (each on its own database connection, as n workers
    would be); their results. Needs a transactional test: each thread commits on its own."""
    barrier, results, errors = threading.Barrier(n), [], []

    def run():
        try:
            barrier.wait(timeout=30)
            results.append(fn())
        except Exception as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results


def stored_files(root) -> list[str]:
    """Every file under a storage folder, as relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def worker(settings, transactional_db):
    """A real Celery worker thread on the real broker, consuming a queue of this test's own: another
    test process with its own worker on the same broker (xdist, a second run) never takes its tasks.
    Tests ask for results (stored in Redis) and wait on them instead of sleeping."""
    queue = f"tests-{uuid.uuid4().hex}"
    default_queue = app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30, queues=[queue]):
            yield
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = default_queue


@pytest.fixture
def fake_openai(settings):
    """The fake OpenAI server (tests/fakes/openai_server.py), with the settings pointing at it."""
    with FakeOpenAI() as server:
        settings.OPENAI_API_KEY = server.api_key
        settings.OPENAI_BASE_URL = server.base_url
        settings.OPENAI_TIMEOUT_SECONDS = 5
        settings.OPENAI_SUMMARY_MODEL = "gpt-4.1-mini"
        settings.OPENAI_TRANSCRIBE_MODEL = "gpt-4o-mini-transcribe"
        yield server


def pytest_sessionfinish(session, exitstatus):
    """`make test` leaves test-artifacts/index.html, the gallery of every screenshot by role and
    width (tests/gallery.py); only the controlling process writes it, after its workers."""
    if hasattr(session.config, "workerinput"):
        return
    from pathlib import Path

    from tests.gallery import write_gallery

    write_gallery(Path(__file__).resolve().parents[1] / "test-artifacts")


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test gets its own channel layer: channels-redis binds its locks to the event loop that
    first used it, and every async test (and every WebsocketCommunicator) runs on a loop of its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
