"""Issue 17: a coordinator moves a session directly (for both sides, with a reason) and answers an
open reschedule request on behalf of the side that must answer (accept, reject, withdraw), through
the lifecycle, with the same rules as the side's own answer (L38, L39, L40)."""

from datetime import timedelta

import pytest

from notifications.models import Notification
from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import ProposalStatus, RescheduleThread, Session, SessionEvent, Status, ThreadStatus
from tests.conftest import NOW, at_once, make_user
from tutoring.models import Role

H = timedelta(hours=1)
NEW = NOW + timedelta(days=5, hours=3)


@pytest.fixture
def proposal(session, tutor, reasons):
    return lifecycle.propose_reschedule(session, by=tutor, proposed_start=NEW,
                                        reason_id=reasons[("tutor", "reschedule")].id, note="Exam week", now=NOW)


def snapshot(session_id):
    s = Session.objects.get(pk=session_id)
    return (s.status, s.scheduled_start, s.scheduled_end, s.events.count(),
            list(RescheduleThread.objects.filter(session=s).values_list("status", flat=True)))


# --- the coordinator's move -------------------------------------------------------------------


def test_a_coordinator_moves_a_session_keeping_its_length_with_an_event_and_the_reason(make_session, coordinator):
    s = make_session(minutes=90)
    moved = lifecycle.move_session(s.pk, by=coordinator, start=NEW, reason="Tutor is ill on Wednesday", now=NOW)
    assert (moved.scheduled_start, moved.scheduled_end, moved.status) == (NEW, NEW + 90 * timedelta(minutes=1),
                                                                           Status.SCHEDULED)
    event = moved.events.get()
    assert (event.kind, event.actor, event.channel, event.reason) == ("moved", coordinator, "admin",
                                                                     "Tutor is ill on Wednesday")
    assert event.data["old_start"] == (NOW + timedelta(days=2)).isoformat() and event.data["new_start"] == NEW.isoformat()


def test_the_move_is_allowed_within_the_4_hour_self_service_lockout(make_session, coordinator):
    s = make_session(start=NOW + 2 * H)
    assert lifecycle.move_session(s.pk, by=coordinator, start=NEW, reason="Agreed by phone", now=NOW).scheduled_start == NEW


def test_the_move_closes_an_open_reschedule_request(proposal, session, coordinator):
    """As a cancel closes the thread (L41), so does a coordinator's move."""
    lifecycle.move_session(session.pk, by=coordinator, start=NEW + H, reason="Agreed with both", now=NOW)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.CLOSED and proposal.thread.status == ThreadStatus.CLOSED
    assert session.events.get(kind="moved").data["closed_thread_id"] == proposal.thread_id


@pytest.mark.parametrize("who", ["tutor", "parent", "outsider"])
def test_only_a_coordinator_moves(request, session, who):
    before = snapshot(session.pk)
    with pytest.raises(Refused, match="Only a coordinator can move a session.") as exc:
        lifecycle.move_session(session.pk, by=request.getfixturevalue(who), start=NEW, reason="x", now=NOW)
    assert exc.value.status == 403 and snapshot(session.pk) == before


@pytest.mark.parametrize(("start", "reason", "message"), [
    (NOW - H, "ok", "The new time must be in the future."),
    (NOW, "ok", "The new time must be in the future."),
    (NOW + timedelta(days=2), "ok", "That is the session's current time: choose another."),
    (None, "ok", "Please choose a new start time."),
    (NEW.replace(tzinfo=None), "ok", "must include its time zone offset"),
    (NEW, "", "reason for the move"),
    (NEW, "bad\x00reason", "reason for the move"),
])
def test_bad_input_is_refused_and_changes_nothing(session, coordinator, start, reason, message):
    before = snapshot(session.pk)
    with pytest.raises(Refused, match=message) as exc:
        lifecycle.move_session(session.pk, by=coordinator, start=start, reason=reason, now=NOW)
    assert exc.value.status == 422 and snapshot(session.pk) == before


def test_a_clash_with_the_students_other_tutor_is_refused_and_listed(session, coordinator, student, make_session):
    other_tutor = make_user("ted", Role.TUTOR)
    clash = make_session(start=NEW + H / 2, tutor=other_tutor)
    before = snapshot(session.pk)
    with pytest.raises(Refused, match=f"the student already has session {clash.pk} at that time") as exc:
        lifecycle.move_session(session.pk, by=coordinator, start=NEW, reason="Family asked", now=NOW)
    assert exc.value.status == 409 and exc.value.errors == [
        {"session_id": clash.pk, "whose": "student", "start": clash.scheduled_start.isoformat(),
         "end": clash.scheduled_end.isoformat()}]
    assert snapshot(session.pk) == before


