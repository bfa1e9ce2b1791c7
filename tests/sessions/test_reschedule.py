from datetime import timedelta

import pytest
from django.db import IntegrityError

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import ProposalStatus, RescheduleThread, SessionEvent, Status, ThreadStatus
from tests.conftest import NOW

NEW = NOW + timedelta(days=5, hours=3)


@pytest.fixture
def proposal(session, tutor, reasons):
    return lifecycle.propose_reschedule(session, by=tutor, proposed_start=NEW,
                                        reason_id=reasons[("tutor", "reschedule")].id, note="Exam week", now=NOW)


def test_a_proposal_keeps_the_duration(make_session, parent, reasons):
    """L35: the server derives the new end from the original duration."""
    s = make_session(minutes=90)
    p = lifecycle.propose_reschedule(s, by=parent, proposed_start=NEW, reason_id=reasons[("parent", "reschedule")].id,
                                     now=NOW)
    assert (p.proposed_start, p.proposed_end, p.version) == (NEW, NEW + timedelta(minutes=90), 1)
    assert p.thread.opened_by_role == "parent" and p.thread.status == ThreadStatus.OPEN


def test_the_parent_accepts_the_tutors_proposal(proposal, session, parent):
    """L39: the counterparty accepts; the session moves, duration kept."""
    s = lifecycle.accept_reschedule(session, proposal.id, by=parent, now=NOW + timedelta(hours=1))
    assert (s.scheduled_start, s.scheduled_end, s.status) == (NEW, NEW + timedelta(hours=1), Status.SCHEDULED)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.ACCEPTED and proposal.thread.status == ThreadStatus.ACCEPTED
    assert s.events.last().data["old_start"] == (NOW + timedelta(days=2)).isoformat()


def test_the_proposer_cannot_answer_their_own_proposal(proposal, session, tutor):
    """L39: approval must come from the counterparty."""
    with pytest.raises(Refused, match="Only the other side can answer this proposal.") as exc:
        lifecycle.accept_reschedule(session, proposal.id, by=tutor, now=NOW)
    assert exc.value.status == 403


def test_only_one_open_thread_and_version(proposal, session, parent, reasons):
    """L34: one open proposal version at a time; a second request is refused."""
    with pytest.raises(Refused, match="already open"):
        lifecycle.propose_reschedule(session, by=parent, proposed_start=NEW + timedelta(days=1),
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)


def test_a_counter_proposal_is_a_new_version_answered_by_the_other_side(proposal, session, parent, tutor):
    """L39: the responder may counter-propose instead of rejecting."""
    later = NEW + timedelta(days=1)
    v2 = lifecycle.counter_reschedule(session, proposal.id, by=parent, proposed_start=later, note="Sat instead",
                                      now=NOW)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.COUNTERED
    assert (v2.version, v2.proposed_by_role, v2.status) == (2, "parent", ProposalStatus.OPEN)
    with pytest.raises(Refused, match="Only the other side"):
        lifecycle.accept_reschedule(session, v2.id, by=parent, now=NOW)
    with pytest.raises(Refused, match="no longer open"):
        lifecycle.accept_reschedule(session, proposal.id, by=tutor, now=NOW)
    s = lifecycle.accept_reschedule(session, v2.id, by=tutor, now=NOW)
    assert s.scheduled_start == later


def test_reject_needs_a_reason_and_keeps_the_slot(proposal, session, parent):
    with pytest.raises(Refused, match="Please give a reason"):
        lifecycle.reject_reschedule(session, proposal.id, by=parent, reason="", now=NOW)
    s = lifecycle.reject_reschedule(session, proposal.id, by=parent, reason="We travel that week", now=NOW)
    assert s.scheduled_start == NOW + timedelta(days=2)
    assert RescheduleThread.objects.get().status == ThreadStatus.REJECTED


