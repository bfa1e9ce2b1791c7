from datetime import timedelta

import pytest
from django.core import mail

from notifications.models import Notification
from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import PackageDeduction, Session, Source, Status
from tests.conftest import NOW

END = NOW - timedelta(hours=1)


@pytest.fixture
def finished(make_session):
    return make_session(start=END - timedelta(hours=1), status=Status.AWAITING_APPROVAL_PARENT,
                        checked_in_at=END - timedelta(hours=1), checked_out_at=END)


def test_the_parent_acknowledges_and_a_credit_is_used(finished, parent, package):
    """L06 L26: acknowledge moves to approved and deducts one credit from the package."""
    s = lifecycle.acknowledge(finished, by=parent, now=NOW)
    assert s.status == Status.APPROVED
    assert PackageDeduction.objects.get(session=s).package == package
    assert s.events.last().data == {"deduction": "deducted", "package_id": package.id}


def test_a_native_session_needs_both_attendance_times(make_session, parent, package):
    """L26: native sessions need checked_in_at and checked_out_at before acknowledgement."""
    s = make_session(start=END - timedelta(hours=1), status=Status.AWAITING_APPROVAL_PARENT)
    with pytest.raises(Refused, match="no check-in and check-out on record"):
        lifecycle.acknowledge(s, by=parent, now=NOW)
    assert not PackageDeduction.objects.exists()


@pytest.mark.parametrize("source", [Source.IMPORTED, Source.LEGACY])
def test_imported_and_legacy_sessions_are_exempt(make_session, parent, package, source):
    """L29: imported/legacy sessions need no attendance and deduct no credit."""
    s = make_session(start=END - timedelta(hours=1), status=Status.AWAITING_APPROVAL_PARENT, source=source)
    lifecycle.acknowledge(s, by=parent, now=NOW)
    s.refresh_from_db()
    assert s.status == Status.APPROVED and not PackageDeduction.objects.exists()


@pytest.mark.parametrize("flag", ["billed_as_addon", "is_trial"])
def test_addon_and_trial_sessions_deduct_nothing(make_session, parent, package, flag):
    """L30: add-on sessions are billed separately (and trials are free)."""
    s = make_session(start=END - timedelta(hours=1), status=Status.AWAITING_APPROVAL_PARENT,
                     checked_in_at=END - timedelta(hours=1), checked_out_at=END, **{flag: True})
    lifecycle.acknowledge(s, by=parent, now=NOW)
    assert not PackageDeduction.objects.exists()


def test_it_uses_the_soonest_expiring_package_with_credit(finished, parent, student, package):
    from tutoring.models import LessonPackage

    sooner = LessonPackage.objects.create(student=student, credits=1, expires_on=package.expires_on - timedelta(days=30))
    expired = LessonPackage.objects.create(student=student, credits=5, expires_on=END.date() - timedelta(days=1))
    lifecycle.acknowledge(finished, by=parent, now=NOW)
    assert PackageDeduction.objects.get().package == sooner
    assert expired.deductions.count() == 0


def test_approval_without_credit_is_recorded(finished, parent):
    """Approval is not blocked by billing; the event says no credit was available."""
    lifecycle.acknowledge(finished, by=parent, now=NOW)
    assert finished.events.last().data == {"deduction": "no_credit"}


def test_only_the_parent_acknowledges(finished, tutor, student, outsider, coordinator):
    """L06: only the parent (guardian) acknowledges."""
    for user in (tutor, student, outsider, coordinator):
        with pytest.raises(Refused) as exc:
            lifecycle.acknowledge(finished, by=user, now=NOW)
        assert exc.value.status == 403
    finished.refresh_from_db()
    assert finished.status == Status.AWAITING_APPROVAL_PARENT


def test_a_second_acknowledgement_is_refused_and_deducts_nothing(finished, parent, package):
    """L26: never two deductions for one session."""
    lifecycle.acknowledge(finished, by=parent, now=NOW)
    with pytest.raises(Refused):
        lifecycle.acknowledge(finished, by=parent, now=NOW)
    assert PackageDeduction.objects.count() == 1


