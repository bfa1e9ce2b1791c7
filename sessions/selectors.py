"""The reads of the session pages, the sessions' JSON API, the lifecycle, the admin, the desk and
the bot: which sessions each list shows, in which order, what a card prefetches, a session's open
reschedule request (read once here: open_thread_and_proposal, and with_open_thread for a list), and
the small lookups beside them (reason pickers, a coordinator to message, a parent's children, a
course its student or tutor may open, a session's audit trail), the events nobody was told about, and
a lesson package's used and remaining credits. Nothing here writes."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from tutoring.models import Course, Enrollment, Guardianship, LessonPackage, Match, Role, User

from . import paging
from .access import Viewer, visible_sessions
from .errors import Refused
from .models import (
    LIVE,
    ChangeReason,
    PackageDeduction,
    Party,
    ProposalStatus,
    RescheduleProposal,
    RescheduleThread,
    Session,
    SessionEvent,
    Status,
    ThreadStatus,
)

PAGE_SIZE = 50
UPCOMING_DAYS = 7


def page_of(qs: QuerySet, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One page of sessions plus whether there are more (one extra row, not a COUNT)."""
    start = (page - 1) * size
    rows = list(qs[start:start + size + 1])
    return rows[:size], len(rows) > size


# --- a session's open reschedule request -------------------------------------------------------


def _proposals() -> Prefetch:
    """A thread's proposals, oldest version first, with who proposed each (thread.all_proposals)."""
    return Prefetch("proposals", queryset=RescheduleProposal.objects.select_related("proposed_by").order_by("version"),
                    to_attr="all_proposals")


def with_open_thread(qs: QuerySet[Session]) -> QuerySet[Session]:
    """Prefetch each session's open thread and its proposals (two queries for any list):
    session.open_threads, read by open_thread_and_proposal."""
    threads = RescheduleThread.objects.filter(status=ThreadStatus.OPEN).prefetch_related(_proposals())
    return qs.prefetch_related(Prefetch("reschedule_threads", queryset=threads, to_attr="open_threads"))


def open_proposal_in(thread: RescheduleThread | None) -> RescheduleProposal | None:
    """The open proposal among a thread's proposals (a thread is open while its last one is)."""
    if thread is None:
        return None
    return next((p for p in thread.all_proposals if p.status == ProposalStatus.OPEN), None)


def open_thread_and_proposal(session: Session, *, fresh: bool = False
                             ) -> tuple[RescheduleThread | None, RescheduleProposal | None]:
    """The session's open reschedule thread (with its reason and its proposals, thread.all_proposals)
    and its open proposal, or (None, None). From the list's prefetch (with_open_thread) when the
    session carries it; else read now, two queries (one when nothing is open), and kept on the
    session for its next read. `fresh` always reads and keeps nothing: the lifecycle reads it so
    under the session's row lock (every change of a thread locks its session first, so the lock
    covers the thread and its proposals too)."""
    threads = None if fresh else getattr(session, "open_threads", None)
    if threads is None:
        threads = list(session.reschedule_threads.filter(status=ThreadStatus.OPEN).select_related("reason")
                       .prefetch_related(_proposals()))
        if not fresh:
            session.open_threads = threads
    thread = threads[0] if threads else None
    return thread, open_proposal_in(thread)


def proposal_of(session: Session, proposal_id: int) -> RescheduleProposal | None:
    """One of the session's proposals by id (open or not), or None."""
    return RescheduleProposal.objects.filter(pk=proposal_id, thread__session=session).first()


def with_open_request(threads: QuerySet[RescheduleThread]) -> QuerySet[RescheduleThread]:
    """Reschedule threads with their open proposal's side and time (open_by_role, open_start: two
    subqueries and a join, no query per row; the desk's queue of open requests)."""
    open_one = RescheduleProposal.objects.filter(thread=OuterRef("pk"), status=ProposalStatus.OPEN)
    return threads.select_related("session", "opened_by").annotate(
        open_by_role=Subquery(open_one.values("proposed_by_role")[:1]),
        open_start=Subquery(open_one.values("proposed_start")[:1]))