def test_a_proposal_in_the_past_is_refused(session, tutor, reasons):
    """L38: the proposed slot must be in the future."""
    with pytest.raises(Refused, match="must be in the future") as exc:
        lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW - timedelta(minutes=1),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    assert exc.value.status == 422
    assert not RescheduleThread.objects.exists()


def test_a_stale_proposal_cannot_be_accepted(make_session, tutor, parent, reasons):
    """L38: after its proposed start has passed, a proposal cannot be approved."""
    s = make_session(start=NOW + timedelta(days=3))
    p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=1),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    with pytest.raises(Refused, match="time has already passed"):
        lifecycle.accept_reschedule(s, p.id, by=parent, now=NOW + timedelta(days=1, seconds=1))
    s.refresh_from_db()
    assert s.scheduled_start == NOW + timedelta(days=3)


def test_reschedule_is_locked_within_4_hours(make_session, tutor, reasons):
    """L32."""
    s = make_session(start=NOW + timedelta(hours=3, minutes=59))
    with pytest.raises(Refused, match="Online changes close 4 hours before the start"):
        lifecycle.propose_reschedule(s, by=tutor, proposed_start=NEW, reason_id=reasons[("tutor", "reschedule")].id,
                                     now=NOW)


def test_a_proposal_that_clashes_with_the_tutors_calendar_is_refused(make_session, session, parent, reasons):
    make_session(start=NEW + timedelta(minutes=30))
    with pytest.raises(Refused, match="already has a session at that time"):
        lifecycle.propose_reschedule(session, by=parent, proposed_start=NEW,
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)


def test_the_proposer_may_withdraw(proposal, session, tutor, parent):
    with pytest.raises(Refused):
        lifecycle.withdraw_reschedule(session, proposal.id, by=parent, now=NOW)
    lifecycle.withdraw_reschedule(session, proposal.id, by=tutor, now=NOW)
    assert RescheduleThread.objects.get().status == ThreadStatus.WITHDRAWN


def test_an_unanswered_request_expires_at_the_original_start(proposal, session):
    """L10 L40: unresolved at the original start: expired, session not_completed."""
    assert lifecycle.expire_reschedule(session, now=session.scheduled_start - timedelta(seconds=1)) is None
    s = lifecycle.expire_reschedule(session, now=session.scheduled_start)
    assert s.status == Status.NOT_COMPLETED
    proposal.refresh_from_db()
    assert (proposal.status, proposal.thread.status) == (ProposalStatus.EXPIRED, ThreadStatus.EXPIRED)
    assert s.events.last().kind == "reschedule_expired"


def test_answers_after_the_original_start_are_refused(proposal, session, parent):
    """L40: even before the sweep has run, the request is over at the original start."""
    with pytest.raises(Refused, match="expired at the session's start"):
        lifecycle.accept_reschedule(session, proposal.id, by=parent, now=session.scheduled_start)


def test_trial_sessions_use_the_same_reschedule_flow(make_session, parent, tutor, reasons):
    """L42."""
    s = make_session(is_trial=True)
    p = lifecycle.propose_reschedule(s, by=parent, proposed_start=NEW, reason_id=reasons[("parent", "reschedule")].id,
                                     now=NOW)
    assert lifecycle.accept_reschedule(s, p.id, by=tutor, now=NOW).scheduled_start == NEW


def test_each_step_writes_exactly_one_event(proposal, session, parent):
    lifecycle.counter_reschedule(session, proposal.id, by=parent, proposed_start=NEW + timedelta(hours=2), now=NOW)
    kinds = list(SessionEvent.objects.filter(session=session).values_list("kind", flat=True))
    assert kinds == ["reschedule_proposed", "reschedule_countered"]


def test_the_database_forbids_two_open_threads(proposal, session, tutor, reasons):
    """L34: enforced by a partial unique index, not only by the code."""
    with pytest.raises(IntegrityError):
        RescheduleThread.objects.create(session=session, opened_by=tutor, opened_by_role="tutor",
                                        reason=reasons[("tutor", "reschedule")], created_at=NOW)
