"""Parents whose session waits for their acknowledgement are nudged after 24 h and again after 72 h."""

from datetime import timedelta

import pytest

from notifications import dispatch, planning
from notifications.models import Delivery
from sessions import lifecycle
from sessions.models import Status
from tests.conftest import NOW

from .conftest import emails_to, inbox, sweep

OUT = NOW  # the tutor checks out at NOW


@pytest.fixture
def waiting(make_session, tutor):
    start = OUT - timedelta(hours=1)
    s = make_session(start=start, status=Status.CHECKED_IN, checked_in_at=start)
    lifecycle.check_out(s, by=tutor, now=OUT)
    return s


def kinds(user) -> list[str]:
    return [n.kind for n in inbox(user)]


def test_the_parents_are_nudged_after_24_and_72_hours(clock, waiting, parent, sibling, tutor):
    clock.at(OUT)
    sweep(OUT)
    assert kinds(parent) == ["check_out"]
    clock.at(OUT + timedelta(hours=23, minutes=59))
    sweep(OUT + timedelta(hours=23, minutes=59))
    assert kinds(parent) == ["check_out"]  # not a minute early
    clock.at(OUT + timedelta(hours=24))
    sweep(OUT + timedelta(hours=24))
    sweep(OUT + timedelta(hours=25))
    assert kinds(parent) == ["check_out", "nudge_24h"]
    nudge = inbox(parent)[1]
    assert nudge.title == "Still waiting: please confirm Sam's session on Mon 16 Nov"
    assert nudge.text.startswith("Sam's session with Tia on Mon 16 Nov 09:00 (Europe/London) has been waiting for "
                                 "your acknowledgement since Mon 16 Nov 10:00 (Europe/London).")
    assert nudge.url == f"/sessions/{waiting.id}/"
    clock.at(OUT + timedelta(hours=71, minutes=59))
    sweep(OUT + timedelta(hours=71, minutes=59))
    assert kinds(parent) == ["check_out", "nudge_24h"]
    clock.at(OUT + timedelta(hours=72))
    sweep(OUT + timedelta(hours=72))
    assert kinds(parent) == ["check_out", "nudge_24h", "nudge_72h"]
    assert inbox(parent)[2].title.startswith("Second reminder: please confirm Sam's session")
    assert len(emails_to(parent)) == 3 and not inbox(tutor)


def test_an_answered_session_is_not_nudged(clock, waiting, parent):
    moment = clock.at(OUT + timedelta(hours=24))
    planning.plan(now=moment)  # written, not yet sent
    lifecycle.acknowledge(waiting, by=parent, now=moment)
    dispatch.dispatch(now=moment)
    assert {d.last_error for d in Delivery.objects.filter(kind="nudge_24h")} == {
        "the session was answered meanwhile"}
    clock.at(OUT + timedelta(hours=72))
    sweep(OUT + timedelta(hours=72))
    assert not Delivery.objects.filter(kind="nudge_72h").exists()


def test_an_ad_hoc_session_waits_from_when_it_was_logged_and_a_week_old_wait_is_left_to_coordinators(
        clock, tutor, student, parent):
    """The wait begins when the session began to wait (logged today for a session weeks ago), and a
    session waiting for more than a week is not nudged at all (history, or after a long outage)."""
    lifecycle.log_adhoc_sessions(by=tutor, now=NOW, rows=[{
        "student_id": student.id, "start": NOW - timedelta(days=20), "end": NOW - timedelta(days=20, hours=-1)}])
    clock.at(NOW + timedelta(hours=1))
    sweep(NOW + timedelta(hours=1))
    assert kinds(parent) == ["adhoc_logged"]
    clock.at(NOW + timedelta(days=8))
    sweep(NOW + timedelta(days=8))
    assert kinds(parent) == ["adhoc_logged"]