# --- what a session card shows ------------------------------------------------------------------

# Events whose outcome the people a session concerns read on its card (issue 10 item 5;
# projections.outcomes words them).
OUTCOME_KINDS = ("dispute", "resolve_dispute", "verify", "reschedule_rejected", "cancel", "no_show",
                 "penalty_waived")


def with_outcomes(qs: QuerySet[Session]) -> QuerySet[Session]:
    """Prefetch each session's outcome events with who made them (one query for any list):
    session.outcome_events."""
    events = SessionEvent.objects.filter(kind__in=OUTCOME_KINDS).select_related("actor").order_by("created_at", "id")
    return qs.prefetch_related(Prefetch("events", queryset=events, to_attr="outcome_events"))


def card_rows(qs: QuerySet[Session] | None = None, *, with_notes: bool = True,
              notes: Iterable = ()) -> QuerySet[Session]:
    """Sessions with everything a card shows: people, course, reason, the open thread and its
    reason, the outcomes; with_notes adds the notes' summary, the student's parents to message
    (for the tutor's cards) and the `notes` prefetches (lent by the notes app). `with_notes=False`
    where the viewer reads no notes (a student's own page)."""
    qs = (qs if qs is not None else Session.objects.all()).select_related(
        "tutor", "student", "course", "cancellation_reason", *(["notes_summary"] if with_notes else []))
    qs = with_outcomes(with_open_thread(qs).prefetch_related("open_threads__reason"))
    if not with_notes:
        return qs
    qs = qs.prefetch_related(Prefetch("student__guardian_links", to_attr="guardians",
                                      queryset=Guardianship.objects.select_related("parent")
                                      .order_by("parent__name", "parent_id")))
    return qs.prefetch_related(*notes)


# --- a course, for its student or its tutor -------------------------------------------------------


def _course(course_id: int) -> Course | None:
    return Course.objects.select_related("creator").filter(pk=course_id).first()


def course_for_student(course_id: int, student: User) -> Course | None:
    """The course, if the student is enrolled in it or has a session in it."""
    course = _course(course_id)
    if course is None or not (Enrollment.objects.filter(course=course, student=student).exists()
                              or Session.objects.filter(course=course, student=student).exists()):
        return None
    return course


def course_for_tutor(course_id: int, tutor: User) -> Course | None:
    """The course, if the tutor has a session in it or an active match in it."""
    course = _course(course_id)
    if course is None or not (Session.objects.filter(course=course, tutor=tutor).exists()
                              or Match.objects.filter(course=course, tutor=tutor, active=True).exists()):
        return None
    return course


# --- the people and pickers beside the lists -------------------------------------------------


def children_of(viewer: Viewer) -> list[User]:
    return list(User.objects.filter(pk__in=viewer.child_ids).order_by("name"))


def first_coordinator() -> User | None:
    """The coordinator people may message (the first active one)."""
    return (User.objects.filter(is_active=True, roles__contains=[Role.COORDINATOR])
            .order_by("id").only("id", "name").first())


def reason_pickers(roles) -> dict:
    """{"parent_cancel": [...], "tutor_reschedule": [...], ...} for the roles shown, one query."""
    pickers = {f"{role}_{kind}": [] for role in roles for kind in ("cancel", "reschedule")}
    for reason in ChangeReason.objects.filter(role__in=list(roles), active=True).order_by("position", "id"):
        pickers[f"{reason.role}_{reason.kind}"].append(reason)
    return pickers


def change_reasons(role: str, kind: str) -> QuerySet[ChangeReason]:
    return ChangeReason.objects.filter(role=role, kind=kind, active=True).order_by("position", "id")


# --- the role pages' lists (over a base queryset that carries the card's prefetches) ------------


def students_sessions(student_ids) -> QuerySet[Session]:
    return Session.objects.filter(student_id__in=list(student_ids))


def tutors_sessions(tutor_id: int) -> QuerySet[Session]:
    return Session.objects.filter(tutor_id=tutor_id)


