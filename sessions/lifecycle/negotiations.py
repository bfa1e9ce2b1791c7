"""Cancel and reschedule negotiations: the cancellation terms (policy bands, the guidance shown
before confirming), cancel, the reschedule thread (propose, accept, reject, counter, withdraw,
expire one; a coordinator may accept, reject or withdraw on behalf of the side that must act), and
a coordinator's direct move of a session."""

from datetime import datetime

from django.conf import settings
from django.db import transaction

from tutoring.models import User

from .. import projections, rules
from ..access import Relation, Viewer
from ..errors import INVALID, Refused
from ..models import (
    CancellationPolicy,
    ChangeKind,
    Channel,
    Party,
    ProposalStatus,
    RescheduleProposal,
    RescheduleThread,
    Session,
    Status,
    ThreadStatus,
    counterparty,
)
from ..rules import Ctx
from .core import (
    _close_thread,
    _ctx,
    _ensure_slot_free,
    _lock,
    _now,
    _reason,
    _record,
    _save,
    _transition,
    clashing_sessions,
)

EXPIRED_REASON = "The reschedule request was not resolved before the session's start."

# --- cancel -----------------------------------------------------------------------------------


def cancellation_policy(party: str, session: Session, now: datetime) -> CancellationPolicy | None:
    """The band of the penalty sheet that applies if `party` cancels now (read at every call: the
    sheet as it is now); a trial session skips the bands with a trial exception."""
    hours = (session.scheduled_start - now).total_seconds() / 3600
    bands = CancellationPolicy.objects.filter(role=party)
    if session.is_trial:
        bands = bands.filter(applies_to_trials=True)
    for band in bands.order_by("-min_hours_before"):
        if hours >= band.min_hours_before and (band.max_hours_before is None or hours < band.max_hours_before):
            return band
    return None


def cancellation_guidance(session: Session, *, by: User, as_role: str | None = None,
                          now: datetime | None = None) -> dict:
    """What the user must see before confirming a cancel (read-only)."""
    now = _now(now)
    ctx = Ctx(session=session, rels=Viewer.of(by).relations(session), now=now)
    party = rules.acting_party(ctx, as_role)
    refusal = rules.refusal(rules.guard_cancel, ctx)
    band = cancellation_policy(party, session, now)
    guidance = {
        "role": party,
        "allowed": refusal is None,
        "refusal": refusal.message if refusal else None,
        "policy_id": band.id if band else None,
        "penalty": band.penalty if band else "No penalty applies.",
        "guidance": band.guidance if band else "",
        "charged": bool(band and band.charges),  # the waiver reminder only when a penalty applies
        **projections.cancellation_cost(session, band),  # what it costs: credits of the package, an amount
        "waiver_reminder": settings.COORDINATOR_WAIVER_REMINDER,
        "hours_before_start": round((session.scheduled_start - now).total_seconds() / 3600, 1),
    }
    guidance["notice"] = projections.cancellation_notice(guidance)  # the words, web and bot alike
    return guidance


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
            data |= {"policy_id": band.id, "penalty": band.penalty} | projections.cancellation_cost(session, band)
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
    rules.guard_propose_reschedule(ctx)
    _ensure_slot_free(session, start, end)
    thread = RescheduleThread.objects.create(session=session, opened_by=by, opened_by_role=party, reason=reason,
                                             note=note, created_at=ctx.now)
    proposal = _new_proposal(ctx, thread, by=by, party=party, start=start, end=end, note=note, version=1)
    _record(session, by=by, channel=channel, kind="reschedule_proposed", from_status=before, now=ctx.now,
            reason=f"{reason.label}: {note}" if note else reason.label, data=_proposal_data(proposal))
    return proposal


