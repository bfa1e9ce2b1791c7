from datetime import UTC, datetime, timedelta

import pytest

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import Session, SessionEvent, Status
from tests.conftest import NOW

START = NOW + timedelta(hours=2)


@pytest.fixture
def due(make_session):
    return make_session(start=START)


def test_it_checks_in_30_minutes_before_start(due, tutor):
    """L11 L12: check-in opens 30 minutes before the start and sets checked_in_at and the status."""
    at = START - timedelta(minutes=30)
    s = lifecycle.check_in(due, by=tutor, now=at)
    s.refresh_from_db()
    assert s.status == Status.CHECKED_IN and s.checked_in_at == at
    event = SessionEvent.objects.get(session=s)
    assert (event.kind, event.from_status, event.to_status, event.actor) == ("check_in", "scheduled", "checked_in",
                                                                             tutor)


def test_it_refuses_check_in_40_minutes_early_with_the_minutes(due, tutor):
    """L13: a too-early check-in names the exact minutes until the window opens."""
    with pytest.raises(Refused) as exc:
        lifecycle.check_in(due, by=tutor, now=START - timedelta(minutes=40))
    assert exc.value.message == "Check-in opens in 10 minutes."
    assert exc.value.status == 409
    due.refresh_from_db()
    assert due.status == Status.SCHEDULED and not SessionEvent.objects.exists()


def test_it_rounds_partial_minutes_up(due, tutor):
    """L13: one second before the window opens is still "1 minute"."""
    with pytest.raises(Refused, match=r"^Check-in opens in 1 minute\.$"):
        lifecycle.check_in(due, by=tutor, now=START - timedelta(minutes=30, seconds=1))



@pytest.mark.parametrize(("early", "words"), [
    (timedelta(minutes=90), "1 hour"),
    (timedelta(minutes=91), "1 hour 1 minute"),
    (timedelta(hours=10, minutes=7), "9 hours 37 minutes"),
])
def test_a_wait_of_an_hour_or_more_is_said_in_hours_and_minutes(due, tutor, early, words):
    """L13: the exact wait, in hours and minutes from an hour on ("9 hours 37 minutes", not
    "577 minutes"), and nothing changes."""
    with pytest.raises(Refused) as exc:
        lifecycle.check_in(due, by=tutor, now=START - early)
    assert exc.value.message == f"Check-in opens in {words}."
    due.refresh_from_db()
    assert due.status == Status.SCHEDULED and not SessionEvent.objects.exists()

def test_it_allows_late_check_in_later_the_same_day(due, tutor):
    """L11: no upper limit for late check-in on the same day."""
    lifecycle.check_in(due, by=tutor, now=datetime(2026, 11, 16, 23, 59, 59, tzinfo=UTC))
    due.refresh_from_db()
    assert due.status == Status.CHECKED_IN


def test_it_refuses_check_in_the_next_day(due, tutor):
    """L11: the window closes at the end of the start's day in the tutor's zone."""
    with pytest.raises(Refused, match="Check-in closed at"):
        lifecycle.check_in(due, by=tutor, now=datetime(2026, 11, 17, 0, 0, tzinfo=UTC))


def test_the_day_is_the_tutors_day_not_utc(make_session, tutor):
    """L11: a Tokyo tutor's 09:00 session (00:00 UTC) stays open until Tokyo midnight, 15:00 UTC."""
    tutor.time_zone = "Asia/Tokyo"
    tutor.save()
    s = make_session(start=datetime(2026, 11, 17, 0, 0, tzinfo=UTC))
    with pytest.raises(Refused, match=r"Check-in closed at Wed 18 Nov 00:00 \(Asia/Tokyo\)"):
        lifecycle.check_in(s, by=tutor, now=datetime(2026, 11, 17, 15, 0, tzinfo=UTC))
    lifecycle.check_in(s, by=tutor, now=datetime(2026, 11, 17, 14, 59, tzinfo=UTC))
    assert Session.objects.get(pk=s.pk).status == Status.CHECKED_IN