def family_tabs(base: QuerySet[Session], now: datetime) -> dict[str, QuerySet[Session]]:
    """Upcoming (the next 7 days), Future, Past."""
    week = now + timedelta(days=UPCOMING_DAYS)
    return {
        "upcoming": base.filter(scheduled_end__gt=now, scheduled_start__lt=week).order_by("scheduled_start", "pk"),
        "future": base.filter(scheduled_start__gte=week).order_by("scheduled_start", "pk"),
        "past": base.filter(scheduled_end__lte=now).order_by("-scheduled_start", "-pk"),
    }


def family_waiting(base: QuerySet[Session]) -> QuerySet[Session]:
    """What waits for the parent: an acknowledgement, or an answer to the tutor's new time."""
    return base.filter(
        Q(status=Status.AWAITING_APPROVAL_PARENT)
        | Q(reschedule_threads__proposals__status=ProposalStatus.OPEN,
            reschedule_threads__proposals__proposed_by_role=Party.TUTOR)
    ).distinct().order_by("scheduled_start", "pk")[:PAGE_SIZE]


def teach_tabs(base: QuerySet[Session], day_start: datetime, day_end: datetime) -> dict[str, QuerySet[Session]]:
    """Today, Upcoming, Past, by the tutor's local day. A session still checked in stays on Today
    until it is checked out, even when it began before midnight (a lesson from 23:30 to 00:30 is
    checked out from Today at 00:30, not hunted for under Past)."""
    in_progress = Q(status=Status.CHECKED_IN, scheduled_start__lt=day_start)
    return {
        "today": base.filter(Q(scheduled_start__gte=day_start, scheduled_start__lt=day_end) | in_progress)
        .order_by("scheduled_start", "pk"),
        "upcoming": base.filter(scheduled_start__gte=day_end).order_by("scheduled_start", "pk"),
        "past": base.filter(scheduled_start__lt=day_start).exclude(in_progress).order_by("-scheduled_start", "-pk"),
    }


def teach_waiting(base: QuerySet[Session], now: datetime) -> QuerySet[Session]:
    """What waits for the tutor: an answer to the parent's new time."""
    return base.filter(
        status=Status.SCHEDULED, scheduled_start__gt=now,
        reschedule_threads__proposals__status=ProposalStatus.OPEN,
        reschedule_threads__proposals__proposed_by_role=Party.PARENT,
    ).distinct().order_by("scheduled_start", "pk")[:PAGE_SIZE]


def learn_lists(base: QuerySet[Session], now: datetime) -> tuple[list[Session], list[Session]]:
    """The student's upcoming sessions (not over, not closed), then the past ones."""
    live = Q(scheduled_end__gt=now, status__in=LIVE)
    upcoming = list(base.filter(live).order_by("scheduled_start", "pk")[:PAGE_SIZE])
    past = list(base.exclude(live).order_by("-scheduled_start", "-pk")[:PAGE_SIZE])
    return upcoming, past


def tutors_live_around(tutor: User, now: datetime, each_side: int = 20) -> list[Session]:
    """The tutor's live sessions (checked in, or scheduled from a day ago on) nearest to `now`: up
    to `each_side` that started before it, latest first, and up to `each_side` from it on, earliest
    first (the bot explains why none allows a command by the nearest of them), with the open
    thread prefetched. Sessions still scheduled from earlier in the day (awaiting the no-show
    sweep) do not crowd out the one in progress."""
    live = _tutors_live(tutor, now)
    before = live.filter(scheduled_start__lt=now).order_by("-scheduled_start", "-pk")[:each_side]
    after = live.filter(scheduled_start__gte=now).order_by("scheduled_start", "pk")[:each_side]
    return [*before, *after]


def _tutors_live(tutor: User, now: datetime) -> QuerySet[Session]:
    live = Q(status=Status.CHECKED_IN) | Q(status=Status.SCHEDULED, scheduled_start__gte=now - timedelta(days=1))
    return with_open_thread(Session.objects.filter(live, tutor=tutor).select_related("tutor", "student", "course"))