def _answering(session, proposal_id, *, guard, by: User, now: datetime | None, on_behalf: bool = False,
               side=counterparty):
    """Lock, then check that the answer names the open proposal before the guard judges the
    person against it: an answer to a version that a counter replaced a moment ago is a 409
    ("no longer open"), not a role refusal measured against the new version.

    With `on_behalf` a coordinator acts for the side that must act now (`side` of the open
    proposal's proposer: the counterparty answers, the proposer withdraws), and the action's own
    guard then judges that side: the same expiry, staleness and slot rules as their own answer.
    Returns (session, ctx, from_status, the side acted for or None)."""
    acted_for = []

    def names_the_open_proposal(ctx):
        if on_behalf:
            rules.require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can answer for someone else.")
        if ctx.open_proposal is not None and str(ctx.open_proposal.pk) != str(proposal_id):
            raise Refused("This proposal is no longer open: a newer version replaced it or it was answered.",
                          code="proposal_not_open")
        if on_behalf:
            if ctx.open_proposal is None:
                raise Refused("There is no open reschedule request on this session.", code="no_open_request")
            party = Party(side(ctx.open_proposal.proposed_by_role))
            ctx.rels = frozenset({Relation(party)})
            acted_for.append(party)

    session, ctx, before = _transition(session, guard=guard, by=by, now=now, first=names_the_open_proposal)
    return session, ctx, before, (acted_for[0] if acted_for else None)


def _for(party: str | None) -> dict:
    return {"on_behalf_of": party} if party else {}


def _same(role: str) -> str:
    return role


