"""What must never exist is forbidden by the database itself, not only by the code."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, ProgrammingError, connection, transaction

from sessions import lifecycle
from sessions.models import PackageDeduction, Session, SessionEvent, Status
from tests.conftest import NOW


def test_the_database_forbids_overlapping_active_sessions_of_a_tutor(make_session):
    first = make_session(start=NOW)
    with pytest.raises(IntegrityError, match="session_tutor_no_overlap"), transaction.atomic():
        make_session(start=NOW + timedelta(minutes=59))
    assert list(Session.objects.values_list("pk", flat=True)) == [first.pk]


def test_back_to_back_sessions_of_a_tutor_are_allowed(make_session):
    """The overlap constraint compares half-open ranges [start, end): a session starting when the
    previous one ends does not overlap it (with closed ranges, [start, end], the shared instant
    would, and the second insert would fail with session_tutor_no_overlap)."""
    first = make_session(start=NOW)
    second = make_session(start=NOW + timedelta(minutes=60))

    assert first.scheduled_end == second.scheduled_start
    assert list(Session.objects.order_by("scheduled_start").values_list("pk", "tutor_id", "status")) == [
        (first.pk, first.tutor_id, Status.SCHEDULED), (second.pk, first.tutor_id, Status.SCHEDULED)]


def test_cancelled_sessions_free_the_slot(make_session):
    cancelled = make_session(start=NOW, status=Status.CANCELLED_BY_PARENT)
    again = make_session(start=NOW)
    assert again.pk != cancelled.pk
    assert sorted(Session.objects.filter(scheduled_start=NOW).values_list("status", flat=True)) == sorted(
        [Status.CANCELLED_BY_PARENT, Status.SCHEDULED])


def test_the_database_forbids_a_second_deduction(make_session, package):
    s = make_session(start=NOW - timedelta(days=1), status=Status.APPROVED)
    PackageDeduction.objects.create(package=package, session=s, created_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        PackageDeduction.objects.create(package=package, session=s, created_at=NOW)


def test_session_events_are_append_only(session, tutor):
    lifecycle.check_in(session, by=tutor, now=session.scheduled_start)
    event = SessionEvent.objects.get()
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        SessionEvent.objects.filter(pk=event.pk).update(reason="edited")
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        with connection.cursor() as c:
            c.execute("DELETE FROM tutoring_sessions_sessionevent")
    assert SessionEvent.objects.get().reason == ""


def test_check_out_without_check_in_cannot_be_stored(make_session):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_session(checked_out_at=NOW)
