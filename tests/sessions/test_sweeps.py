from datetime import UTC, datetime, timedelta

import pytest

from sessions import lifecycle
from sessions.lifecycle import sweeps
from sessions.models import NoShowParty, RescheduleThread, Session, SessionEvent, Status, ThreadStatus
from tests.conftest import NOW, at_once


@pytest.fixture
def open_request(session, parent, reasons):
    lifecycle.propose_reschedule(session, by=parent, proposed_start=NOW + timedelta(days=6),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    return session


def test_the_expiry_sweep_closes_due_threads_only(open_request, make_session, tutor, reasons):
    """L40: expires what is due at the original start; a later request stays open."""
    later = make_session(start=NOW + timedelta(days=3))
    lifecycle.propose_reschedule(later, by=tutor, proposed_start=NOW + timedelta(days=7),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    assert lifecycle.expire_due_reschedules(now=open_request.scheduled_start - timedelta(seconds=1)) == 0
    assert lifecycle.expire_due_reschedules(now=open_request.scheduled_start) == 1
    open_request.refresh_from_db()
    later.refresh_from_db()
    assert (open_request.status, later.status) == (Status.NOT_COMPLETED, Status.SCHEDULED)
    assert RescheduleThread.objects.get(session=open_request).status == ThreadStatus.EXPIRED
    assert open_request.events.last().kind == "reschedule_expired"


def test_a_second_sweep_changes_nothing(open_request):
    """L43: idempotent: a second run finds nothing and writes no event."""
    at = open_request.scheduled_start + timedelta(minutes=1)
    assert lifecycle.expire_due_reschedules(now=at) == 1
    events = SessionEvent.objects.count()
    assert lifecycle.expire_due_reschedules(now=at) == 0
    assert SessionEvent.objects.count() == events


def test_the_sweep_works_in_batches(make_session, parent, reasons):
    sessions = [make_session(start=NOW + timedelta(days=1, hours=i * 2)) for i in range(5)]
    for s in sessions:
        lifecycle.propose_reschedule(s, by=parent, proposed_start=NOW + timedelta(days=20),
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    assert lifecycle.expire_due_reschedules(now=NOW + timedelta(days=2), batch=2) == 5
    assert Session.objects.filter(status=Status.NOT_COMPLETED).count() == 5


def test_no_show_sweep_marks_sessions_whose_check_in_day_ended(make_session, tutor):
    """DESIGN no_show: a scheduled session whose check-in day ended without check-in."""
    tutor.time_zone = "America/New_York"
    tutor.save()
    s = make_session(start=datetime(2026, 11, 16, 14, 0, tzinfo=UTC))  # 09:00 in New York
    assert lifecycle.mark_due_no_shows(now=datetime(2026, 11, 17, 4, 59, tzinfo=UTC)) == 0  # 23:59 local
    assert lifecycle.mark_due_no_shows(now=datetime(2026, 11, 17, 5, 0, tzinfo=UTC)) == 1
    s.refresh_from_db()
    assert (s.status, s.no_show_party) == (Status.NO_SHOW, NoShowParty.TUTOR)
    assert lifecycle.mark_due_no_shows(now=datetime(2026, 11, 18, tzinfo=UTC)) == 0


def test_the_sql_deadline_equals_the_python_deadline_across_dst(make_session, tutor):
    """The sweep and the check-in guard agree to the second, also on a 25-hour day."""
    from sessions.rules import check_in_deadline

    tutor.time_zone = "America/New_York"
    tutor.save()
    s = make_session(start=datetime(2026, 11, 1, 13, 0, tzinfo=UTC))
    deadline = check_in_deadline(Session.objects.select_related("tutor").get(pk=s.pk))
    assert deadline == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    assert lifecycle.mark_due_no_shows(now=deadline - timedelta(seconds=1)) == 0
    assert lifecycle.mark_due_no_shows(now=deadline) == 1


def test_sessions_with_an_open_request_are_left_to_the_expiry_sweep(open_request):
    assert lifecycle.mark_due_no_shows(now=open_request.scheduled_start + timedelta(days=2)) == 0


def test_reading_never_writes(open_request, client, parent, tutor):
    """L43: listing and reading sessions after the due time changes no session or thread."""
    client.force_login(parent)
    before = (list(Session.objects.values_list("pk", "status", "updated_at")),
              list(RescheduleThread.objects.values_list("pk", "status")), SessionEvent.objects.count())
    import time_machine

    with time_machine.travel(open_request.scheduled_start + timedelta(days=1), tick=False):
        assert client.get("/api/sessions").status_code == 200
        assert client.get(f"/api/sessions/{open_request.pk}").status_code == 200
        assert client.get(f"/api/sessions/{open_request.pk}/events").status_code == 200
    after = (list(Session.objects.values_list("pk", "status", "updated_at")),
             list(RescheduleThread.objects.values_list("pk", "status")), SessionEvent.objects.count())
    assert before == after


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_expire_each_thread_once(make_session, parent, reasons):
    """Safe to run concurrently in two workers: SKIP LOCKED plus the status re-check."""
    for i in range(40):
        s = make_session(start=NOW + timedelta(days=1, hours=i * 2))
        lifecycle.propose_reschedule(s, by=parent, proposed_start=NOW + timedelta(days=30, hours=i * 2),
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    results = at_once(lambda: lifecycle.expire_due_reschedules(now=NOW + timedelta(days=5), batch=7))
    assert sum(results) == 40
    assert SessionEvent.objects.filter(kind="reschedule_expired").count() == 40


def test_a_stale_candidate_is_rechecked_under_the_lock(open_request, tutor):
    """The sweep reads due ids first; one answered meanwhile must be left alone when applied."""
    from django.db import connection

    thread = RescheduleThread.objects.get(session=open_request)
    proposal = thread.proposals.get()
    lifecycle.reject_reschedule(open_request, proposal.id, by=tutor, reason="No", now=NOW)
    events = SessionEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(sweeps._EXPIRE_APPLY, {"now": open_request.scheduled_start + timedelta(minutes=1),
                                              "ids": [open_request.pk], "reason": "x"})
        assert cursor.fetchall() == []
    open_request.refresh_from_db()
    assert open_request.status == Status.SCHEDULED and SessionEvent.objects.count() == events
