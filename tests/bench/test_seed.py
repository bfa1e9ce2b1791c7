"""bench/seed.py: the benchmarks' bulk sessions, generated in PostgreSQL beside the demo world.
Every row is valid (no overlaps, reasons, matches, enrollments), its one event marks it as bench
data and leads to its status (issue 13 item 7), and the due batches are due for the sweeps."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.test import override_settings
from django.utils import timezone

from bench import seed
from sessions import lifecycle
from sessions.models import OCCUPYING_STATUSES, RescheduleThread, Session, SessionEvent, Status, ThreadStatus
from tutoring.models import Enrollment, Match


def _overlaps() -> int:
    """Pairs of one tutor's calendar-occupying sessions that overlap (the exclusion constraint
    forbids them; counted independently here)."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FROM tutoring_sessions_session a JOIN tutoring_sessions_session b
              ON a.tutor_id = b.tutor_id AND a.id < b.id
             AND a.scheduled_start < b.scheduled_end AND b.scheduled_start < a.scheduled_end
            WHERE a.status = ANY(%(occupying)s) AND b.status = ANY(%(occupying)s)""",
                       {"occupying": [str(s) for s in OCCUPYING_STATUSES]})
        return cursor.fetchone()[0]


@pytest.fixture(scope="class")
def bulk_world(django_db_setup, django_db_blocker):
    """The demo world plus bulk batches, once per class."""
    with django_db_blocker.unblock(), transaction.atomic():
        lines = []
        seed.ensure(sessions=2000, due_threads=300, due_no_shows=120, report=lines.append)
        yield "\n".join(lines)
        transaction.set_rollback(True)


@pytest.fixture
def bulk_output(bulk_world, db):
    return bulk_world


class TestBulk:
    def test_sessions_2000_inserts_2000_sessions(self, bulk_output):
        bulk = Session.objects.filter(tutor__username__startswith="bulk1-")
        assert bulk.count() == 2000
        assert "batch bulk1 (realistic): 2,000 sessions" in bulk_output
        # one audit row per bulk session, marked as bench data, leading to the session's status
        events = SessionEvent.objects.filter(session__in=bulk)
        assert events.count() == 2000
        assert not events.exclude(to_status=F("session__status")).exists()
        assert not events.exclude(reason=seed.BENCH_REASON).exclude(data={"bench": True}).exists()
        assert events.filter(reason=seed.BENCH_REASON, data={"bench": True}).count() == 2000
        # a year of history and four weeks ahead, in every status
        assert set(bulk.values_list("status", flat=True)) == set(Status.values)
        assert bulk.filter(is_trial=True).exists() and bulk.filter(billed_as_addon=True).exists()
        # a tenth of them belong to the dashboard benchmark's creator
        assert bulk.filter(course__creator__username=seed.BIG_CREATOR).count() == 200

    def test_no_constraint_is_violated(self, bulk_output):
        assert _overlaps() == 0
        sessions = Session.objects.all()
        assert not sessions.filter(checked_out_at__isnull=False, checked_in_at__isnull=True).exists()
        assert not sessions.filter(status__startswith="cancelled", cancellation_reason__isnull=True).exists()
        assert not sessions.filter(cancelled_at__gt=F("scheduled_start") - timedelta(hours=4)).exists()
        now = timezone.now()
        in_future = Q(created_at__gt=now) | Q(checked_in_at__gt=now) | Q(cancelled_at__gt=now)
        assert not sessions.filter(in_future).exists()
        # every bulk lesson's student is matched with its tutor and enrolled in its course
        matched = Match.objects.filter(tutor=OuterRef("tutor"), student=OuterRef("student"))
        assert not sessions.filter(~Exists(matched)).exists()
        enrolled = Enrollment.objects.filter(course=OuterRef("course"), student=OuterRef("student"))
        assert not sessions.filter(course__isnull=False).filter(~Exists(enrolled)).exists()

    def test_due_work_is_due_and_the_sweeps_clear_it(self, bulk_output):
        now = timezone.now()
        due = RescheduleThread.objects.filter(status=ThreadStatus.OPEN, session__scheduled_start__lte=now)
        assert due.count() == 300
        assert due.filter(proposals__status="open", proposals__version=1).count() == 300
        assert lifecycle.expire_due_reschedules(now=now) == 300
        # the no-show batch, plus the realistic batch's past lessons nobody checked into
        assert lifecycle.mark_due_no_shows(now=now) >= 120
        assert lifecycle.expire_due_reschedules(now=now) == 0
        assert lifecycle.mark_due_no_shows(now=now) == 0
        assert _overlaps() == 0


@override_settings(PRODUCTION=True)
def test_it_refuses_in_production(db):
    with pytest.raises(ImproperlyConfigured, match="production"):
        seed.ensure(sessions=10)
    with pytest.raises(ImproperlyConfigured, match="production"):
        seed.seed_bulk(n=10)
    assert not Session.objects.exists()
