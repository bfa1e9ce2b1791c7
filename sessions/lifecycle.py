"""The session lifecycle: the only code that changes a session's status, slot or threads.

Web views, the JSON API, the Telegram bot, admin actions and the Celery sweeps all call these.
Each transition runs in one transaction: lock the session row and re-read it, check the guards of
rules.py against an injected `now`, write, append exactly one SessionEvent, and register its
side effects (notifications: the event is the outbox's message) after commit. A refusal raises
errors.Refused.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from tutoring.models import Course, Enrollment, LessonPackage, Match, Role, User

from . import rules
from .access import Relation, Viewer
from .errors import FORBIDDEN, INVALID, Refused
from .models import (
    OCCUPYING_STATUSES,
    CancellationPolicy,
    ChangeKind,
    ChangeReason,
    Channel,
    NoShowParty,
    PackageDeduction,
    Party,
    ProposalStatus,
    RescheduleProposal,
    RescheduleThread,
    Session,
    SessionEvent,
    Source,
    Status,
    ThreadStatus,
    counterparty,
)
from .rules import Ctx

MAX_ADHOC_ROWS = 50


# --- plumbing ---------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


def _lock(session: Session | int) -> Session:
    pk = session.pk if isinstance(session, Session) else session
    try:
        return (
            Session.objects.select_for_update(of=("self",))
            .select_related("tutor", "student", "course")
            .get(pk=pk)
        )
    except Session.DoesNotExist:
        raise Refused("Session not found.", code="not_found", status=404) from None


def _ctx(session: Session, by: User | None, now: datetime) -> Ctx:
    """Read the open thread under the session lock: every thread change locks the session first."""
    rels = Viewer.of(by).relations(session) if by is not None else frozenset()
    thread = session.reschedule_threads.filter(status=ThreadStatus.OPEN).first()
    proposal = thread.proposals.filter(status=ProposalStatus.OPEN).first() if thread else None
    return Ctx(session=session, rels=rels, now=now, open_thread=thread, open_proposal=proposal)


def _record(session: Session, *, by: User | None, channel: str, kind: str, from_status: str, now: datetime,
            reason: str = "", data: dict | None = None) -> SessionEvent:
    to_status = session.status
    if from_status and from_status != to_status:
        assert (from_status, to_status) in rules.EDGES, f"{from_status} -> {to_status} is not an edge"
    event = SessionEvent.objects.create(
        session=session, actor=by, channel=channel, kind=kind, from_status=from_status, to_status=to_status,
        reason=reason, data=data or {}, created_at=now, notified_at=now if _silenced.get() else None,
    )
    _notify_after_commit([event.id])
    return event


_silenced: ContextVar[bool] = ContextVar("lifecycle_silenced", default=False)


@contextmanager
def silenced():
    """Record events without notifying anyone: for replaying history (the demo seed, imports)."""
    token = _silenced.set(True)
    try:
        yield
    finally:
        _silenced.reset(token)


def _notify_after_commit(event_ids: list[int]) -> None:
    """The outbox hook: the events are the messages (notifications.outbox relays them); after
    commit a worker is asked to relay them at once. The request never waits on the broker for
    long nor fails because of it: the beat's relay delivers what the hook could not."""
    if not event_ids or _silenced.get():
        return
    from notifications.outbox import after_commit

    after_commit(event_ids)


@contextmanager
def _slot_taken_as_refusal():
    """The exclusion constraint is the last word on overlaps (a concurrent booking can pass the
    friendly pre-check); its violation becomes the same refusal the pre-check gives."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if "session_tutor_no_overlap" in str(exc):
            raise Refused("The tutor already has a session at that time.", code="slot_taken") from None
        raise


def _save(session: Session, now: datetime, *fields: str) -> None:
    session.updated_at = now
    with _slot_taken_as_refusal():
        session.save(update_fields=[*fields, "updated_at"])


def _transition(session, *, action: str, by: User | None, now: datetime | None):
    """Lock, build the context and run the action's guard; returns (session, ctx, from_status)."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, by, now)
    rules.GUARDS[action](ctx)
    return session, ctx, session.status


def _reason(reason_id, *, party: str, kind: str, note: str) -> tuple[ChangeReason, str]:
    if reason_id in (None, ""):
        raise Refused(f"Please choose a reason for the {kind}.", code="reason_required", status=INVALID)
    try:
        reason = ChangeReason.objects.get(pk=int(reason_id), role=party, kind=kind, active=True)
    except (ValueError, TypeError, ChangeReason.DoesNotExist):
        raise Refused(f"Choose one of the {party}'s {kind} reasons.", code="invalid_reason", status=INVALID) from None
    note = rules.optional_text(note, "note")
    if reason.requires_note and not note:
        raise Refused(f"Please say more about “{reason.label}”.", code="note_required", status=INVALID)
    return reason, note


