from datetime import timedelta

import pytest

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import NoShowParty, SessionEvent, Status
from tests.conftest import NOW

START = NOW
END = NOW + timedelta(hours=1)


@pytest.fixture
def running(make_session, tutor):
    s = make_session(start=START, minutes=60)
    return lifecycle.check_in(s, by=tutor, now=START)


def test_it_checks_out_from_30_minutes_before_the_end(running, tutor):
    """L17 L05: check-out sets checked_out_at and awaiting_approval_parent."""
    at = END - timedelta(minutes=30)
    s = lifecycle.check_out(running, by=tutor, now=at)
    s.refresh_from_db()
    assert (s.status, s.checked_out_at) == (Status.AWAITING_APPROVAL_PARENT, at)
    assert SessionEvent.objects.filter(session=s).values_list("kind", flat=True).last() == "check_out"


def test_it_refuses_check_out_too_early_with_the_minutes(running, tutor):
    """L19: before the window the tutor is told how long to wait."""
    with pytest.raises(Refused, match=r"^Check-out opens in 5 minutes\.$"):
        lifecycle.check_out(running, by=tutor, now=END - timedelta(minutes=35))


def test_it_allows_check_out_until_24_hours_after_the_end(running, tutor):
    """L19: the last moment is exactly 24 hours after the scheduled end."""
    lifecycle.check_out(running, by=tutor, now=END + timedelta(hours=24))
    running.refresh_from_db()
    assert (running.status, running.checked_out_at) == (Status.AWAITING_APPROVAL_PARENT, END + timedelta(hours=24))


def test_it_refuses_check_out_after_24_hours(running, tutor):
    """L19: a second after the window the tutor must ask a coordinator."""
    with pytest.raises(Refused, match="Check-out closed 24 hours after the scheduled end"):
        lifecycle.check_out(running, by=tutor, now=END + timedelta(hours=24, seconds=1))
    running.refresh_from_db()
    assert running.status == Status.CHECKED_IN and running.checked_out_at is None


def test_it_refuses_check_out_without_check_in(make_session, tutor):
    """L18: only a session already checked into can be checked out."""
    s = make_session(start=START)
    with pytest.raises(Refused, match="You can only check out of a session you have checked into."):
        lifecycle.check_out(s, by=tutor, now=END)


def test_student_absent_makes_a_no_show(running, tutor):
    """DESIGN no_show extension: the tutor reports the student did not attend at check-out."""
    s = lifecycle.check_out(running, by=tutor, student_absent=True, now=END)
    s.refresh_from_db()
    assert (s.status, s.no_show_party) == (Status.NO_SHOW, NoShowParty.STUDENT)
    assert s.checked_out_at == END


def test_only_the_tutor_checks_out(running, parent, outsider):
    """L05: the parent and outsiders cannot check out."""
    for user in (parent, outsider):
        with pytest.raises(Refused) as exc:
            lifecycle.check_out(running, by=user, now=END)
        assert exc.value.status == 403
