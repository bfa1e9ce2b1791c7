"""The rules of spec 004 as pure guards: given a session, who is asking and when, each either
returns or raises Refused with the user-facing message. the lifecycle package calls them under the row
lock before it writes; the action registry (sessions/actions.py) names each action's guard and runs
the same guards to list the actions allowed now, so a button is offered exactly when the action
would succeed."""

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from tutoring.input import InvalidInput, check_moment, clean_text

from .access import Relation
from .errors import FORBIDDEN, INVALID, Refused
from .models import Party, RescheduleProposal, RescheduleThread, Session, Source, Status, counterparty

CHECK_IN_LEAD = timedelta(minutes=30)
CHECK_OUT_LEAD = timedelta(minutes=30)
CHECK_OUT_GRACE = timedelta(hours=24)
CHANGE_LOCKOUT = timedelta(hours=4)
MAX_SESSION_LENGTH = timedelta(hours=8)
MAX_ADHOC_LENGTH = timedelta(hours=4)
MAX_TEXT = 2000
# A dispute a coordinator can act on says what went wrong: "x" is not a reason (web, API and bot alike).
MIN_DISPUTE_REASON = 15
DISPUTE_TOO_SHORT = (f"Please describe what went wrong in at least {MIN_DISPUTE_REASON} characters, so a "
                     "coordinator can act on it.")

# A coordinator's verify override can approve a session from any of these.
VERIFIABLE = frozenset(
    {Status.SCHEDULED, Status.CHECKED_IN, Status.AWAITING_APPROVAL_PARENT, Status.DISPUTED,
     Status.NOT_COMPLETED, Status.NO_SHOW}
)
# The edges of the state machine; every transition in sessions/lifecycle/ is one of these
# (require_edge checks each recorded change, and the sweeps' SQL takes its two from here).
EDGES = frozenset(
    {
        (Status.SCHEDULED, Status.CHECKED_IN),
        (Status.CHECKED_IN, Status.AWAITING_APPROVAL_PARENT),
        (Status.CHECKED_IN, Status.NO_SHOW),
        (Status.AWAITING_APPROVAL_PARENT, Status.APPROVED),
        (Status.AWAITING_APPROVAL_PARENT, Status.DISPUTED),
        (Status.DISPUTED, Status.APPROVED),
        (Status.DISPUTED, Status.NOT_COMPLETED),
        (Status.SCHEDULED, Status.CANCELLED_BY_TUTOR),
        (Status.SCHEDULED, Status.CANCELLED_BY_PARENT),
        (Status.SCHEDULED, Status.NOT_COMPLETED),
        (Status.SCHEDULED, Status.NO_SHOW),
    }
    | {(s, Status.APPROVED) for s in VERIFIABLE}
)


class NotAnEdge(RuntimeError):
    """A change the state machine does not have: a bug in the code that tried it (the transaction
    it runs in rolls back), never the user's mistake."""


def require_edge(from_status: str, to_status: str) -> tuple[str, str]:
    """The edge, or NotAnEdge: checked for every status change the lifecycle records, and for the
    sweeps' SQL when it is built (a real check, also under `python -O`)."""
    if (from_status, to_status) not in EDGES:
        raise NotAnEdge(f"{from_status} -> {to_status} is not an edge of the session state machine "
                        f"(sessions/rules.py EDGES).")
    return from_status, to_status


@dataclass
class Ctx:
    """Who acts on which session, when; open_thread/open_proposal are read under the row lock in
    the lifecycle package and from a prefetch in projections.py."""

    session: Session
    rels: frozenset
    now: datetime
    open_thread: RescheduleThread | None = None
    open_proposal: RescheduleProposal | None = None
    extra: dict = field(default_factory=dict)


def minutes_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds() / 60))