def test_a_clash_with_the_tutors_other_student_is_refused(session, coordinator, tutor, make_session, sibling):
    clash = make_session(start=NEW - H / 2, student=sibling)
    with pytest.raises(Refused, match=f"the tutor already has session {clash.pk}"):
        lifecycle.move_session(session.pk, by=coordinator, start=NEW, reason="Family asked", now=NOW)


def test_cancelled_sessions_do_not_clash(session, coordinator, make_session, sibling):
    make_session(start=NEW, student=sibling, status=Status.CANCELLED_BY_PARENT)
    assert lifecycle.move_session(session.pk, by=coordinator, start=NEW, reason="ok", now=NOW).scheduled_start == NEW


@pytest.mark.parametrize(("start", "status", "message"), [
    (NOW - H / 2, Status.SCHEDULED, "This session has already started"),
    (NOW + timedelta(days=2), Status.CANCELLED_BY_TUTOR, "Only a scheduled session can be moved."),
    (NOW - timedelta(days=1), Status.AWAITING_APPROVAL_PARENT, "Only a scheduled session can be moved."),
])
def test_only_a_scheduled_session_that_has_not_started_moves(make_session, coordinator, start, status, message):
    s = make_session(start=start, status=status)
    before = snapshot(s.pk)
    with pytest.raises(Refused, match=message) as exc:
        lifecycle.move_session(s.pk, by=coordinator, start=NEW, reason="ok", now=NOW)
    assert exc.value.status == 409 and snapshot(s.pk) == before