# --- attendance -------------------------------------------------------------------------------


@transaction.atomic
def check_in(session, *, by: User, now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The tutor starts the session: from 30 minutes before start until the end of that day."""
    session, ctx, before = _transition(session, action="check_in", by=by, now=now)
    session.status = Status.CHECKED_IN
    session.checked_in_at = ctx.now
    _save(session, ctx.now, "status", "checked_in_at")
    _record(session, by=by, channel=channel, kind="check_in", from_status=before, now=ctx.now)
    return session


@transaction.atomic
def check_out(session, *, by: User, student_absent: bool = False, now: datetime | None = None,
              channel: str = Channel.WEB) -> Session:
    """The tutor ends the session (then writes notes); "student absent" makes it a no-show."""
    session, ctx, before = _transition(session, action="check_out", by=by, now=now)
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
    session, ctx, before = _transition(session, action="add_notes", by=by, now=now)
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
    day = session.scheduled_start.astimezone(session.student.tzinfo).date()
    packages = list(
        LessonPackage.objects.select_for_update()
        .filter(student_id=session.student_id, expires_on__gte=day)
        .filter(Q(course__isnull=True) | Q(course_id=session.course_id))
        .order_by("expires_on", "id")
    )
    used = PackageDeduction.used_by(packages)
    for package in packages:
        if package.credits - used.get(package.id, 0) > 0:
            PackageDeduction.objects.create(package=package, session=session, credits=1, created_at=now)
            return {"deduction": "deducted", "package_id": package.id}
    return {"deduction": "no_credit"}


@transaction.atomic
def acknowledge(session, *, by: User, now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The parent confirms the session took place; it becomes approved and a credit is used."""
    session, ctx, before = _transition(session, action="acknowledge", by=by, now=now)
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
    session, ctx, before = _transition(session, action="dispute", by=by, now=now)
    session.status = Status.DISPUTED
    _save(session, ctx.now, "status")
    _record(session, by=by, channel=channel, kind="dispute", from_status=before, now=ctx.now, reason=reason)
    return session


@transaction.atomic
def verify(session, *, by: User, reason: str, now: datetime | None = None, channel: str = Channel.ADMIN) -> Session:
    """Coordinator approval override: approves without the parent and without attendance."""
    reason = rules.require_text(reason, "reason for the override")
    session, ctx, before = _transition(session, action="verify", by=by, now=now)
    if ctx.open_thread is not None:
        _close_thread(ctx, ThreadStatus.CLOSED, ProposalStatus.CLOSED)
    session.status = Status.APPROVED
    _save(session, ctx.now, "status")
    _record(session, by=by, channel=channel, kind="verify", from_status=before, now=ctx.now, reason=reason,
            data=_deduct(session, ctx.now))
    return session


@transaction.atomic
def resolve_dispute(session, *, by: User, decision: str, reason: str, now: datetime | None = None,
                    channel: str = Channel.ADMIN) -> Session:
    """approve: the session counts (a credit is used); void: it does not (not_completed)."""
    if decision not in ("approve", "void"):
        raise Refused("Decide approve or void.", code="invalid_decision", status=INVALID)
    reason = rules.require_text(reason, "reason for the decision")
    session, ctx, before = _transition(session, action="resolve_dispute", by=by, now=now)
    session.status = Status.APPROVED if decision == "approve" else Status.NOT_COMPLETED
    _save(session, ctx.now, "status")
    data = {"decision": decision}
    if decision == "approve":
        data |= _deduct(session, ctx.now)
    _record(session, by=by, channel=channel, kind="resolve_dispute", from_status=before, now=ctx.now,
            reason=reason, data=data)
    return session


@transaction.atomic
def mark_no_show(session, *, by: User, party: str, reason: str, now: datetime | None = None,
                 channel: str = Channel.ADMIN) -> Session:
    """A coordinator records who did not attend."""
    if party not in NoShowParty.values:
        raise Refused("Say who did not attend: student or tutor.", code="invalid_party", status=INVALID)
    reason = rules.require_text(reason, "reason")
    session, ctx, before = _transition(session, action="mark_no_show", by=by, now=now)
    if ctx.open_thread is not None:
        _close_thread(ctx, ThreadStatus.CLOSED, ProposalStatus.CLOSED)
    session.status = Status.NO_SHOW
    session.no_show_party = party
    _save(session, ctx.now, "status", "no_show_party")
    _record(session, by=by, channel=channel, kind="no_show", from_status=before, now=ctx.now, reason=reason,
            data={"party": party})
    return session


# --- cancel -----------------------------------------------------------------------------------


def cancellation_policy(party: str, session: Session, now: datetime) -> CancellationPolicy | None:
    """The band of the penalty sheet that applies if `party` cancels now."""
    hours = (session.scheduled_start - now).total_seconds() / 3600
    for band in CancellationPolicy.objects.filter(role=party).order_by("-min_hours_before"):
        if hours >= band.min_hours_before and (band.max_hours_before is None or hours < band.max_hours_before):
            return band
    return None


def cancellation_guidance(session: Session, *, by: User, as_role: str | None = None,
                          now: datetime | None = None) -> dict:
    """What the user must see before confirming a cancel (read-only)."""
    from django.conf import settings

    now = _now(now)
    ctx = Ctx(session=session, rels=Viewer.of(by).relations(session), now=now)
    party = rules.acting_party(ctx, as_role)
    refusal = rules.refusal("cancel", ctx)
    band = cancellation_policy(party, session, now)
    return {
        "role": party,
        "allowed": refusal is None,
        "refusal": refusal.message if refusal else None,
        "policy_id": band.id if band else None,
        "penalty": band.penalty if band else "No penalty applies.",
        "guidance": band.guidance if band else "",
        "waiver_reminder": settings.COORDINATOR_WAIVER_REMINDER,
        "hours_before_start": round((session.scheduled_start - now).total_seconds() / 3600, 1),
    }


def _close_thread(ctx: Ctx, thread_status: str, proposal_status: str) -> RescheduleThread:
    thread = ctx.open_thread
    thread.status = thread_status
    thread.resolved_at = ctx.now
    thread.save(update_fields=["status", "resolved_at"])
    if ctx.open_proposal is not None:
        ctx.open_proposal.status = proposal_status
        ctx.open_proposal.answered_at = ctx.now
        ctx.open_proposal.save(update_fields=["status", "answered_at"])
    ctx.open_thread = ctx.open_proposal = None
    return thread


@transaction.atomic
def cancel(session, *, by: User, reason_id, note: str = "", policy_id=None, as_role: str | None = None,
           on_behalf_of: str | None = None, now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """Self-service cancel by the tutor or the parent (scheduled, more than 4 hours ahead, a reason,
    and confirming the penalty band they were shown: policy_id). A coordinator may cancel any
    scheduled session for either side (on_behalf_of), also within the 4 hours."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, by, now)
    before = session.status
    data = {}
    # who acts (403), then the input (422), then the state and the terms shown (409)
    if on_behalf_of is not None:
        rules.require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can cancel for someone else.")
        if on_behalf_of not in Party.values:
            raise Refused("on_behalf_of must be parent or tutor.", code="invalid_role", status=INVALID)
        party = Party(on_behalf_of)
        reason, note = _reason(reason_id, party=party, kind=ChangeKind.CANCEL, note=note)
        rules.require_status(session, {Status.SCHEDULED}, "Only a scheduled session can be cancelled.")
        if session.scheduled_start <= now:
            raise Refused("This session has already started: mark a no-show or verify it instead.",
                          code="started")
        data["on_behalf_of"] = party
    else:
        rules.require_changer(ctx, "cancel")
        party = rules.acting_party(ctx, as_role)
        reason, note = _reason(reason_id, party=party, kind=ChangeKind.CANCEL, note=note)
        rules.guard_cancel(ctx)
        band = cancellation_policy(party, session, now)
        shown = str(policy_id) if policy_id not in (None, "") else None
        if shown != (str(band.id) if band else None):
            raise Refused("The cancellation terms have changed: review them and confirm again.",
                          code="guidance_changed")
        if band:
            data |= {"policy_id": band.id, "penalty": band.penalty}
    if ctx.open_thread is not None:
        data["closed_thread_id"] = _close_thread(ctx, ThreadStatus.CLOSED, ProposalStatus.CLOSED).id
    session.status = Status.CANCELLED_BY_TUTOR if party == Party.TUTOR else Status.CANCELLED_BY_PARENT
    session.cancelled_at = now
    session.cancellation_reason = reason
    _save(session, now, "status", "cancelled_at", "cancellation_reason")
    _record(session, by=by, channel=channel, kind="cancel", from_status=before, now=now,
            reason=f"{reason.label}: {note}" if note else reason.label,
            data=data | {"reason_id": reason.id, "role": party})
    return session


# --- reschedule -------------------------------------------------------------------------------


def _ensure_slot_free(session: Session, start: datetime, end: datetime) -> None:
    clash = (
        Session.objects.filter(tutor_id=session.tutor_id, status__in=OCCUPYING_STATUSES,
                               scheduled_start__lt=end, scheduled_end__gt=start)
        .exclude(pk=session.pk).exists()
    )
    if clash:
        raise Refused("The tutor already has a session at that time.", code="slot_taken")


def _new_proposal(ctx: Ctx, thread: RescheduleThread, *, by: User, party: str, start: datetime, end: datetime,
                  note: str, version: int) -> RescheduleProposal:
    proposal = RescheduleProposal.objects.create(
        thread=thread, version=version, proposed_by=by, proposed_by_role=party, proposed_start=start,
        proposed_end=end, note=note, created_at=ctx.now,
    )
    ctx.open_thread, ctx.open_proposal = thread, proposal
    return proposal


def _proposal_data(proposal: RescheduleProposal) -> dict:
    return {
        "thread_id": proposal.thread_id,
        "proposal_id": proposal.id,
        "version": proposal.version,
        "proposed_start": proposal.proposed_start.isoformat(),
        "proposed_end": proposal.proposed_end.isoformat(),
        "proposed_by_role": proposal.proposed_by_role,
    }


@transaction.atomic
def propose_reschedule(session, *, by: User, proposed_start: datetime, reason_id, note: str = "",
                       as_role: str | None = None, now: datetime | None = None,
                       channel: str = Channel.WEB) -> RescheduleProposal:
    """Open a reschedule thread with version 1; the server derives the end (duration kept).
    Who acts (403), then the input (422), then the state (409)."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, by, now)
    before = session.status
    rules.require_changer(ctx, "reschedule")
    party = rules.acting_party(ctx, as_role)
    reason, note = _reason(reason_id, party=party, kind=ChangeKind.RESCHEDULE, note=note)
    start, end = rules.validate_proposed_start(session, proposed_start, ctx.now)
    rules.GUARDS["reschedule"](ctx)
    _ensure_slot_free(session, start, end)
    thread = RescheduleThread.objects.create(session=session, opened_by=by, opened_by_role=party, reason=reason,
                                             note=note, created_at=ctx.now)
    proposal = _new_proposal(ctx, thread, by=by, party=party, start=start, end=end, note=note, version=1)
    _record(session, by=by, channel=channel, kind="reschedule_proposed", from_status=before, now=ctx.now,
            reason=f"{reason.label}: {note}" if note else reason.label, data=_proposal_data(proposal))
    return proposal


def _answering(session, proposal_id, *, action: str, by: User, now: datetime | None):
    session, ctx, before = _transition(session, action=action, by=by, now=now)
    if str(ctx.open_proposal.pk) != str(proposal_id):
        raise Refused("This proposal is no longer open: a newer version replaced it or it was answered.",
                      code="proposal_not_open")
    return session, ctx, before


@transaction.atomic
def accept_reschedule(session, proposal_id, *, by: User, now: datetime | None = None,
                      channel: str = Channel.WEB) -> Session:
    """The counterparty accepts: the session moves to the proposed slot."""
    session, ctx, before = _answering(session, proposal_id, action="accept_reschedule", by=by, now=now)
    proposal = ctx.open_proposal
    _ensure_slot_free(session, proposal.proposed_start, proposal.proposed_end)
    old = {"old_start": session.scheduled_start.isoformat(), "old_end": session.scheduled_end.isoformat()}
    proposal.answered_by = by
    proposal.save(update_fields=["answered_by"])
    _close_thread(ctx, ThreadStatus.ACCEPTED, ProposalStatus.ACCEPTED)
    session.scheduled_start, session.scheduled_end = proposal.proposed_start, proposal.proposed_end
    _save(session, ctx.now, "scheduled_start", "scheduled_end")
    _record(session, by=by, channel=channel, kind="reschedule_accepted", from_status=before, now=ctx.now,
            data=_proposal_data(proposal) | old)
    return session


@transaction.atomic
def reject_reschedule(session, proposal_id, *, by: User, reason: str, now: datetime | None = None,
                      channel: str = Channel.WEB) -> Session:
    """The counterparty declines; the session keeps its slot."""
    reason = rules.require_text(reason, "reason for declining")
    session, ctx, before = _answering(session, proposal_id, action="reject_reschedule", by=by, now=now)
    proposal = ctx.open_proposal
    proposal.answered_by, proposal.answer_note = by, reason
    proposal.save(update_fields=["answered_by", "answer_note"])
    _close_thread(ctx, ThreadStatus.REJECTED, ProposalStatus.REJECTED)
    _record(session, by=by, channel=channel, kind="reschedule_rejected", from_status=before, now=ctx.now,
            reason=reason, data=_proposal_data(proposal))
    return session


@transaction.atomic
def counter_reschedule(session, proposal_id, *, by: User, proposed_start: datetime, note: str = "",
                       now: datetime | None = None, channel: str = Channel.WEB) -> RescheduleProposal:
    """The counterparty proposes another slot: a new version; the other side answers it next."""
    note = rules.optional_text(note, "note")
    rules.require_moment(proposed_start, "a new start time")
    session, ctx, before = _answering(session, proposal_id, action="counter_reschedule", by=by, now=now)
    party = counterparty(ctx.open_proposal.proposed_by_role)
    old = ctx.open_proposal
    start, end = rules.validate_proposed_start(session, proposed_start, ctx.now, current_start=old.proposed_start)
    if start == session.scheduled_start:
        raise Refused("That is the session's current time: reject the request instead.", code="same_time",
                      status=INVALID)
    _ensure_slot_free(session, start, end)
    old.status, old.answered_at, old.answered_by = ProposalStatus.COUNTERED, ctx.now, by
    old.save(update_fields=["status", "answered_at", "answered_by"])
    proposal = _new_proposal(ctx, old.thread, by=by, party=party, start=start, end=end, note=note,
                             version=old.version + 1)
    _record(session, by=by, channel=channel, kind="reschedule_countered", from_status=before, now=ctx.now,
            reason=note, data=_proposal_data(proposal) | {"countered_proposal_id": old.id})
    return proposal


@transaction.atomic
def withdraw_reschedule(session, proposal_id, *, by: User, now: datetime | None = None,
                        channel: str = Channel.WEB) -> Session:
    """The side whose proposal is open takes it back; the thread closes, the slot stays."""
    session, ctx, before = _answering(session, proposal_id, action="withdraw_reschedule", by=by, now=now)
    proposal = ctx.open_proposal
    _close_thread(ctx, ThreadStatus.WITHDRAWN, ProposalStatus.WITHDRAWN)
    _record(session, by=by, channel=channel, kind="reschedule_withdrawn", from_status=before, now=ctx.now,
            data=_proposal_data(proposal))
    return session


@transaction.atomic
def expire_reschedule(session, *, now: datetime | None = None) -> Session | None:
    """Row-by-row expiry (the sweep uses expire_due_reschedules): an open thread still unresolved
    at the original start expires and the session becomes not_completed. No-op if not due."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, None, now)
    if ctx.open_thread is None or session.status != Status.SCHEDULED or session.scheduled_start > now:
        return None
    before = session.status
    thread = _close_thread(ctx, ThreadStatus.EXPIRED, ProposalStatus.EXPIRED)
    session.status = Status.NOT_COMPLETED
    _save(session, now, "status")
    _record(session, by=None, channel=Channel.SYSTEM, kind="reschedule_expired", from_status=before, now=now,
            reason=EXPIRED_REASON, data={"thread_id": thread.id})
    return session


EXPIRED_REASON = "The reschedule request was not resolved before the session's start."
NO_SHOW_REASON = "The tutor did not check in on the session's day."


# --- set-based sweeps -------------------------------------------------------------------------

# Each sweep first reads the ids of the due sessions (one query, no locks), then works through
# them in chunks, each chunk its own transaction: lock the chunk's sessions that are still due
# (FOR UPDATE SKIP LOCKED: a row a transition or another sweep holds is left for the next run),
# update by primary-key or partial-index lookups (= ANY(ARRAY(...)), not a join the planner may
# hash over a whole table), and append one event per changed session in the same statement.
# Expiry updates the threads first and derives the sessions from them: a thread answered after
# this statement's snapshot fails the re-check on its own row, so its session is left alone.

_EXPIRE_DUE = """
    s.status = 'scheduled' AND s.scheduled_start <= %(now)s
    AND EXISTS (SELECT 1 FROM tutoring_sessions_reschedulethread t
                WHERE t.session_id = s.id AND t.status = 'open')
"""
_EXPIRE_FIND = f"SELECT s.id FROM tutoring_sessions_session s WHERE {_EXPIRE_DUE} LIMIT %(cap)s"
_EXPIRE_APPLY = f"""
WITH due AS (
    SELECT s.id FROM tutoring_sessions_session s
    WHERE s.id = ANY(%(ids)s) AND {_EXPIRE_DUE}
    FOR UPDATE SKIP LOCKED
), threads AS (
    UPDATE tutoring_sessions_reschedulethread SET status = 'expired', resolved_at = %(now)s
    WHERE session_id = ANY(ARRAY(SELECT id FROM due)) AND status = 'open'
    RETURNING id, session_id
), sessions AS (
    UPDATE tutoring_sessions_session SET status = 'not_completed', updated_at = %(now)s
    WHERE id = ANY(ARRAY(SELECT session_id FROM threads)) AND status = 'scheduled'
    RETURNING id
), proposals AS (
    UPDATE tutoring_sessions_rescheduleproposal SET status = 'expired', answered_at = %(now)s
    WHERE thread_id = ANY(ARRAY(SELECT id FROM threads)) AND status = 'open'
)
INSERT INTO tutoring_sessions_sessionevent
    (session_id, actor_id, channel, kind, from_status, to_status, reason, data, created_at)
SELECT threads.session_id, NULL, 'system', 'reschedule_expired', 'scheduled', 'not_completed', %(reason)s,
       jsonb_build_object('thread_id', threads.id), %(now)s
FROM threads JOIN sessions ON sessions.id = threads.session_id
RETURNING id
"""

# The check-in day ends at midnight in the tutor's zone (or at the scheduled end, if later):
# the same deadline as rules.check_in_deadline, computed in SQL for the whole set.
_NO_SHOW_DUE = """
    s.status = 'scheduled' AND s.scheduled_start < %(now)s
    AND GREATEST(
          (date_trunc('day', s.scheduled_start AT TIME ZONE u.time_zone) + interval '1 day')
              AT TIME ZONE u.time_zone,
          s.scheduled_end) <= %(now)s
    AND NOT EXISTS (SELECT 1 FROM tutoring_sessions_reschedulethread t
                    WHERE t.session_id = s.id AND t.status = 'open')
"""
_NO_SHOW_FIND = f"""
SELECT s.id FROM tutoring_sessions_session s JOIN tutoring_user u ON u.id = s.tutor_id
WHERE {_NO_SHOW_DUE} LIMIT %(cap)s
"""
_NO_SHOW_APPLY = f"""
WITH due AS (
    SELECT s.id FROM tutoring_sessions_session s JOIN tutoring_user u ON u.id = s.tutor_id
    WHERE s.id = ANY(%(ids)s) AND {_NO_SHOW_DUE}
    FOR UPDATE OF s SKIP LOCKED
), sessions AS (
    UPDATE tutoring_sessions_session SET status = 'no_show', no_show_party = 'tutor', updated_at = %(now)s
    WHERE id = ANY(ARRAY(SELECT id FROM due)) AND status = 'scheduled'
    RETURNING id
)
INSERT INTO tutoring_sessions_sessionevent
    (session_id, actor_id, channel, kind, from_status, to_status, reason, data, created_at)
SELECT sessions.id, NULL, 'system', 'no_show', 'scheduled', 'no_show', %(reason)s,
       jsonb_build_object('party', 'tutor'), %(now)s
FROM sessions
RETURNING id
"""


def _sweep(find_sql: str, apply_sql: str, reason: str, now: datetime | None, batch: int,
           cap: int = 200_000) -> int:
    """Find the due ids, then apply in chunks of `batch`, each its own transaction. Safe to run
    twice or in two workers at once (SKIP LOCKED plus the re-checked conditions); a second run
    finds nothing to do. Reads at most `cap` ids at a time to bound memory."""
    now = _now(now)
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(find_sql, {"now": now, "cap": cap})
            candidates = [row[0] for row in cursor.fetchall()]
        done = 0
        for start in range(0, len(candidates), batch):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(apply_sql, {"now": now, "ids": candidates[start:start + batch], "reason": reason})
                event_ids = [row[0] for row in cursor.fetchall()]
                _notify_after_commit(event_ids)
            done += len(event_ids)
        total += done
        if len(candidates) < cap or done == 0:
            return total


def expire_due_reschedules(*, now: datetime | None = None, batch: int = 5000) -> int:
    return _sweep(_EXPIRE_FIND, _EXPIRE_APPLY, EXPIRED_REASON, now, batch)


def mark_due_no_shows(*, now: datetime | None = None, batch: int = 5000) -> int:
    return _sweep(_NO_SHOW_FIND, _NO_SHOW_APPLY, NO_SHOW_REASON, now, batch)


# --- creating sessions ------------------------------------------------------------------------


def _user_with_role(user_id, role: str, what: str) -> User:
    try:
        return User.objects.get(pk=int(user_id), roles__contains=[role], is_active=True)
    except (TypeError, ValueError, User.DoesNotExist):
        raise Refused(f"No {what} with that id.", code=f"unknown_{role}", status=INVALID) from None


def _course_for(course_id, student: User) -> Course | None:
    if course_id in (None, ""):
        return None
    try:
        course = Course.objects.get(pk=int(course_id))
    except (TypeError, ValueError, Course.DoesNotExist):
        raise Refused("No course with that id.", code="unknown_course", status=INVALID) from None
    if not Enrollment.objects.filter(course=course, student=student).exists():
        raise Refused("The student is not enrolled in that course.", code="not_enrolled", status=INVALID)
    return course


def _validate_slot(start, end, max_length) -> None:
    if start is None or end is None:
        raise Refused("Give a start and an end time.", code="time_required", status=INVALID)
    rules.require_moment(start, "a start time")
    rules.require_moment(end, "an end time")
    if end <= start:
        raise Refused("The end must be after the start.", code="end_before_start", status=INVALID)
    if end - start > max_length:
        hours = int(max_length.total_seconds() // 3600)
        raise Refused(f"A session can last at most {hours} hours.", code="too_long", status=INVALID)


@transaction.atomic
def create_session(*, by: User, tutor_id, student_id, start: datetime, end: datetime, course_id=None,
                   is_trial: bool = False, now: datetime | None = None, channel: str = Channel.API) -> Session:
    """A coordinator schedules a session (what match acceptance does automatically)."""
    now = _now(now)
    if not by.is_coordinator:
        raise Refused("Only a coordinator can schedule sessions.", code="not_allowed", status=FORBIDDEN)
    tutor = _user_with_role(tutor_id, Role.TUTOR, "tutor")
    student = _user_with_role(student_id, Role.STUDENT, "student")
    if tutor.pk == student.pk:
        raise Refused("The tutor and the student must be different people.", code="same_person", status=INVALID)
    _validate_slot(start, end, rules.MAX_SESSION_LENGTH)
    if start <= now:
        raise Refused("A new session must start in the future.", code="start_in_past", status=INVALID)
    course = _course_for(course_id, student)
    session = Session(tutor=tutor, student=student, course=course, scheduled_start=start, scheduled_end=end,
                      is_trial=bool(is_trial), created_at=now, updated_at=now)
    _ensure_slot_free(session, start, end)
    _save_new(session)
    _record(session, by=by, channel=channel, kind="created", from_status="", now=now,
            data={"is_trial": session.is_trial})
    return session


def _save_new(session: Session) -> None:
    with _slot_taken_as_refusal():
        session.save()


@transaction.atomic
def log_adhoc_sessions(*, by: User, rows: list[dict], now: datetime | None = None,
                       channel: str = Channel.WEB) -> list[Session]:
    """A tutor batch-logs extra sessions that already took place (billed_as_addon). All or none:
    every row is checked and the refusal lists each bad row, so a form can keep the good ones."""
    now = _now(now)
    if not by.has_role(Role.TUTOR):
        raise Refused("Only tutors can log ad-hoc sessions.", code="not_allowed", status=FORBIDDEN)
    if not rows:
        raise Refused("Add at least one session.", code="empty_batch", status=INVALID)
    if len(rows) > MAX_ADHOC_ROWS:
        raise Refused(f"Log at most {MAX_ADHOC_ROWS} sessions at once.", code="batch_too_large", status=INVALID)
    from django.conf import settings

    matched = adhoc_pairings(by)
    errors, planned = [], []
    for index, row in enumerate(rows):
        try:
            planned.append(_plan_adhoc(by, row, matched, planned, now, settings.ADHOC_MAX_AGE))
        except Refused as exc:
            errors.append(_row_error(index, exc))
    if errors:
        raise _invalid_rows(errors)
    # one INSERT for the batch: the per-statement triggers (rollups, change stamps) take their
    # row locks once, in key order, so two batches touching the same courses cannot deadlock
    try:
        with transaction.atomic():
            Session.objects.bulk_create([session for session, _ in planned])
    except IntegrityError as exc:
        if "session_tutor_no_overlap" not in str(exc):
            raise
        # a concurrent batch took a slot after the pre-check: the same answer as the pre-check
        raise _invalid_rows(_taken_rows([session for session, _ in planned])) from None
    for session, note in planned:
        _record(session, by=by, channel=channel, kind="adhoc_logged", from_status="", now=now, reason=note,
                data={"billed_as_addon": True})
    return [session for session, _ in planned]


def adhoc_pairings(tutor: User) -> dict[int, set]:
    """{student id: the course ids (None: no course) of the tutor's active matches with them}: the
    only students and courses a tutor may log ad-hoc sessions for (web, API and bot alike)."""
    pairings: dict[int, set] = {}
    for student_id, course_id in Match.objects.filter(tutor=tutor, active=True).values_list("student_id",
                                                                                          "course_id"):
        pairings.setdefault(student_id, set()).add(course_id)
    return pairings


def _row_error(index: int, exc: Refused) -> dict:
    return {"row": index, "detail": exc.message, "code": exc.code}


def _invalid_rows(errors: list[dict]) -> Refused:
    return Refused("Some sessions could not be logged; nothing was saved.", code="invalid_rows", status=INVALID,
                   errors=errors)


def _taken_rows(sessions: list[Session]) -> list[dict]:
    """The rows whose slot another session now holds (read after the constraint refused the batch)."""
    errors = []
    for index, session in enumerate(sessions):
        try:
            _ensure_slot_free(session, session.scheduled_start, session.scheduled_end)
        except Refused as exc:
            errors.append(_row_error(index, exc))
    return errors or [_row_error(index, Refused("The tutor already has a session at that time.",
                                                code="slot_taken")) for index in range(len(sessions))]


def _plan_adhoc(tutor: User, row: dict, matched: dict, planned: list, now: datetime, max_age) -> tuple:
    try:
        student_id = int(row.get("student_id"))
    except (TypeError, ValueError):
        raise Refused("Choose a student.", code="student_required", status=INVALID) from None
    if student_id not in matched:
        raise Refused("You are not matched with this student.", code="not_matched", status=INVALID)
    note = rules.optional_text(row.get("note"), "note")
    start, end = row.get("start"), row.get("end")
    _validate_slot(start, end, rules.MAX_ADHOC_LENGTH)
    if end > now:
        raise Refused("Log a session after it has ended.", code="not_ended", status=INVALID)
    if start < now - max_age:
        raise Refused(f"Sessions older than {max_age.days} days must be logged by a coordinator.",
                      code="too_old", status=INVALID)
    student = User.objects.get(pk=student_id)
    course = _course_for(row.get("course_id"), student)
    if course is None and None not in matched[student_id]:
        raise Refused("Choose the course of this session: you are matched with this student in courses.",
                      code="course_required", status=INVALID)
    if (course.pk if course else None) not in matched[student_id]:
        raise Refused("You are not matched with this student for that course: choose one of your matches' "
                      "courses.", code="course_not_matched", status=INVALID)
    session = Session(tutor=tutor, student=student, course=course, scheduled_start=start, scheduled_end=end,
                      status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start, checked_out_at=end,
                      billed_as_addon=True, created_at=now, updated_at=now)
    if any(s.scheduled_start < end and s.scheduled_end > start for s, _ in planned):
        raise Refused("Overlaps another session in this batch.", code="slot_taken", status=INVALID)
    _ensure_slot_free(session, start, end)
    return session, note


# --- importing history ------------------------------------------------------------------------

# Final statuses a session from before the platform may carry (it is over: nothing can follow).
IMPORTABLE_STATUSES = (Status.APPROVED, Status.CANCELLED_BY_TUTOR, Status.CANCELLED_BY_PARENT,
                       Status.NOT_COMPLETED, Status.NO_SHOW)


@transaction.atomic
def import_past_session(*, by: User, tutor_id, student_id, start: datetime, end: datetime, course_id=None,
                        status: str = Status.APPROVED, source: str = Source.IMPORTED, data: dict | None = None,
                        now: datetime | None = None, channel: str = Channel.ADMIN) -> Session:
    """A coordinator records a session that took place before the platform (spec 004, L29): source
    `imported` or `legacy`, already over, in a final status. It is exempt from the attendance
    requirement (no check-in or check-out is asked for or invented) and from package deduction (no
    ledger row). History is recorded silently: nobody is notified of it."""
    now = _now(now)
    if not by.is_coordinator:
        raise Refused("Only a coordinator can import sessions.", code="not_allowed", status=FORBIDDEN)
    if source not in (Source.IMPORTED, Source.LEGACY):
        raise Refused("The source must be imported or legacy.", code="bad_source", status=INVALID)
    if status not in IMPORTABLE_STATUSES:
        raise Refused("The status must be one of: " + ", ".join(IMPORTABLE_STATUSES) + ".", code="bad_status",
                      status=INVALID)
    tutor = _user_with_role(tutor_id, Role.TUTOR, "tutor")
    student = _user_with_role(student_id, Role.STUDENT, "student")
    if tutor.pk == student.pk:
        raise Refused("The tutor and the student must be different people.", code="same_person", status=INVALID)
    _validate_slot(start, end, rules.MAX_SESSION_LENGTH)
    if end > now:
        raise Refused("Only sessions that have ended can be imported.", code="not_ended", status=INVALID)
    course = _course_for(course_id, student)
    session = Session(tutor=tutor, student=student, course=course, scheduled_start=start, scheduled_end=end,
                      status=status, source=source, created_at=now, updated_at=now)
    if status in OCCUPYING_STATUSES:
        _ensure_slot_free(session, start, end)
    _save_new(session)
    with silenced():
        _record(session, by=by, channel=channel, kind="imported", from_status="", now=now,
                data={"source": source, **(data or {})})
    return session