def test_the_day_in_los_angeles_runs_past_utc_midnight(make_session, tutor):
    """L11: a Los Angeles tutor's 17:00 session may be checked into at 23:30 local (07:30 UTC next day)."""
    tutor.time_zone = "America/Los_Angeles"
    tutor.save()
    s = make_session(start=datetime(2026, 11, 17, 1, 0, tzinfo=UTC))  # 17:00 PST on the 16th
    lifecycle.check_in(s, by=tutor, now=datetime(2026, 11, 17, 7, 30, tzinfo=UTC))
    s.refresh_from_db()
    assert s.status == Status.CHECKED_IN


def test_the_day_ends_at_local_midnight_across_a_dst_change(make_session, tutor):
    """L11: on 2026-11-01 New York falls back; that day is 25 hours long and ends 05:00 UTC on the 2nd."""
    tutor.time_zone = "America/New_York"
    tutor.save()
    s = make_session(start=datetime(2026, 11, 1, 13, 0, tzinfo=UTC))  # 08:00 EST
    with pytest.raises(Refused):
        lifecycle.check_in(s, by=tutor, now=datetime(2026, 11, 2, 5, 0, tzinfo=UTC))
    lifecycle.check_in(s, by=tutor, now=datetime(2026, 11, 2, 4, 59, tzinfo=UTC))
    s.refresh_from_db()
    assert (s.status, s.checked_in_at) == (Status.CHECKED_IN, datetime(2026, 11, 2, 4, 59, tzinfo=UTC))


def test_a_session_past_midnight_can_be_checked_into_until_its_end(make_session, tutor):
    """L11: a 23:45 session running past midnight is not locked out at 00:00."""
    s = make_session(start=datetime(2026, 11, 16, 23, 45, tzinfo=UTC), minutes=60)
    lifecycle.check_in(s, by=tutor, now=datetime(2026, 11, 17, 0, 10, tzinfo=UTC))
    s.refresh_from_db()
    assert (s.status, s.checked_in_at) == (Status.CHECKED_IN, datetime(2026, 11, 17, 0, 10, tzinfo=UTC))


@pytest.mark.parametrize("status", [s for s in Status if s != Status.SCHEDULED])
def test_only_scheduled_sessions_can_be_checked_into(make_session, tutor, status):
    """L15: only sessions with status scheduled can be checked into."""
    s = make_session(start=START, status=status)
    with pytest.raises(Refused, match="Only a scheduled session can be checked into."):
        lifecycle.check_in(s, by=tutor, now=START)


def test_an_open_reschedule_request_blocks_check_in(make_session, tutor, parent, reasons):
    """L16: check-in is blocked until the reschedule request is accepted or rejected."""
    s = make_session(start=NOW + timedelta(hours=6))
    proposal = lifecycle.propose_reschedule(s, by=parent, proposed_start=NOW + timedelta(days=3),
                                            reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    at = NOW + timedelta(hours=5, minutes=45)
    with pytest.raises(Refused, match="blocked while a reschedule request is open"):
        lifecycle.check_in(s, by=tutor, now=at)
    lifecycle.reject_reschedule(s, proposal.id, by=tutor, reason="Can't make it", now=NOW + timedelta(hours=1))
    lifecycle.check_in(s, by=tutor, now=at)
    assert Session.objects.get(pk=s.pk).status == Status.CHECKED_IN


def test_only_the_sessions_tutor_can_check_in(due, parent, outsider, coordinator):
    """L04: the tutor checks in; anyone else is refused with 403 and nothing changes."""
    for user in (parent, outsider, coordinator):
        with pytest.raises(Refused) as exc:
            lifecycle.check_in(due, by=user, now=START)
        assert exc.value.status == 403
    due.refresh_from_db()
    assert due.status == Status.SCHEDULED
