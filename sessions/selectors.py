"""The reads of the session pages and the sessions' JSON API: which sessions each list shows, in
which order, and the small lookups beside them (reason pickers, a coordinator to message, a
parent's children, a session's audit trail). Nothing here writes; the shape each page needs on
its rows (the card's prefetches) is laid over these by the page."""

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from tutoring.models import Guardianship, Role, User

from . import paging, projections
from .access import Viewer, visible_sessions
from .errors import Refused
from .models import ChangeReason, Party, ProposalStatus, Session, SessionEvent, Status

PAGE_SIZE = 50
UPCOMING_DAYS = 7
LIVE = (Status.SCHEDULED, Status.CHECKED_IN)


def page_of(qs: QuerySet, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One page of sessions plus whether there are more (one extra row, not a COUNT)."""
    start = (page - 1) * size
    rows = list(qs[start:start + size + 1])
    return rows[:size], len(rows) > size


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
    return projections.with_open_thread(qs).prefetch_related("open_threads__reason")


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
    rows = list(projections.with_open_thread(paging.order(qs, newest_first=False))
                .prefetch_related("open_threads__reason")[: limit + 1])
    return paging.cut(rows, limit)


def guardians_children(user: User) -> list[User]:
    """The students a parent is the guardian of, by name (the API's /me)."""
    return list(User.objects.filter(pk__in=Guardianship.objects.filter(parent=user).values("student_id"))
                .order_by("name"))


def events_of(session: Session) -> QuerySet[SessionEvent]:
    """A session's audit trail, oldest first, with who acted."""
    return SessionEvent.objects.filter(session=session).select_related("actor").order_by("id")
