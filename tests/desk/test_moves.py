"""The admin's move-or-answer page (issue 17, the desk walk): a coordinator moves a session directly
(in their own time zone, with a reason, never onto a clash or into the past) or answers its open
reschedule request for the side that must answer; bad input changes nothing; nobody else gets in."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from notifications.models import Notification
from sessions import lifecycle
from sessions.models import Session, Status, ThreadStatus
from tests.conftest import NOW, make_user
from tutoring.models import Role

H = timedelta(hours=1)
NEW = NOW + timedelta(days=5, hours=3)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def desk(client, coordinator):
    coordinator.time_zone = "America/New_York"
    coordinator.save()
    client.force_login(coordinator)
    return client


def url(session) -> str:
    return f"/admin/tutoring_sessions/session/{session.pk}/move/"


def answering(**data) -> dict:
    return {**{f"answer-{k}": v for k, v in data.items()}, "_answer": "1"}


def state(session):
    s = Session.objects.get(pk=session.pk)
    return (s.status, s.scheduled_start, s.scheduled_end, s.events.count(),
            list(s.reschedule_threads.values_list("status", flat=True)))


@pytest.fixture
def proposal(session, tutor, reasons):
    return lifecycle.propose_reschedule(session, by=tutor, proposed_start=NEW,
                                        reason_id=reasons[("tutor", "reschedule")].id, note="Exam week", now=NOW)


def test_the_page_shows_the_session_and_its_open_request_in_the_coordinators_zone(desk, session, proposal):
    body = desk.get(url(session)).content.decode()
    # Wed 18 Nov 10:00 UTC is 05:00 in New York; the proposal, Sat 21 Nov 13:00 UTC, is 08:00 there
    assert "Nov. 18, 2026, 5 a.m." in body and "Nov. 21, 2026, 8 a.m." in body and "America/New_York" in body
    assert "The parent must answer" in body and 'name="_answer"' in body and 'name="_move"' in body


def test_the_session_change_page_links_to_it(desk, session):
    assert url(session) in desk.get(f"/admin/tutoring_sessions/session/{session.pk}/change/").content.decode()


def test_a_move_reads_the_time_in_the_coordinators_zone_and_tells_the_family_and_the_tutor(
        desk, session, coordinator, parent, tutor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(url(session), {"move-start": "2026-11-21T08:00", "move-reason": "Tutor is ill",
                                            "_move": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"/admin/tutoring_sessions/session/{session.pk}/change/"
    session.refresh_from_db()
    assert session.scheduled_start == datetime(2026, 11, 21, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert session.scheduled_end - session.scheduled_start == H
    event = session.events.get(kind="moved")
    assert (event.actor, event.channel, event.reason) == (coordinator, "admin", "Tutor is ill")
    assert set(Notification.objects.filter(kind="moved").values_list("recipient__username", flat=True)) >= {
        parent.username, tutor.username}


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"start": "2026-11-21T08:00", "reason": ""}, 422, "Please give a reason for the move."),
    ({"start": "", "reason": "ok"}, 422, "This field is required."),
    ({"start": "2026-13-45T99:00", "reason": "ok"}, 422, "Enter a valid date/time."),
    ({"start": "2026-11-16T04:00", "reason": "ok"}, 422, "The new time must be in the future."),
    # 02:30 on 14 March 2027 does not exist in New York (the clocks jump from 02:00 to 03:00)
    ({"start": "2027-03-14T02:30", "reason": "ok"}, 422,
     "14 Mar 2027, 02:30 does not exist in America/New_York: the clocks go forward then."),
    ({"start": "2026-11-21T08:00", "reason": "bad\x00"}, 422, "reason"),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(desk, session, data, status, message):
    before = state(session)
    response = desk.post(url(session), {**{f"move-{k}": v for k, v in data.items()}, "_move": "1"})
    assert response.status_code == status
    assert message in response.content.decode()
    assert state(session) == before


def test_a_clash_is_refused_with_a_link_to_the_other_session(desk, session, make_session, sibling):
    clash = make_session(start=datetime(2026, 11, 21, 13, 30, tzinfo=UTC), student=sibling)
    before = state(session)
    response = desk.post(url(session), {"move-start": "2026-11-21T08:00", "move-reason": "ok", "_move": "1"})
    body = response.content.decode()
    assert response.status_code == 409 and "Nothing was changed." in body
    assert f"/admin/tutoring_sessions/session/{clash.pk}/change/" in body and "tutor already has session" in body
    assert state(session) == before


def test_an_answer_for_the_parent_goes_through_the_lifecycle(desk, session, proposal, coordinator):
    response = desk.post(url(session), answering(answer="accept", reason="Parent agreed by phone",
                                                 proposal=proposal.pk))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.scheduled_start == NEW
    event = session.events.get(kind="reschedule_accepted")
    assert (event.actor, event.data["on_behalf_of"], event.reason) == (coordinator, "parent", "Parent agreed by phone")


def test_a_withdrawal_for_the_proposer_of_a_stuck_request(desk, session, proposal):
    response = desk.post(url(session), answering(answer="withdraw", reason="No answer for days",
                                                 proposal=proposal.pk))
    assert response.status_code == 302
    assert session.reschedule_threads.get().status == ThreadStatus.WITHDRAWN


@pytest.mark.parametrize(("data", "status", "message"), [
    ({"answer": "accept", "reason": ""}, 422, "Please give a reason for the answer."),
    ({"answer": "maybe", "reason": "ok"}, 422, "Select a valid choice."),
    ({"reason": "ok"}, 422, "Please choose an answer."),
])
def test_bad_answers_change_nothing(desk, session, proposal, data, status, message):
    before = state(session)
    response = desk.post(url(session), answering(**data, proposal=proposal.pk))
    assert response.status_code == status and message in response.content.decode()
    assert state(session) == before


def test_an_answer_to_a_request_answered_meanwhile_changes_nothing(desk, session, proposal, parent):
    lifecycle.reject_reschedule(session, proposal.pk, by=parent, reason="No", now=NOW)
    before = state(session)
    response = desk.post(url(session), answering(answer="accept", reason="Agreed", proposal=proposal.pk))
    assert response.status_code == 409
    assert "There is no open reschedule request on this session. Nothing was changed." in response.content.decode()
    assert state(session) == before


def test_an_answer_naming_another_sessions_proposal_changes_nothing(desk, session, proposal, make_session):
    other = make_session(start=NOW + timedelta(days=9))
    before = state(other)
    response = desk.post(url(other), answering(answer="accept", reason="x", proposal=proposal.pk))
    assert response.status_code == 409 and state(other) == before and state(session)[4] == [ThreadStatus.OPEN]


def test_outsiders_get_403_or_a_login_and_change_nothing(client, session, proposal, outsider, parent, tutor):
    staff = make_user("stan", Role.CREATOR, is_staff=True)
    before = state(session)
    for who in (outsider, parent, tutor, staff):
        client.force_login(who)
        get = client.get(url(session))
        moved = client.post(url(session), {"move-start": "2026-11-21T08:00", "move-reason": "x", "_move": "1"})
        answered = client.post(url(session), answering(answer="accept", reason="x", proposal=proposal.pk))
        for response in (get, moved, answered):
            assert response.status_code in (302, 403)
            if response.status_code == 302:
                assert "/login/" in response["Location"]
    assert state(session) == before


def test_an_unknown_session_is_404(desk):
    assert desk.get("/admin/tutoring_sessions/session/999999/move/").status_code == 404
    assert desk.get("/admin/tutoring_sessions/session/abc/move/").status_code == 404
    # a digit to str.isdigit that int() refuses, and an id past a bigint: 404s, they were 500s
    assert desk.get("/admin/tutoring_sessions/session/²/move/").status_code == 404
    assert desk.get("/admin/tutoring_sessions/session/9223372036854775808/move/").status_code == 404


def test_a_session_that_cannot_move_says_so(desk, awaiting, session, time_machine):
    """Issue 17: the form is offered only when the move's own guard allows it, and otherwise the
    page says why in the guard's words (rules.guard_move)."""
    body = desk.get(url(awaiting)).content.decode()
    assert "Only a scheduled session can be moved." in body
    assert not re.search(r'name="_move"', body)
    assert awaiting.status == Status.AWAITING_APPROVAL_PARENT
    time_machine.move_to(session.scheduled_start + timedelta(minutes=1), tick=False)
    started = desk.get(url(session)).content.decode()
    assert "This session has already started: mark a no-show or verify it instead." in started
    assert not re.search(r'name="_move"', started)
