"""Issue 18 item 2: a worker killed in the middle of a sweep. The no-show sweep runs in a process of
its own (what a Celery worker runs: sessions.lifecycle.mark_due_no_shows, one transaction per
batch) and is held inside a batch by a real row lock (the creator's change stamp, which the sweep's
UPDATE takes through its trigger); the process is then killed with SIGKILL. Whatever batches had
committed stay done, the batch in flight is rolled back by PostgreSQL, and the next run finishes
the rest: every due session is marked once, with one event each, nothing twice.

(The recording copy's kill is covered by its lease and resume: tests/video/test_recording_copy.py,
a copy cut off mid-download resumes from the last stored part, and a copy whose worker stopped
renewing its lease is found by the sweep after the lease.)"""

import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db.models import Count

from creators.models import ChangeStamp
from sessions.lifecycle import sweeps
from sessions.models import SessionEvent, Status
from tests.conftest import NOW, make_user
from tests.database import ROOT, database_url, dsn
from tutoring.models import Course, Enrollment, Role

pytestmark = pytest.mark.django_db(transaction=True)

APP_NAME = "killed-sweep-worker"
# seconds the killed process may take to reach the held lock (it imports Django first, on a busy machine)
WAIT = 180.0
POLL = 0.05  # seconds between two looks at pg_stat_activity


SWEEP = f"""
import datetime, django
django.setup()
from sessions.lifecycle import sweeps
sweeps.mark_due_no_shows(now=datetime.datetime.fromisoformat({NOW.isoformat()!r}), batch=1)
"""


def worker_backend(watch) -> tuple | None:
    """The killed worker's backend, the one waiting on a lock first: the process's connection pool
    holds more than one connection (DB_POOL_MIN_SIZE), and the idle ones wait on the client."""
    return watch.execute("SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = %s"
                         " ORDER BY wait_event_type = 'Lock' DESC NULLS LAST, pid LIMIT 1",
                         [APP_NAME]).fetchone()


def test_a_sweep_killed_between_batches_is_finished_by_the_next_run_once(make_session, course, tutor,
                                                                         student):
    other_creator = make_user("cara", Role.CREATOR)
    held_course = Course.objects.create(creator=other_creator, title="Geometry")
    Enrollment.objects.create(course=held_course, student=student)
    yesterday = NOW - timedelta(days=1)
    first = [make_session(start=yesterday + timedelta(hours=h)) for h in (1, 2)]
    held = [make_session(start=yesterday + timedelta(hours=h), course=held_course) for h in (3, 4)]
    assert ChangeStamp.objects.filter(creator=other_creator).exists()

    with psycopg.connect(dsn(), autocommit=True) as watch, psycopg.connect(dsn()) as holder:
        # the stamp of the second course's creator, locked as a writer would: the sweep's batches
        # for that course wait on it (SKIP LOCKED skips locked sessions, not a trigger's row)
        holder.execute("SELECT 1 FROM creators_changestamp WHERE creator_id = %s FOR UPDATE",
                       [other_creator.id])
        env = dict(os.environ, DJANGO_ENV="test", DJANGO_SETTINGS_MODULE="tutoring.settings",
                   DATABASE_URL=database_url(APP_NAME))
        log = tempfile.NamedTemporaryFile(prefix="sweep-", suffix=".log", delete=False)
        proc = subprocess.Popen([sys.executable, "-c", SWEEP], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + WAIT
            while (backend := worker_backend(watch)) is None or backend[1] != "Lock":
                assert proc.poll() is None, Path(log.name).read_text()[-3000:]
                assert time.monotonic() < deadline, (backend, Path(log.name).read_text()[-3000:])
                time.sleep(POLL)
            done_before_the_kill = set(SessionEvent.objects.filter(kind="no_show")
                                       .values_list("session_id", flat=True))
            proc.kill()
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        holder.rollback()  # the lock goes; the killed worker's batch can never commit
        deadline = time.monotonic() + WAIT
        while worker_backend(watch) is not None:  # PostgreSQL notices the client is gone and rolls back
            assert time.monotonic() < deadline, "the killed worker's backend stayed"
            time.sleep(POLL)

    assert done_before_the_kill == {s.id for s in first}  # mid-sweep: the first batches had committed
    assert sweeps.mark_due_no_shows(now=NOW, batch=1) == len(held)  # the next run finishes the rest
    assert sweeps.mark_due_no_shows(now=NOW, batch=1) == 0
    everyone = first + held
    for session in everyone:
        session.refresh_from_db()
        assert session.status == Status.NO_SHOW
    events = SessionEvent.objects.filter(kind="no_show").values("session_id").annotate(n=Count("id"))
    assert {e["session_id"]: e["n"] for e in events} == {s.id: 1 for s in everyone}  # nothing twice
