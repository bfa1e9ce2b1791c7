"""R10: the room's states, derived read-only from the session and presence."""

from datetime import timedelta

import pytest

from sessions.room_states import State, can_enter, join_link, room_state
from sessions.models import Status
from tests.conftest import NOW

pytestmark = pytest.mark.django_db


def state(session, viewer, *, present=(), joined=(), now=NOW):
    return room_state(session, viewer_id=viewer.id, present=set(present), joined=set(joined), now=now)


@pytest.fixture
def s(make_session):
    return make_session(start=NOW + timedelta(minutes=30))


def test_it_is_early_more_than_15_minutes_before(s, student):
    """R10 Early: not joinable yet."""
    view = state(s, student, now=s.scheduled_start - timedelta(minutes=16))
    assert view.state == State.EARLY and view.label == "Early" and not view.enterable


def test_it_is_joinable_from_15_minutes_before(s, student, tutor):
    """R10 Joinable: the pre-join screen, saying whether the other side is there."""
    at = s.scheduled_start - timedelta(minutes=15)
    view = state(s, student, now=at)
    assert view.state == State.JOINABLE and view.enterable and view.detail == "Tia has not joined yet."
    assert state(s, student, present={tutor.id}, now=at).detail == "Tia is in the room."


def test_it_is_waiting_with_one_participant(s, student, tutor):
    """R10 Waiting: one participant waits for the other."""
    view = state(s, student, present={student.id}, joined={student.id}, now=s.scheduled_start)
    assert (view.state, view.label, view.detail) == (State.WAITING, "Waiting", "Waiting for Tia to join.")


def test_it_is_in_progress_with_both(s, student, tutor):
    """R10 In Progress: both are present (also past the scheduled end while the call goes on)."""
    both = {student.id, tutor.id}
    assert state(s, tutor, present=both, joined=both, now=s.scheduled_start).label == "In Progress"
    assert state(s, tutor, present=both, joined=both, now=s.scheduled_end + timedelta(minutes=5)).label == \
        "In Progress"


def test_it_is_no_show_when_the_other_never_came_within_the_grace(s, student, tutor, settings):
    """R10 No Show: after ROOM_NO_SHOW_GRACE, the other participant has never joined."""
    settings.ROOM_NO_SHOW_GRACE = timedelta(minutes=10)
    before = state(s, tutor, present={tutor.id}, joined={tutor.id}, now=s.scheduled_start + timedelta(minutes=9))
    after = state(s, tutor, present={tutor.id}, joined={tutor.id}, now=s.scheduled_start + timedelta(minutes=10))
    assert before.state == State.WAITING
    assert (after.state, after.detail) == (State.NO_SHOW, "Sam has not joined 10 minutes after the start.")
    assert not after.final and after.enterable
    came_and_went = state(s, tutor, present={tutor.id}, joined={tutor.id, student.id},
                          now=s.scheduled_start + timedelta(minutes=20))
    assert came_and_went.state == State.WAITING


def test_a_recorded_no_show_is_final(make_session, student):
    s = make_session(start=NOW - timedelta(hours=2), status=Status.NO_SHOW, no_show_party="student")
    view = state(s, student)
    assert view.state == State.NO_SHOW and view.final and view.detail == \
        "Recorded as a no-show: the student did not attend."


@pytest.mark.parametrize(("status", "detail"), [
    (Status.AWAITING_APPROVAL_PARENT, "This session has ended."),
    (Status.APPROVED, "This session has ended."),
    (Status.DISPUTED, "This session has ended."),
    (Status.CANCELLED_BY_PARENT, "This session was cancelled."),
    (Status.CANCELLED_BY_TUTOR, "This session was cancelled."),
    (Status.NOT_COMPLETED, "This session did not take place."),
])
def test_it_is_ended_once_the_session_is_closed(make_session, student, status, detail):
    """R10 Ended, R12 "This session has ended."."""
    s = make_session(start=NOW + timedelta(minutes=5), status=status)
    view = state(s, student)
    assert (view.state, view.label, view.detail, view.final) == (State.ENDED, "Ended", detail, True)


def test_it_is_ended_after_the_scheduled_end_unless_both_are_still_in(s, student, tutor):
    after = s.scheduled_end + timedelta(minutes=1)
    assert state(s, student, present={student.id}, now=after).state == State.ENDED
    assert not can_enter(s, after, other_present=False)
    assert can_enter(s, after, other_present=True)


def test_join_link_opens_15_minutes_before_in_the_viewers_zone(s, student, tutor, parent):
    """R02: Join from 15 minutes before; before that "Opens at" in the viewer's zone; only the two."""
    tutor.time_zone = "Asia/Kolkata"  # UTC+5:30
    early = join_link(s, tutor, s.scheduled_start - timedelta(minutes=16))
    assert early["open"] is False and early["opens"] == "15:45"  # 10:15 UTC
    assert join_link(s, student, s.scheduled_start - timedelta(minutes=15))["open"] is True
    assert join_link(s, parent, NOW) is None
    assert join_link(s, student, s.scheduled_end) is None


def test_leaving_a_checked_in_session_is_not_joinable_again(make_session, student, tutor):
    """R10 (issue 17): once the session is checked in it is under way: a participant who left sees
    Waiting while the other waits in the room, In Progress when neither is in it, never the
    pre-session Joinable; the one who stayed waits for the other to come back."""
    start = NOW - timedelta(minutes=20)
    checked = make_session(start=start, status=Status.CHECKED_IN, checked_in_at=start)
    both = {student.id, tutor.id}
    view = state(checked, tutor, present={student.id}, joined=both)
    assert (view.state, view.label, view.detail) == (State.WAITING, "Waiting", "Sam is in the room, waiting for you.")
    assert view.enterable
    view = state(checked, tutor, joined=both)
    assert (view.state, view.label) == (State.IN_PROGRESS, "In Progress") and view.enterable
    view = state(checked, student, present={student.id}, joined=both)
    assert (view.state, view.detail) == (State.WAITING, "Waiting for Tia to come back.")