def wait_words(n: int) -> str:
    """A wait in words: "12 minutes", or from an hour on "9 hours 37 minutes" (not "577 minutes")."""
    hours, minutes = divmod(n, 60)
    parts = ([f"{hours} hour" if hours == 1 else f"{hours} hours"] if hours else []) + (
        [f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"] if minutes or not hours else [])
    return " ".join(parts)


def check_in_deadline(session: Session) -> datetime:
    """Check-in has no upper limit later the same day in the tutor's time zone; a session that
    runs past midnight can still be checked into until its scheduled end. CHECK_IN_DEADLINE_SQL
    states the same for a whole set (the no-show sweep); a test pins the two to each other."""
    return max(session.tutor.end_of_local_day(session.scheduled_start), session.scheduled_end)


# check_in_deadline in SQL over a session `s` joined to its tutor `u` (tutoring_user): midnight
# after the start's day in the tutor's zone (DST-correct), or the scheduled end if that is later.
CHECK_IN_DEADLINE_SQL = """GREATEST(
    (date_trunc('day', s.scheduled_start AT TIME ZONE u.time_zone) + interval '1 day') AT TIME ZONE u.time_zone,
    s.scheduled_end)"""


def local_time(moment: datetime, user) -> str:
    local = moment.astimezone(user.tzinfo)
    return f"{local:%a %d %b %H:%M} ({user.time_zone})"


def require(rels, relation: Relation, message: str) -> None:
    if relation not in rels:
        raise Refused(message, code="not_allowed", status=FORBIDDEN)


def require_status(session: Session, allowed, message: str, code: str = "wrong_status") -> None:
    if session.status not in allowed:
        raise Refused(message, code=code)


def require_text(value: str | None, what: str, *, min_length: int = 1, too_short: str | None = None) -> str:
    """A reason as stored (the shared text rules of tutoring.input), or Refused (422)."""
    try:
        return clean_text(value, max_length=MAX_TEXT, min_length=min_length, what=what, too_short=too_short)
    except InvalidInput as exc:
        raise Refused(str(exc), code="reason_required" if exc.code == "required" else exc.code,
                      status=INVALID) from None


def optional_text(value: str | None, what: str) -> str:
    """A note that may be empty (cancel, reschedule, counter, ad-hoc), or Refused (422)."""
    return require_text(value, what, min_length=0)


def require_moment(value: datetime | None, what: str, *, code: str = "start_required") -> datetime:
    """An aware date-time within the shared range (tutoring.input), or Refused (422)."""
    if value is None:
        raise Refused(f"Please choose {what}.", code=code, status=INVALID)
    if timezone.is_naive(value):
        raise Refused(f"The {what.removeprefix('a ').removeprefix('an ')} must include its time zone offset.",
                      code="naive_time", status=INVALID)
    try:
        return check_moment(value)
    except InvalidInput as exc:
        raise Refused(str(exc), code=exc.code, status=INVALID) from None


# --- guards, one per action ----------------------------------------------------------------


def guard_check_in(ctx: Ctx) -> None:
    s = ctx.session
    require(ctx.rels, Relation.TUTOR, "Only the session's tutor can check in.")
    require_status(s, {Status.SCHEDULED}, "Only a scheduled session can be checked into.")
    if ctx.open_thread is not None:
        raise Refused("Check-in is blocked while a reschedule request is open: it must be accepted or "
                      "rejected first.", code="reschedule_open")
    opens = s.scheduled_start - CHECK_IN_LEAD
    if ctx.now < opens:
        raise Refused(f"Check-in opens in {wait_words(minutes_until(opens, ctx.now))}.", code="too_early")
    deadline = check_in_deadline(s)
    if ctx.now >= deadline:
        raise Refused(f"Check-in closed at {local_time(deadline, s.tutor)}: contact your coordinator.",
                      code="too_late")


def guard_check_out(ctx: Ctx) -> None:
    s = ctx.session
    require(ctx.rels, Relation.TUTOR, "Only the session's tutor can check out.")
    require_status(s, {Status.CHECKED_IN}, "You can only check out of a session you have checked into.")
    opens = s.scheduled_end - CHECK_OUT_LEAD
    if ctx.now < opens:
        raise Refused(f"Check-out opens in {wait_words(minutes_until(opens, ctx.now))}.", code="too_early")
    if ctx.now > s.scheduled_end + CHECK_OUT_GRACE:
        raise Refused(f"Check-out closed {wait_words(CHECK_OUT_GRACE // timedelta(minutes=1))} after the scheduled "
                      "end: contact your coordinator.", code="too_late")


def guard_acknowledge(ctx: Ctx) -> None:
    s = ctx.session
    require(ctx.rels, Relation.PARENT, "Only the student's parent can acknowledge this session.")
    require_status(s, {Status.AWAITING_APPROVAL_PARENT}, "Only a session awaiting your acknowledgement can be "
                   "acknowledged.")
    if s.source == Source.NATIVE and not (s.checked_in_at and s.checked_out_at):
        raise Refused("This session has no check-in and check-out on record yet, so it cannot be acknowledged.",
                      code="attendance_missing")


def guard_dispute(ctx: Ctx) -> None:
    require(ctx.rels, Relation.PARENT, "Only the student's parent can dispute this session.")
    require_status(ctx.session, {Status.AWAITING_APPROVAL_PARENT}, "Only a session awaiting your acknowledgement "
                   "can be disputed.")


def guard_verify(ctx: Ctx) -> None:
    s = ctx.session
    require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can verify a session.")
    require_status(s, VERIFIABLE, f"A session that is {s.get_status_display().lower()} cannot be verified.")
    if s.status == Status.SCHEDULED and s.scheduled_start > ctx.now:
        raise Refused("A session that has not started yet cannot be verified.", code="not_started")


def require_unchanged(ctx: Ctx, seen_status: str | None) -> None:
    """A coordinator settles what they saw: their page carried the session's status as it showed it
    (statuses never come back, rules.EDGES has no cycle, so the status alone tells a change). A
    dispute, a check-out or an acknowledgement since is refused, and the page is to be looked at again."""
    s = ctx.session
    if seen_status is None or s.status == seen_status:
        return
    if s.status == Status.DISPUTED:
        raise Refused("The parent disputed this session after you opened it: review the dispute first.",
                      code="changed")
    raise Refused(f"This session changed after you opened it: it is now {s.get_status_display().lower()}. "
                  "Look at it again before you decide.", code="changed")


def guard_resolve_dispute(ctx: Ctx) -> None:
    if not ({Relation.COORDINATOR, Relation.CREATOR} & ctx.rels):
        raise Refused("Only a coordinator or the course's creator can resolve a dispute.", code="not_allowed",
                      status=FORBIDDEN)
    require_status(ctx.session, {Status.DISPUTED}, "Only a disputed session can be resolved.")


def guard_mark_no_show(ctx: Ctx) -> None:
    s = ctx.session
    require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can mark a no-show.")
    require_status(s, {Status.SCHEDULED, Status.CHECKED_IN}, "Only a scheduled or checked-in session can be "
                   "marked as a no-show.")
    if s.scheduled_start > ctx.now:
        raise Refused("A session that has not started yet cannot be a no-show.", code="not_started")


def acting_party(ctx: Ctx, as_role: str | None = None) -> Party:
    """The side (parent or tutor) the user takes in a change; a coordinator acts for either side."""
    sides = [p for p in (Party.TUTOR, Party.PARENT) if Relation(p) in ctx.rels]
    if as_role:
        if as_role not in Party.values:
            raise Refused("as_role must be parent or tutor.", code="invalid_role", status=INVALID)
        if Party(as_role) in sides:
            return Party(as_role)
        raise Refused(f"You are not this session's {as_role}.", code="not_allowed", status=FORBIDDEN)
    if not sides:
        raise Refused("Only the session's tutor or the student's parent can change this session.",
                      code="not_allowed", status=FORBIDDEN)
    if len(sides) > 1:
        raise Refused("You are both the tutor and a parent here: say which role you act in.",
                      code="ambiguous_role", status=INVALID)
    return sides[0]


def require_changer(ctx: Ctx, what: str) -> None:
    """Cancel and reschedule are the tutor's and the parent's (403 for anyone else)."""
    if not ({Relation.TUTOR, Relation.PARENT} & ctx.rels):
        raise Refused(f"Only the session's tutor or the student's parent can {what} this session.",
                      code="not_allowed", status=FORBIDDEN)


def guard_self_service_change(ctx: Ctx, what: str) -> None:
    """Cancel and reschedule: only while scheduled, in the future, more than CHANGE_LOCKOUT ahead."""
    s = ctx.session
    require_changer(ctx, what)
    done = {"cancel": "cancelled", "reschedule": "rescheduled"}[what]
    require_status(s, {Status.SCHEDULED}, f"Only a scheduled session can be {done}.")
    if s.scheduled_start <= ctx.now:
        raise Refused("This session has already started.", code="started")
    if s.scheduled_start - ctx.now <= CHANGE_LOCKOUT:
        raise Refused(f"Online changes close {wait_words(CHANGE_LOCKOUT // timedelta(minutes=1))} before the start: "
                      "message your coordinator.", code="locked")


def guard_cancel(ctx: Ctx) -> None:
    guard_self_service_change(ctx, "cancel")


def guard_propose_reschedule(ctx: Ctx) -> None:
    guard_self_service_change(ctx, "reschedule")
    if ctx.open_thread is not None:
        raise Refused("A reschedule request is already open for this session: answer it first.",
                      code="reschedule_open")


def _open_proposal_for_answer(ctx: Ctx) -> RescheduleProposal:
    s = ctx.session
    if not ({Relation.TUTOR, Relation.PARENT} & ctx.rels):
        raise Refused("Only the session's tutor or the student's parent can answer a reschedule request.",
                      code="not_allowed", status=FORBIDDEN)
    if ctx.open_proposal is None or s.status != Status.SCHEDULED:
        raise Refused("There is no open reschedule request on this session.", code="no_open_request")
    if s.scheduled_start <= ctx.now:
        raise Refused("This reschedule request expired at the session's start.", code="expired")
    return ctx.open_proposal


def guard_answer_reschedule(ctx: Ctx) -> None:
    """Only the counterparty answers: the parent answers the tutor, the tutor the parent."""
    proposal = _open_proposal_for_answer(ctx)
    if Relation(counterparty(proposal.proposed_by_role)) not in ctx.rels:
        raise Refused("Only the other side can answer this proposal.", code="not_counterparty", status=FORBIDDEN)


def guard_accept_reschedule(ctx: Ctx) -> None:
    guard_answer_reschedule(ctx)
    if ctx.open_proposal.proposed_start <= ctx.now:
        raise Refused("This proposal's time has already passed: propose a new time instead.", code="stale")


def guard_withdraw_reschedule(ctx: Ctx) -> None:
    proposal = _open_proposal_for_answer(ctx)
    if Relation(proposal.proposed_by_role) not in ctx.rels:
        raise Refused("Only the side that proposed this time can withdraw it.", code="not_proposer",
                      status=FORBIDDEN)


def guard_move(ctx: Ctx) -> None:
    """A coordinator moves a session directly: while it is scheduled and has not started (no
    4-hour lockout; lifecycle.move_session checks the new slot)."""
    s = ctx.session
    require(ctx.rels, Relation.COORDINATOR, "Only a coordinator can move a session.")
    require_status(s, {Status.SCHEDULED}, "Only a scheduled session can be moved.")
    if s.scheduled_start <= ctx.now:
        raise Refused("This session has already started: mark a no-show or verify it instead.", code="started")


def guard_add_notes(ctx: Ctx) -> None:
    """Notes follow check-out and stay open until the parent acknowledges (or disputes)."""
    require(ctx.rels, Relation.TUTOR, "Only the session's tutor can write its notes.")
    require_status(ctx.session, {Status.AWAITING_APPROVAL_PARENT},
                   "Notes can be added after check-out, until the parent acknowledges the session.",
                   code="notes_closed")


# --- what a guard could allow, in SQL ------------------------------------------------------
# The bot's commands page through a tutor's sessions in SQL and run the guard on each page only
# (telegram_bot.core.pick); these narrow the rows read to those the guard *could* allow at `now`.
# Each states only necessary conditions of its guard (the status and the time window), so it may
# let through a row the guard refuses (an open request, a closed check-in day), never hide one it
# allows: the guard still decides every row. tests/telegram_bot/test_picker.py pins each to its guard.


def check_in_candidates(now: datetime) -> Q:
    return Q(status=Status.SCHEDULED, scheduled_start__lte=now + CHECK_IN_LEAD)


def check_out_candidates(now: datetime) -> Q:
    return Q(status=Status.CHECKED_IN, scheduled_end__lte=now + CHECK_OUT_LEAD,
             scheduled_end__gte=now - CHECK_OUT_GRACE)


def change_candidates(now: datetime) -> Q:
    """Cancel and reschedule (guard_self_service_change)."""
    return Q(status=Status.SCHEDULED, scheduled_start__gt=now + CHANGE_LOCKOUT)


def refusal(guard, ctx: Ctx) -> Refused | None:
    """The guard's refusal (a guard_* function above), or None when it allows the action now."""
    try:
        guard(ctx)
    except Refused as exc:
        return exc
    return None


def validate_proposed_start(session: Session, proposed_start: datetime | None, now: datetime,
                            current_start: datetime | None = None) -> tuple[datetime, datetime]:
    """The new slot: in the future, within the shared date range, duration kept (the server
    derives the end)."""
    proposed_start = require_moment(proposed_start, "a new start time")
    if proposed_start <= now:
        raise Refused("The proposed time must be in the future.", code="proposal_in_past", status=INVALID)
    if proposed_start == (current_start or session.scheduled_start):
        raise Refused("The proposed time is the same as the current one.", code="same_time", status=INVALID)
    return proposed_start, proposed_start + session.duration
