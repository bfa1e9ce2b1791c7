"""The lifecycle's plumbing, shared by its modules: the session row lock, the guards' context, the
one event each change appends (checked against rules.EDGES), the outbox hook after commit, the
overlap constraint as a refusal, and the helpers two concerns share (closing a thread, the slot
check, a change reason)."""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tutoring.celery import publish
from tutoring.models import User

from .. import rules, selectors
from ..access import Viewer
from ..errors import CONFLICT, INVALID, Refused
from ..models import (
    OCCUPYING_STATUSES,
    ChangeReason,
    RescheduleThread,
    Session,
    SessionEvent,
)
from ..rules import Ctx

# notifications.tasks.relay_events: relays these events and sends what they made
RELAY_TASK = "notifications.tasks.relay_events"


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
    """Read the open thread under the session lock (selectors.open_thread_and_proposal, fresh): every
    thread change locks the session first."""
    rels = Viewer.of(by).relations(session) if by is not None else frozenset()
    thread, proposal = selectors.open_thread_and_proposal(session, fresh=True)
    return Ctx(session=session, rels=rels, now=now, open_thread=thread, open_proposal=proposal)


def _record(session: Session, *, by: User | None, channel: str, kind: str, from_status: str, now: datetime,
            reason: str = "", data: dict | None = None) -> SessionEvent:
    to_status = session.status
    if from_status and from_status != to_status:
        rules.require_edge(from_status, to_status)
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
    commit a worker is asked to relay them at once, the task published by name (notifications sits
    above sessions). The request never waits on the broker for long nor fails because of it: the
    beat's relay delivers what the hook could not."""
    if not event_ids or _silenced.get():
        return
    ids = list(event_ids)
    transaction.on_commit(lambda: publish(RELAY_TASK, ids))


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


def _transition(session, *, guard, by: User | None, now: datetime | None, first=None,
                seen_status: str | None = None):
    """Lock, build the context, run `first(ctx)` when given (a check that must come before the
    person is judged), then the action's guard (a rules.guard_* function); returns (session, ctx,
    from_status). With `seen_status` (the status the acting coordinator's page showed), a session
    that changed since is refused as such (rules.require_unchanged): after who may act, before
    the guard's own word on the state, which would not say what happened."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, by, now)
    if first is not None:
        first(ctx)
    try:
        guard(ctx)
    except Refused as refused:
        if refused.status == CONFLICT:
            rules.require_unchanged(ctx, seen_status)
        raise
    rules.require_unchanged(ctx, seen_status)
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


def clashing_sessions(*, tutor_id: int, student_id: int, start: datetime, end: datetime, exclude=()):
    """The occupying sessions of the tutor or the student that overlap [start, end), in order
    (read-only: a coordinator's move and the weekly patterns' conflict lists, desk/patterns.py)."""
    return (Session.objects.filter(Q(tutor_id=tutor_id) | Q(student_id=student_id), status__in=OCCUPYING_STATUSES,
                                   scheduled_start__lt=end, scheduled_end__gt=start)
            .exclude(pk__in=list(exclude)).order_by("scheduled_start", "pk"))


def _ensure_slot_free(session: Session, start: datetime, end: datetime) -> None:
    clash = (
        Session.objects.filter(tutor_id=session.tutor_id, status__in=OCCUPYING_STATUSES,
                               scheduled_start__lt=end, scheduled_end__gt=start)
        .exclude(pk=session.pk).exists()
    )
    if clash:
        raise Refused("The tutor already has a session at that time.", code="slot_taken")