def test_dispute_needs_a_reason_and_notifies_coordinators(finished, parent, coordinator, tutor,
                                                          django_capture_on_commit_callbacks):
    """L07 L27: the parent disputes with a reason; coordinators, the course's creator and the
    session's tutor are notified in-app and by email."""
    with pytest.raises(Refused, match="Please give a reason"):
        lifecycle.dispute(finished, by=parent, reason="  ", now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        s = lifecycle.dispute(finished, by=parent, reason="The tutor left after 20 minutes.", now=NOW)
        assert not Notification.objects.exists(), "notifications go out only after commit"
    assert s.status == Status.DISPUTED
    note = Notification.objects.get(recipient=coordinator)
    assert "The tutor left after 20 minutes." in note.text
    assert sorted(m.to for m in mail.outbox) == sorted([[coordinator.email], [finished.course.creator.email],
                                                        [tutor.email]])


def test_verify_needs_a_reason_and_approves_with_a_deduction(finished, coordinator, package):
    """L28: the coordinator override uses verify and requires a reason."""
    with pytest.raises(Refused) as exc:
        lifecycle.verify(finished, by=coordinator, reason="", now=NOW)
    assert exc.value.status == 422
    s = lifecycle.verify(finished, by=coordinator, reason="Confirmed by phone with the parent", now=NOW)
    assert s.status == Status.APPROVED and PackageDeduction.objects.filter(session=s).exists()
    assert s.events.last().reason == "Confirmed by phone with the parent"


def test_only_coordinators_verify(finished, parent, tutor):
    """L28."""
    for user in (parent, tutor):
        with pytest.raises(Refused) as exc:
            lifecycle.verify(finished, by=user, reason="because", now=NOW)
        assert exc.value.status == 403


def test_verify_refuses_a_session_that_has_not_started(session, coordinator):
    with pytest.raises(Refused, match="has not started"):
        lifecycle.verify(session, by=coordinator, reason="early", now=NOW)


@pytest.mark.parametrize(("decision", "status", "deducted"), [("approve", Status.APPROVED, True),
                                                              ("void", Status.NOT_COMPLETED, False)])
def test_resolving_a_dispute(finished, parent, coordinator, package, decision, status, deducted):
    """L07: a coordinator reviews the dispute and approves or voids it, with a reason."""
    lifecycle.dispute(finished, by=parent, reason="The lesson was far too short.", now=NOW)
    s = lifecycle.resolve_dispute(finished, by=coordinator, decision=decision, reason="Checked the recording",
                                  now=NOW)
    assert s.status == status
    assert PackageDeduction.objects.filter(session=s).exists() == deducted


def test_the_creator_of_the_course_may_resolve_a_dispute(finished, parent, creator, outsider):
    lifecycle.dispute(finished, by=parent, reason="The lesson was far too short.", now=NOW)
    with pytest.raises(Refused):
        lifecycle.resolve_dispute(finished, by=outsider, decision="void", reason="x", now=NOW)
    lifecycle.resolve_dispute(finished, by=creator, decision="void", reason="Tutor confirmed", now=NOW)
    assert Session.objects.get(pk=finished.pk).status == Status.NOT_COMPLETED


def test_a_package_is_used_by_credits_not_by_rows(finished, make_session, parent, student):
    """The ledger's credits count (a row may carry more than one): a package whose credits are
    spent is not used again."""
    from tutoring.models import LessonPackage

    small = LessonPackage.objects.create(student=student, credits=2, expires_on=(NOW + timedelta(days=30)).date())
    earlier = make_session(start=NOW - timedelta(days=3), status=Status.APPROVED)
    PackageDeduction.objects.create(package=small, session=earlier, credits=2, created_at=NOW)
    lifecycle.acknowledge(finished, by=parent, now=NOW)
    assert finished.events.last().data == {"deduction": "no_credit"}
