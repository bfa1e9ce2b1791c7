"""Issue 17 item 4: a coordinator waives a cancellation's penalty with a reason (lifecycle.waive_penalty):
one penalty_waived event with the coordinator as actor, no status change; the outcome line and the
notifications then say it is waived. A dispute approved with the credit waived uses none."""

from datetime import timedelta

import pytest

from sessions import lifecycle, projections, selectors
from sessions.errors import Refused
from sessions.models import PackageDeduction, Session, SessionEvent, Status
from tests.conftest import NOW


@pytest.fixture
def late_cancel(make_session, parent, reasons, policies):
    """The parent cancelled 10 hours ahead: the full lesson is charged."""
    s = make_session(start=NOW + timedelta(hours=10))
    shown = lifecycle.cancellation_guidance(s, by=parent, now=NOW)["policy_id"]
    return lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=shown, now=NOW)


def test_a_coordinator_waives_a_charged_cancellation_with_a_reason(late_cancel, coordinator, parent):
    """Issue 17 item 4: the event names the coordinator and the reason; the status stays."""
    event = lifecycle.waive_penalty(late_cancel, by=coordinator, reason="Family emergency.", now=NOW + timedelta(hours=1))
    late_cancel.refresh_from_db()
    assert late_cancel.status == Status.CANCELLED_BY_PARENT
    assert (event.kind, event.actor, event.reason, event.channel) == ("penalty_waived", coordinator,
                                                                      "Family emergency.", "admin")
    assert event.from_status == event.to_status == Status.CANCELLED_BY_PARENT
    assert event.data["penalty"] == "Full lesson" and event.data["role"] == "parent"
    shown = selectors.with_outcomes(Session.objects.filter(pk=late_cancel.pk)).get()
    lines = projections.outcomes(shown, parent)
    assert any(line.endswith("Charge: Full lesson: 1 credit (waived).") for line in lines), lines
    assert any(line.startswith("Cancellation penalty waived by Coco") for line in lines), lines


@pytest.mark.parametrize(("who", "reason", "code"), [
    ("parent", "Please.", "not_allowed"), ("tutor", "Please.", "not_allowed"),
    ("coordinator", "", "reason_required"), ("coordinator", "Bad\x00byte", "control_characters")])
def test_only_a_coordinator_with_a_reason_can_waive(late_cancel, request, who, reason, code):
    events = SessionEvent.objects.count()
    with pytest.raises(Refused) as exc:
        lifecycle.waive_penalty(late_cancel, by=request.getfixturevalue(who), reason=reason, now=NOW)
    assert exc.value.code == code or (code == "control_characters" and exc.value.status == 422), exc.value.code
    assert SessionEvent.objects.count() == events


def test_nothing_to_waive_is_refused(make_session, coordinator, parent, reasons, policies):
    """A free cancel, a session not cancelled, and a penalty already waived: refused, nothing written."""
    free = make_session(start=NOW + timedelta(days=3))
    lifecycle.cancel(free, by=parent, reason_id=reasons[("parent", "cancel")].id,
                     policy_id=policies["parent_free"].id, now=NOW)
    with pytest.raises(Refused, match="nothing to waive"):
        lifecycle.waive_penalty(free, by=coordinator, reason="Kind.", now=NOW)
    scheduled = make_session(start=NOW + timedelta(days=5))
    with pytest.raises(Refused, match="Only a cancelled session"):
        lifecycle.waive_penalty(scheduled, by=coordinator, reason="Kind.", now=NOW)
    late = make_session(start=NOW + timedelta(hours=6))
    lifecycle.cancel(late, by=parent, reason_id=reasons[("parent", "cancel")].id,
                     policy_id=policies["parent_full"].id, now=NOW)
    lifecycle.waive_penalty(late, by=coordinator, reason="Illness.", now=NOW)
    with pytest.raises(Refused, match="Coco already waived this penalty"):
        lifecycle.waive_penalty(late, by=coordinator, reason="Again.", now=NOW)
    assert SessionEvent.objects.filter(kind="penalty_waived").count() == 1


def test_a_tutors_strike_can_be_waived(make_session, tutor, coordinator, reasons, policies):
    """A penalty without a charge to the package (a reliability strike) is a penalty too."""
    s = make_session(start=NOW + timedelta(hours=20))
    lifecycle.cancel(s, by=tutor, reason_id=reasons[("tutor", "cancel")].id, policy_id=policies["tutor_late"].id,
                     now=NOW)
    assert lifecycle.waive_penalty(s, by=coordinator, reason="Hospital.", now=NOW).data["penalty"] == "Reliability strike"


def test_a_dispute_approved_with_the_credit_waived_uses_none(awaiting, parent, coordinator, package):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor arrived forty minutes late.", now=NOW)
    s = lifecycle.resolve_dispute(awaiting, by=coordinator, decision="approve", waive=True, reason="Goodwill.",
                                  now=NOW)
    assert s.status == Status.APPROVED and not PackageDeduction.objects.filter(session=s).exists()
    assert s.events.last().data == {"decision": "approve", "waived": True, "deduction": "waived"}


def test_waiving_the_credit_of_a_void_is_refused(awaiting, parent, coordinator):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor arrived forty minutes late.", now=NOW)
    with pytest.raises(Refused, match="Only an approval"):
        lifecycle.resolve_dispute(awaiting, by=coordinator, decision="void", waive=True, reason="x", now=NOW)
    awaiting.refresh_from_db()
    assert awaiting.status == Status.DISPUTED


def test_the_parent_and_the_tutor_are_told_of_the_waiver(late_cancel, coordinator, time_machine):
    from notifications.models import Notification
    from tests.notifications.conftest import sweep

    time_machine.move_to(NOW, tick=False)
    Notification.objects.all().delete()
    lifecycle.waive_penalty(late_cancel, by=coordinator, reason="Family emergency.", now=NOW)
    sweep(NOW)
    told = {n.recipient.username: n for n in Notification.objects.filter(kind="penalty_waived")}
    assert set(told) == {"pat", "tia"}
    assert "waived the cancellation penalty (Full lesson)" in told["pat"].text
    assert "Family emergency." in told["pat"].text


@pytest.mark.django_db(transaction=True)
def test_two_coordinators_waiving_at_once_record_one_waiver(make_session, parent, coordinator, reasons, policies):
    """The session row lock serialises them: the second is told who waived first."""
    from tests.conftest import at_once, make_user
    from tutoring.models import Role

    s = make_session(start=NOW + timedelta(hours=6))
    lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, policy_id=policies["parent_full"].id,
                     now=NOW)
    people = iter([coordinator, make_user("cora", Role.COORDINATOR, is_staff=True)])

    def waive():
        try:
            lifecycle.waive_penalty(s.pk, by=next(people), reason="Emergency.", now=NOW)
            return "won"
        except Refused as exc:
            return exc.message

    results = at_once(waive)
    assert results.count("won") == 1
    assert any(r.endswith("already waived this penalty. Nothing was changed.") for r in results if r != "won")
    assert SessionEvent.objects.filter(kind="penalty_waived").count() == 1
