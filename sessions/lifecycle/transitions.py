"""Attendance and approval: check-in, check-out, notes, the parent's acknowledgement or dispute,
and a coordinator's verify, dispute decision and no-show (each a guarded edge of rules.EDGES)."""

from datetime import datetime

from django.db import transaction

from tutoring.celery import publish
from tutoring.models import User

from .. import projections, rules
from ..errors import INVALID, Refused
from ..models import (
    Channel,
    NoShowParty,
    PackageDeduction,
    ProposalStatus,
    Session,
    SessionEvent,
    Status,
    ThreadStatus,
)
from .core import _close_thread, _record, _save, _silenced, _transition

LOW_BALANCE_TASK = "desk.tasks.alert_low_balance"

# --- attendance -------------------------------------------------------------------------------


@transaction.atomic
def check_in(session, *, by: User, now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The tutor starts the session: from 30 minutes before start until the end of that day."""
    session, ctx, before = _transition(session, guard=rules.guard_check_in, by=by, now=now)
    session.status = Status.CHECKED_IN
    session.checked_in_at = ctx.now
    _save(session, ctx.now, "status", "checked_in_at")
    _record(session, by=by, channel=channel, kind="check_in", from_status=before, now=ctx.now)
    return session


@transaction.atomic
def check_out(session, *, by: User, student_absent: bool = False, now: datetime | None = None,
              channel: str = Channel.WEB) -> Session:
    """The tutor ends the session (then writes notes); "student absent" makes it a no-show."""
    session, ctx, before = _transition(session, guard=rules.guard_check_out, by=by, now=now)
    session.checked_out_at = ctx.now
    if student_absent:
        session.status = Status.NO_SHOW
        session.no_show_party = NoShowParty.STUDENT
        _save(session, ctx.now, "status", "checked_out_at", "no_show_party")
        _record(session, by=by, channel=channel, kind="no_show", from_status=before, now=ctx.now,
                reason="The student did not attend.", data={"party": NoShowParty.STUDENT})
    else:
        session.status = Status.AWAITING_APPROVAL_PARENT
        _save(session, ctx.now, "status", "checked_out_at")
        _record(session, by=by, channel=channel, kind="check_out", from_status=before, now=ctx.now)
    return session


@transaction.atomic
def record_notes(session, *, by: User, data: dict, now: datetime | None = None,
                 channel: str = Channel.WEB) -> tuple[Session, SessionEvent]:
    """The tutor adds notes (notes.services stores them in the same transaction): the guard
    under the session lock, then a notes_added event that tells the parents."""
    session, ctx, before = _transition(session, guard=rules.guard_add_notes, by=by, now=now)
    event = _record(session, by=by, channel=channel, kind="notes_added", from_status=before, now=ctx.now,
                    data=data)
    return session, event


# --- approval ---------------------------------------------------------------------------------


def _deduct(session: Session, now: datetime) -> dict:
    """One credit from the student's soonest-expiring valid package; never twice (unique per
    session in the database), never for add-on, trial, imported or legacy sessions."""
    if not session.deducts_credit:
        return {"deduction": "exempt"}
    if PackageDeduction.objects.filter(session=session).exists():
        return {"deduction": "already"}
    _, with_credit = projections.credit_packages(session, lock=True)
    if not with_credit:
        return {"deduction": "no_credit"}
    package = with_credit[0]
    PackageDeduction.objects.create(package=package, session=session, credits=1, created_at=now)
    # the desk tells the family and the coordinators once the package runs low (by task name: the
    # desk sits above sessions; its beat sweep catches a lost publish). Replayed history tells nobody.
    if not _silenced.get():
        transaction.on_commit(lambda: publish(LOW_BALANCE_TASK, package.id))
    return {"deduction": "deducted", "package_id": package.id}


@transaction.atomic
def acknowledge(session, *, by: User, now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The parent confirms the session took place; it becomes approved and a credit is used."""
    session, ctx, before = _transition(session, guard=rules.guard_acknowledge, by=by, now=now)
    session.status = Status.APPROVED
    _save(session, ctx.now, "status")
    _record(session, by=by, channel=channel, kind="acknowledge", from_status=before, now=ctx.now,
            data=_deduct(session, ctx.now))
    return session