@transaction.atomic
def accept_reschedule(session, proposal_id, *, by: User, on_behalf: bool = False, reason: str = "",
                      now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The counterparty accepts (or a coordinator for them, with a reason: on_behalf): the
    session moves to the proposed slot."""
    reason = rules.require_text(reason, "reason for accepting") if on_behalf else ""
    session, ctx, before, party = _answering(session, proposal_id, guard=rules.guard_accept_reschedule, by=by,
                                             now=now, on_behalf=on_behalf)
    proposal = ctx.open_proposal
    _ensure_slot_free(session, proposal.proposed_start, proposal.proposed_end)
    old = {"old_start": session.scheduled_start.isoformat(), "old_end": session.scheduled_end.isoformat()}
    proposal.answered_by = by
    proposal.save(update_fields=["answered_by"])
    _close_thread(ctx, ThreadStatus.ACCEPTED, ProposalStatus.ACCEPTED)
    session.scheduled_start, session.scheduled_end = proposal.proposed_start, proposal.proposed_end
    _save(session, ctx.now, "scheduled_start", "scheduled_end")
    _record(session, by=by, channel=channel, kind="reschedule_accepted", from_status=before, now=ctx.now,
            reason=reason, data=_proposal_data(proposal) | old | _for(party))
    return session


@transaction.atomic
def reject_reschedule(session, proposal_id, *, by: User, reason: str, on_behalf: bool = False,
                      now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The counterparty declines (or a coordinator for them: on_behalf); the session keeps its slot."""
    reason = rules.require_text(reason, "reason for declining")
    session, ctx, before, party = _answering(session, proposal_id, guard=rules.guard_answer_reschedule, by=by,
                                             now=now, on_behalf=on_behalf)
    proposal = ctx.open_proposal
    proposal.answered_by, proposal.answer_note = by, reason
    proposal.save(update_fields=["answered_by", "answer_note"])
    _close_thread(ctx, ThreadStatus.REJECTED, ProposalStatus.REJECTED)
    _record(session, by=by, channel=channel, kind="reschedule_rejected", from_status=before, now=ctx.now,
            reason=reason, data=_proposal_data(proposal) | _for(party))
    return session


@transaction.atomic
def counter_reschedule(session, proposal_id, *, by: User, proposed_start: datetime, note: str = "",
                       now: datetime | None = None, channel: str = Channel.WEB) -> RescheduleProposal:
    """The counterparty proposes another slot: a new version; the other side answers it next."""
    note = rules.optional_text(note, "note")
    rules.require_moment(proposed_start, "a new start time")
    session, ctx, before, _ = _answering(session, proposal_id, guard=rules.guard_answer_reschedule, by=by, now=now)
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
def withdraw_reschedule(session, proposal_id, *, by: User, on_behalf: bool = False, reason: str = "",
                        now: datetime | None = None, channel: str = Channel.WEB) -> Session:
    """The side whose proposal is open takes it back (or a coordinator for them, with a reason:
    on_behalf, e.g. a request stuck unanswered); the thread closes, the slot stays."""
    reason = rules.require_text(reason, "reason for withdrawing") if on_behalf else ""
    session, ctx, before, party = _answering(session, proposal_id, guard=rules.guard_withdraw_reschedule, by=by,
                                             now=now, on_behalf=on_behalf, side=_same)
    proposal = ctx.open_proposal
    _close_thread(ctx, ThreadStatus.WITHDRAWN, ProposalStatus.WITHDRAWN)
    _record(session, by=by, channel=channel, kind="reschedule_withdrawn", from_status=before, now=ctx.now,
            reason=reason, data=_proposal_data(proposal) | _for(party))
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


# --- a coordinator moves a session ------------------------------------------------------------


def move_conflicts(session: Session, start: datetime, end: datetime) -> list[Session]:
    """The tutor's and the student's other occupying sessions overlapping the new slot."""
    return list(clashing_sessions(tutor_id=session.tutor_id, student_id=session.student_id, start=start, end=end,
                                  exclude=[session.pk]).select_related("tutor", "student"))


def _conflicts_refusal(session: Session, clashes: list[Session]) -> Refused:
    said = "; ".join(f"the {'tutor' if c.tutor_id == session.tutor_id else 'student'} already has session {c.pk} "
                     f"at that time" for c in clashes)
    return Refused(f"The new time clashes with other sessions: {said}.", code="slot_taken",
                   errors=[{"session_id": c.pk, "whose": "tutor" if c.tutor_id == session.tutor_id else "student",
                            "start": c.scheduled_start.isoformat(), "end": c.scheduled_end.isoformat()}
                           for c in clashes])


@transaction.atomic
def move_session(session, *, by: User, start: datetime, reason: str, now: datetime | None = None,
                 channel: str = Channel.ADMIN) -> Session:
    """A coordinator moves a scheduled session to a new start directly, for both sides (no
    negotiation; the 4-hour self-service lockout does not apply), keeping its length (L35). The new
    slot must be in the future and free for the tutor and for the student. An open reschedule
    request is closed by the move (as a cancel closes it, L41). Who acts (403), the input (422),
    then the state and the slot (409); one `moved` event with the coordinator as actor and the
    reason tells the parents, the tutor and the student."""
    now = _now(now)
    session = _lock(session)
    ctx = _ctx(session, by, now)
    before = session.status
    rules.require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can move a session.")
    reason = rules.require_text(reason, "reason for the move")
    start = rules.require_moment(start, "a new start time")
    if start <= now:
        raise Refused("The new time must be in the future.", code="start_in_past", status=INVALID)
    if start == session.scheduled_start:
        raise Refused("That is the session's current time: choose another.", code="same_time", status=INVALID)
    rules.guard_move(ctx)
    end = start + session.duration
    clashes = move_conflicts(session, start, end)
    if clashes:
        raise _conflicts_refusal(session, clashes)
    data = {"old_start": session.scheduled_start.isoformat(), "old_end": session.scheduled_end.isoformat(),
            "new_start": start.isoformat(), "new_end": end.isoformat()}
    if ctx.open_thread is not None:
        data["closed_thread_id"] = _close_thread(ctx, ThreadStatus.CLOSED, ProposalStatus.CLOSED).id
    session.scheduled_start, session.scheduled_end = start, end
    _save(session, now, "scheduled_start", "scheduled_end")
    _record(session, by=by, channel=channel, kind="moved", from_status=before, now=now, reason=reason, data=data)
    return session
