from datetime import timedelta

import pytest

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import ProposalStatus, Session, SessionEvent, Status, ThreadStatus
from tests.conftest import NOW


def guidance_id(session, user, now=NOW, as_role=None):
    return lifecycle.cancellation_guidance(session, by=user, as_role=as_role, now=now)["policy_id"]


def test_the_parent_cancels_with_a_reason_after_seeing_the_guidance(session, parent, reasons, policies):
    """L09 L36 L37: a reason from the parent's picker and the penalty band shown before confirming."""
    g = lifecycle.cancellation_guidance(session, by=parent, now=NOW)
    assert g["policy_id"] == policies["parent_free"].id  # exactly 48 h ahead: the 48 h+ band
    s = lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=g["policy_id"],
                         now=NOW)
    assert s.status == Status.CANCELLED_BY_PARENT
    event = s.events.last()
    assert event.data["policy_id"] == g["policy_id"] and event.reason == "Schedule conflict"


def test_guidance_bands_and_the_waiver_reminder(make_session, parent, tutor, policies):
    """L37: the current sheet-based penalty plus the coordinator-waiver reminder."""
    far, half, near = (make_session(start=NOW + timedelta(hours=h)) for h in (72, 30, 5))
    assert guidance_id(far, parent) == policies["parent_free"].id
    assert guidance_id(half, parent) == policies["parent_half"].id
    g = lifecycle.cancellation_guidance(near, by=parent, now=NOW)
    assert (g["policy_id"], g["penalty"]) == (policies["parent_full"].id, "Full lesson")
    assert "coordinator can waive" in g["waiver_reminder"]
    assert guidance_id(near, tutor) == policies["tutor_late"].id
    assert guidance_id(far, tutor) is None


def test_a_cancel_confirmed_against_old_terms_is_refused(make_session, parent, reasons, policies):
    """L37: the band changed between showing and confirming (time passed): show it again."""
    s = make_session(start=NOW + timedelta(hours=50))
    shown = guidance_id(s, parent)  # free band
    with pytest.raises(Refused, match="cancellation terms have changed"):
        lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=shown,
                         now=NOW + timedelta(hours=3))
    s.refresh_from_db()
    assert s.status == Status.SCHEDULED


def test_the_tutor_cancels_with_the_tutors_reasons_only(session, tutor, reasons):
    """L08 L36: the tutor's picker; a parent's reason is refused."""
    with pytest.raises(Refused, match="Choose one of the tutor's cancel reasons"):
        lifecycle.cancel(session, by=tutor, reason_id=reasons[("parent", "cancel")].id, now=NOW)
    s = lifecycle.cancel(session, by=tutor, reason_id=reasons[("tutor", "cancel")].id, now=NOW)
    assert s.status == Status.CANCELLED_BY_TUTOR


def test_a_reason_is_required_and_other_needs_a_note(session, parent, reasons):
    """L36: both cancel and reschedule require a reason."""
    with pytest.raises(Refused, match="Please choose a reason"):
        lifecycle.cancel(session, by=parent, reason_id=None, now=NOW)
    with pytest.raises(Refused, match="Please say more"):
        lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel", "other")].id, now=NOW)
    lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel", "other")].id, note="Moving house",
                     now=NOW)
    assert Session.objects.get(pk=session.pk).status == Status.CANCELLED_BY_PARENT
    assert SessionEvent.objects.get(session=session).reason.endswith(": Moving house")


def test_cancel_is_locked_within_4_hours(make_session, parent, reasons):
    """L32: more than 4 hours before the start; exactly 4 hours is too late."""
    s = make_session(start=NOW + timedelta(hours=4))
    with pytest.raises(Refused, match="Online changes close 4 hours before the start: message your coordinator."):
        lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, now=NOW)
    lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, now=NOW - timedelta(seconds=1))
    assert Session.objects.get(pk=s.pk).status == Status.CANCELLED_BY_PARENT


@pytest.mark.parametrize("status", [s for s in Status if s != Status.SCHEDULED])
def test_only_scheduled_sessions_can_be_cancelled(make_session, parent, reasons, status):
    """L32: only while still scheduled."""
    s = make_session(status=status)
    with pytest.raises(Refused, match="Only a scheduled session can be cancelled."):
        lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, now=NOW)


def test_past_sessions_cannot_be_cancelled(make_session, tutor, reasons):
    """L32: only in the future."""
    s = make_session(start=NOW - timedelta(minutes=1))
    with pytest.raises(Refused, match="already started"):
        lifecycle.cancel(s, by=tutor, reason_id=reasons[("tutor", "cancel")].id, now=NOW)


def test_cancelling_closes_the_open_reschedule_thread(session, parent, tutor, reasons):
    """L41: cancel is allowed while a request is open, and closes the thread."""
    p = lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    s = lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id, now=NOW)
    p.refresh_from_db()
    p.thread.refresh_from_db()
    assert s.status == Status.CANCELLED_BY_PARENT
    assert (p.status, p.thread.status) == (ProposalStatus.CLOSED, ThreadStatus.CLOSED)


def test_a_coordinator_cancels_on_behalf_within_4_hours(make_session, coordinator, reasons):
    """The 4-hour lockout sends people to the coordinator, who can cancel for either side."""
    s = make_session(start=NOW + timedelta(hours=1))
    s = lifecycle.cancel(s, by=coordinator, on_behalf_of="tutor", reason_id=reasons[("tutor", "cancel")].id,
                         now=NOW)
    assert s.status == Status.CANCELLED_BY_TUTOR


def test_outsiders_and_students_cannot_cancel(session, outsider, student, reasons):
    for user in (outsider, student):
        with pytest.raises(Refused) as exc:
            lifecycle.cancel(session, by=user, reason_id=reasons[("parent", "cancel")].id, now=NOW)
        assert exc.value.status == 403
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED


def test_trial_sessions_use_the_same_cancel_flow(make_session, parent, reasons):
    """L42."""
    s = make_session(is_trial=True, start=NOW + timedelta(hours=3))
    with pytest.raises(Refused, match="Online changes close 4 hours before the start"):
        lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, now=NOW)


def test_a_coordinator_cannot_cancel_a_session_that_started(make_session, coordinator, reasons):
    s = make_session(start=NOW - timedelta(minutes=5))
    with pytest.raises(Refused, match="already started"):
        lifecycle.cancel(s, by=coordinator, on_behalf_of="parent", reason_id=reasons[("parent", "cancel")].id,
                         now=NOW)