def test_the_move_tells_the_parent_the_tutor_and_the_student_in_their_zones(session, coordinator, parent, tutor,
                                                                           student, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.move_session(session.pk, by=coordinator, start=NEW, reason="Tutor is ill", now=NOW)
    told = {n.recipient: n.text for n in Notification.objects.select_related("recipient")}
    assert set(told) == {parent, tutor, student}
    # the parent reads London times: Wed 18 Nov 10:00 UTC is 10:00 GMT, Sat 21 Nov 13:00 UTC is 13:00 GMT
    assert "Coco, a coordinator, moved" in told[parent] and "(Europe/London)" in told[parent]
    assert "Tutor is ill" in told[tutor]


# --- answers on behalf of the side that must answer ----------------------------------------------


def test_a_coordinator_accepts_for_the_parent(proposal, session, coordinator, parent, tutor,
                                              django_capture_on_commit_callbacks):
    """L39: the answer is the counterparty's (the parent's, for the tutor's proposal), recorded as
    given by the coordinator on their behalf; both sides hear of it."""
    with django_capture_on_commit_callbacks(execute=True):
        s = lifecycle.accept_reschedule(session.pk, proposal.pk, by=coordinator, on_behalf=True,
                                        reason="The parent agreed by phone", now=NOW + H)
    assert (s.scheduled_start, s.scheduled_end) == (NEW, NEW + H)
    event = s.events.get(kind="reschedule_accepted")
    assert (event.actor, event.reason, event.data["on_behalf_of"]) == (coordinator, "The parent agreed by phone",
                                                                       "parent")
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.answered_by == coordinator
    told = {n.recipient: n.text for n in Notification.objects.filter(kind="reschedule_accepted")}
    assert {parent, tutor} <= set(told) and coordinator not in told
    assert "Coco, a coordinator, for the parent, accepted" in told[tutor]
    with pytest.raises(Refused, match="reason for accepting"):
        lifecycle.accept_reschedule(session.pk, proposal.pk, by=coordinator, on_behalf=True, now=NOW + H)


def test_a_coordinator_rejects_for_the_tutor_with_a_reason(session, parent, coordinator, reasons):
    p = lifecycle.propose_reschedule(session, by=parent, proposed_start=NEW,
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    with pytest.raises(Refused, match="reason for declining"):
        lifecycle.reject_reschedule(session.pk, p.pk, by=coordinator, reason=" ", on_behalf=True, now=NOW)
    s = lifecycle.reject_reschedule(session.pk, p.pk, by=coordinator, reason="Tutor is away", on_behalf=True, now=NOW)
    event = s.events.get(kind="reschedule_rejected")
    assert (event.actor, event.reason, event.data["on_behalf_of"]) == (coordinator, "Tutor is away", "tutor")
    assert s.scheduled_start == NOW + timedelta(days=2)


def test_a_coordinator_withdraws_a_stuck_request_for_its_proposer(proposal, session, coordinator):
    with pytest.raises(Refused, match="reason for withdrawing") as exc:
        lifecycle.withdraw_reschedule(session.pk, proposal.pk, by=coordinator, on_behalf=True, now=NOW)
    assert exc.value.status == 422 and session.reschedule_threads.get().status == ThreadStatus.OPEN
    s = lifecycle.withdraw_reschedule(session.pk, proposal.pk, by=coordinator, on_behalf=True,
                                      reason="Parent did not answer the phone", now=NOW)
    event = s.events.get(kind="reschedule_withdrawn")
    assert (event.actor, event.data["on_behalf_of"]) == (coordinator, "tutor")
    assert session.reschedule_threads.get().status == ThreadStatus.WITHDRAWN


@pytest.mark.parametrize("who", ["tutor", "parent", "outsider"])
def test_only_a_coordinator_answers_on_behalf(request, proposal, session, who):
    before = snapshot(session.pk)
    with pytest.raises(Refused, match="Only a coordinator can answer for someone else.") as exc:
        lifecycle.accept_reschedule(session.pk, proposal.pk, by=request.getfixturevalue(who), on_behalf=True,
                                    reason="ok", now=NOW)
    assert exc.value.status == 403 and snapshot(session.pk) == before


def test_a_coordinator_without_on_behalf_is_not_a_side(proposal, session, coordinator):
    with pytest.raises(Refused) as exc:
        lifecycle.accept_reschedule(session.pk, proposal.pk, by=coordinator, now=NOW)
    assert exc.value.status == 403


def test_on_behalf_answers_keep_the_expiry_and_staleness_rules(make_session, tutor, coordinator, reasons):
    """L38 and L40 as for the party's own answer: no answer after the original start, no accepting a
    proposed time that has passed."""
    s = make_session(start=NOW + timedelta(days=2))
    p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=1),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    with pytest.raises(Refused, match="This proposal's time has already passed"):
        lifecycle.accept_reschedule(s.pk, p.pk, by=coordinator, on_behalf=True, reason="ok",
                                    now=NOW + timedelta(days=1, hours=1))
    with pytest.raises(Refused, match="expired at the session's start"):
        lifecycle.reject_reschedule(s.pk, p.pk, by=coordinator, reason="late", on_behalf=True,
                                    now=NOW + timedelta(days=2, minutes=1))
    assert s.events.count() == 1


def test_an_answer_to_a_replaced_version_is_refused(proposal, session, parent, coordinator):
    lifecycle.counter_reschedule(session.pk, proposal.pk, by=parent, proposed_start=NEW + H, now=NOW)
    with pytest.raises(Refused, match="no longer open"):
        lifecycle.accept_reschedule(session.pk, proposal.pk, by=coordinator, on_behalf=True, reason="ok", now=NOW)


def test_no_open_request_to_answer(session, coordinator):
    with pytest.raises(Refused, match="There is no open reschedule request") as exc:
        lifecycle.withdraw_reschedule(session.pk, 1, by=coordinator, on_behalf=True, reason="stuck", now=NOW)
    assert exc.value.status == 409


@pytest.mark.django_db(transaction=True)
def test_the_coordinator_and_the_parent_answering_at_once_make_one_winner(make_session, tutor, parent, coordinator,
                                                                         reasons):
    """Two transactions at once: the coordinator accepts for the parent while the parent rejects;
    exactly one answer is recorded and the other is refused."""
    rounds = 8
    for i in range(rounds):
        s = make_session(start=NOW + timedelta(days=2, hours=2 * i))
        p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=10, hours=2 * i),
                                         reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
        turn = iter(["coordinator", "parent"])

        def answer(s=s, p=p, turn=turn):
            who = next(turn)
            try:
                if who == "coordinator":
                    lifecycle.accept_reschedule(s.pk, p.pk, by=coordinator, on_behalf=True, reason="Agreed by phone",
                                                now=NOW)
                else:
                    lifecycle.reject_reschedule(s.pk, p.pk, by=parent, reason="No, thanks", now=NOW)
            except Refused:
                return (who, False)
            return (who, True)

        results = at_once(answer)
        assert sorted(ok for _, ok in results) == [False, True], results
        answers = SessionEvent.objects.filter(session=s, kind__in=("reschedule_accepted", "reschedule_rejected"))
        assert answers.count() == 1
        thread = RescheduleThread.objects.get(session=s)
        winner = next(who for who, ok in results if ok)
        assert thread.status == (ThreadStatus.ACCEPTED if winner == "coordinator" else ThreadStatus.REJECTED)