@transaction.atomic
def dispute(session, *, by: User, reason: str, now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The parent flags a problem (a reason a coordinator can act on); coordinators are notified."""
    reason = rules.require_text(reason, "reason for the dispute", min_length=rules.MIN_DISPUTE_REASON,
                                too_short=rules.DISPUTE_TOO_SHORT)
    session, ctx, before = _transition(session, guard=rules.guard_dispute, by=by, now=now)
    session.status = Status.DISPUTED
    _save(session, ctx.now, "status")
    _record(session, by=by, channel=channel, kind="dispute", from_status=before, now=ctx.now, reason=reason)
    return session


@transaction.atomic
def verify(session, *, by: User, reason: str, seen_status: str | None = None, now: datetime | None = None,
           channel: str = Channel.ADMIN) -> Session:
    """Coordinator approval override: approves without the parent and without attendance; with
    `seen_status`, only the session the coordinator saw (a dispute since is reviewed first)."""
    reason = rules.require_text(reason, "reason for the override")
    session, ctx, before = _transition(session, guard=rules.guard_verify, by=by, now=now, seen_status=seen_status)
    if ctx.open_thread is not None:
        _close_thread(ctx, ThreadStatus.CLOSED, ProposalStatus.CLOSED)
    session.status = Status.APPROVED
    _save(session, ctx.now, "status")
    _record(session, by=by, channel=channel, kind="verify", from_status=before, now=ctx.now, reason=reason,
            data=_deduct(session, ctx.now))
    return session


@transaction.atomic
def resolve_dispute(session, *, by: User, decision: str, reason: str, waive: bool = False,
                    seen_status: str | None = None, now: datetime | None = None,
                    channel: str = Channel.ADMIN) -> Session:
    """approve: the session counts (a credit is used); void: it does not (not_completed);
    approve with waive: it counts for the tutor and the family's credit is waived (none used)."""
    if decision not in ("approve", "void"):
        raise Refused("Decide approve or void.", code="invalid_decision", status=INVALID)
    if waive and decision != "approve":
        raise Refused("Only an approval can waive the lesson credit.", code="invalid_decision", status=INVALID)
    reason = rules.require_text(reason, "reason for the decision")
    session, ctx, before = _transition(session, guard=rules.guard_resolve_dispute, by=by, now=now,
                                       seen_status=seen_status)
    session.status = Status.APPROVED if decision == "approve" else Status.NOT_COMPLETED
    _save(session, ctx.now, "status")
    data = {"decision": decision}
    if waive:
        data |= {"waived": True, "deduction": "waived"}
    elif decision == "approve":
        data |= _deduct(session, ctx.now)
    _record(session, by=by, channel=channel, kind="resolve_dispute", from_status=before, now=ctx.now,
            reason=reason, data=data)
    return session


@transaction.atomic
def mark_no_show(session, *, by: User, party: str, reason: str, seen_status: str | None = None,
                 now: datetime | None = None, channel: str = Channel.ADMIN) -> Session:
    """A coordinator records who did not attend."""
    if party not in NoShowParty.values:
        raise Refused("Say who did not attend: student or tutor.", code="invalid_party", status=INVALID)
    reason = rules.require_text(reason, "reason")
    session, ctx, before = _transition(session, guard=rules.guard_mark_no_show, by=by, now=now,
                                       seen_status=seen_status)
    if ctx.open_thread is not None:
        _close_thread(ctx, ThreadStatus.CLOSED, ProposalStatus.CLOSED)
    session.status = Status.NO_SHOW
    session.no_show_party = party
    _save(session, ctx.now, "status", "no_show_party")
    _record(session, by=by, channel=channel, kind="no_show", from_status=before, now=ctx.now, reason=reason,
            data={"party": party})
    return session