def tutors_live_run(tutor: User, now: datetime, *, where: Q, key: tuple[datetime, int] | None = None,
                    backward: bool = False, limit: int) -> list[Session]:
    """Up to `limit` of the tutor's live sessions (as tutors_live_around) that match `where`, in
    (start, id) order from the first, or beyond `key` (a session's start and id): later ones, or
    with `backward` earlier ones, nearest first (the bot's picker pages: a keyset on the
    session_tutor_start index, so a far page costs what the first does)."""
    qs = _tutors_live(tutor, now).filter(where)
    if key is not None:
        qs = paging.beyond(qs, key, newest_first=backward)
    return list(paging.order(qs, newest_first=backward)[:limit])


def coming_sessions(viewer: Viewer, limit: int = 20) -> list[Session]:
    """The viewer's sessions still to come or under way, soonest first (the home page)."""
    return list(
        visible_sessions(viewer)
        .filter(scheduled_end__gte=timezone.now(), status__in=LIVE)
        .select_related("tutor", "student", "course")
        .order_by("scheduled_start")[:limit]
    )


# --- the JSON API ------------------------------------------------------------------------------


def detail_queryset() -> QuerySet[Session]:
    """Sessions with what the API serializes: people, course, reason, the open thread."""
    qs = Session.objects.select_related("tutor", "student", "course", "cancellation_reason")
    return with_open_thread(qs).prefetch_related("open_threads__reason")


def api_sessions(viewer: Viewer, *, status: str | None, start_from: datetime | None, start_to: datetime | None,
                 cursor: str | None, limit: int) -> tuple[list[Session], str | None]:
    """The caller's sessions in every role they hold, by start time, keyset-paged; `status` is a
    comma-separated list (an unknown one is refused)."""
    qs = visible_sessions(viewer).select_related("tutor", "student", "course", "cancellation_reason")
    if status:
        wanted = [s.strip() for s in status.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in Status.values]
        if unknown:
            raise Refused(f"Unknown status: {', '.join(unknown)}.", code="invalid", status=422)
        qs = qs.filter(status__in=wanted)
    if start_from:
        qs = qs.filter(scheduled_start__gte=start_from)
    if start_to:
        qs = qs.filter(scheduled_start__lt=start_to)
    qs = paging.after_cursor(qs, cursor, newest_first=False)
    rows = list(with_open_thread(paging.order(qs, newest_first=False))
                .prefetch_related("open_threads__reason")[: limit + 1])
    return paging.cut(rows, limit)


def guardians_children(user: User) -> list[User]:
    """The students a parent is the guardian of, by name (the API's /me)."""
    return list(User.objects.filter(pk__in=Guardianship.objects.filter(parent=user).values("student_id"))
                .order_by("name"))


def events_of(session: Session) -> QuerySet[SessionEvent]:
    """A session's audit trail, oldest first, with who acted."""
    return SessionEvent.objects.filter(session=session).select_related("actor").order_by("id")


# --- untold events (the desk's "notifications stuck" and the event admin's filter) ---------------

# The notifications relay runs every minute: an event still untold after this long is stuck (its
# fan-out failed, see notifications/outbox.py) and needs a person (the desk's "notifications stuck").
STUCK_AFTER = timedelta(minutes=5)


def stuck_events(now) -> Q:
    """Events nobody has been told about for longer than STUCK_AFTER (partial index event_unnotified)."""
    return Q(notified_at__isnull=True, created_at__lt=now - STUCK_AFTER)


# --- a lesson package's credits (the package admin, the desk's queue, the statement, the alert) --


def used_credits_subquery() -> Coalesce:
    """Credits used by one package, as a correlated subquery: evaluated for the shown rows only."""
    used = (
        PackageDeduction.objects.filter(package=OuterRef("pk")).order_by()
        .values("package").annotate(total=Sum("credits")).values("total")
    )
    return Coalesce(Subquery(used, output_field=IntegerField()), Value(0))


def used_credits(package: LessonPackage) -> int:
    return PackageDeduction.used_by([package]).get(package.pk, 0)


def remaining(credits, used):
    """Credits left in a package: its credits minus those used, as numbers or as query expressions
    (F("credits") and used_credits_subquery(), for a filter in SQL)."""
    return credits - used
