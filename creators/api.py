"""Creator-scoped JSON API (spec 000 "Planned API Calls") and the tutor's own views (H24).
A creator sees only their own courses' sessions; anyone else gets 404."""

from datetime import datetime, timedelta
from typing import Literal

from django.conf import settings
from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from notes.api import NoteOut, SummaryOut, notes_payload
from sessions import paging
from sessions.paging import Cursor
from sessions.access import Viewer, get_session_for
from sessions.errors import Refused
from sessions.models import AssessmentRole, Session
from sessions.schemas import CourseOut, ErrorOut, Out, PersonOut, person
from tutoring.input import MAX_ID, Moment, Text
from tutoring.models import Role, User
from video import recordings

from . import selectors
from .forms import END_BEFORE_START
from .selectors import BUCKET_OF, Filters

creators_router = Router(tags=["creators"])
tutor_router = Router(tags=["tutors"])


class RowOut(Out):
    id: int
    scheduled_start: datetime
    scheduled_end: datetime
    course: CourseOut | None
    student: PersonOut
    tutor: PersonOut
    actual_duration_minutes: float | None
    status: str
    status_group: str
    rating: int | None
    low_rating: bool
    has_recording: bool
    is_trial: bool
    billed_as_addon: bool


class PageOut(Out):
    items: list[RowOut]
    next_cursor: str | None


class FeedbackOut(Out):
    rating: int
    comment: str
    created_at: datetime


class DisputeOut(Out):
    reason: str
    disputed_at: datetime
    resolution: str | None
    resolution_reason: str | None


class DetailOut(RowOut):
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    source: str
    no_show_party: str
    cancellation_reason: str | None
    student_feedback: FeedbackOut | None
    tutor_feedback: FeedbackOut | None
    dispute: DisputeOut | None
    notes: list[NoteOut]
    summary: SummaryOut | None


class MetricsOut(Out):
    total: int
    completed: int
    cancelled: int
    no_show: int
    scheduled: int
    average_duration_minutes: float | None
    completion_rate: float | None
    no_show_rate: float | None
    average_rating: float | None
    ratings: int


class TutorMetricsOut(MetricsOut):
    tutor: PersonOut


class StatsOut(MetricsOut):
    this_week: int
    by_st: list[TutorMetricsOut]


class FilterIn(Schema):
    # ids within a bigint: the session rows' SQL compares them with bigint columns (a wider one
    # was PostgreSQL's "bigint out of range", a 500)
    course: int | None = Field(None, ge=1, le=MAX_ID)
    st: int | None = Field(None, ge=1, le=MAX_ID)
    student: Text(100, what="student name") = ""
    student_id: int | None = Field(None, ge=1, le=MAX_ID)
    status: Literal["all", "completed", "scheduled", "cancelled", "no_show"] = "all"
    from_: Moment | None = Field(None, alias="from")
    to: Moment | None = None
    low_rated: bool = False

    @field_validator("to")
    @classmethod
    def ends_after_start(cls, value, info: ValidationInfo):
        """The same rule as the page's range (creators.forms): an end before the start is an error
        at the field, never a range silently ignored."""
        start = info.data.get("from_")
        if value is not None and start is not None and value < start:
            raise PydanticCustomError("range", END_BEFORE_START)
        return value

    def filters(self) -> Filters:
        return Filters(course_id=self.course, tutor_id=self.st, student=self.student.strip(),
                       student_id=self.student_id, bucket="" if self.status == "all" else self.status,
                       start=self.from_, end=self.to, low_rated=self.low_rated)


class PageIn(FilterIn):
    cursor: Cursor | None = None
    limit: int = Field(25, ge=1, le=100)


ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _creator(request) -> User:
    return selectors.creator_or_404(request.user)


def _tutor(request) -> User:
    if Role.TUTOR not in request.user.roles:
        raise Http404("Not found.")
    return request.user


def _row(s: Session) -> dict:
    actual = s.actual_duration
    return {
        "id": s.id, "scheduled_start": s.scheduled_start, "scheduled_end": s.scheduled_end,
        "course": {"id": s.course.id, "title": s.course.title} if s.course else None,
        "student": person(s.student), "tutor": person(s.tutor),
        "actual_duration_minutes": round(actual.total_seconds() / 60, 1) if actual else None,
        "status": s.status, "status_group": BUCKET_OF[s.status],
        "rating": s.rating, "low_rating": s.low_rating,
        "has_recording": s.has_recording, "is_trial": s.is_trial, "billed_as_addon": s.billed_as_addon,
    }


def _page(rows: list, page: PageIn) -> dict:
    """Newest first, keyset-paged (the rows were read with page.limit + 1): the last page costs
    what the first does."""
    rows, cursor = paging.cut(rows, page.limit)
    return {"items": [_row(s) for s in rows], "next_cursor": cursor}


# --- creators ---------------------------------------------------------------------------------


@creators_router.get("/me/sessions", response={200: PageOut, **ERRORS})
def creator_sessions(request, page: Query[PageIn]):
    """The Session History table: filters combine; newest first."""
    creator = _creator(request)
    return _page(selectors.history_rows(creator, page.filters(), cursor=page.cursor, limit=page.limit), page)


@creators_router.get("/me/sessions/upcoming", response={200: list[RowOut], **ERRORS})
def creator_upcoming(request, from_: Moment | None = Query(None, alias="from"), to: Moment | None = None):
    """The calendar tab: scheduled sessions (default: the next 31 days), soonest first."""
    start = from_ or timezone.now()
    end = to or start + timedelta(days=31)  # Moment keeps both within 2000-2100: no overflow
    if end <= start or end - start > timedelta(days=62):  # the input first, then who asks
        message = "Choose a range of at most 62 days, ending after it starts."
        raise Refused(message, code="invalid", status=422, errors=[{"field": "to", "detail": message}])
    creator = _creator(request)
    return [_row(s) for s in selectors.table_rows(selectors.scheduled_between(creator, start, end))[:500]]


@creators_router.get("/me/sessions/stats", response={200: StatsOut, **ERRORS})
def creator_stats(request, filters: Query[FilterIn]):
    """Header stats ("X total sessions, Y this week") and the metrics summary, per ST too."""
    creator = _creator(request)
    f = filters.filters()
    week = selectors.week_start(timezone.now(), creator)
    this_week = f.apply(selectors.creator_sessions(creator)).filter(
        scheduled_start__gte=week, scheduled_start__lt=week + timedelta(days=7)).count()
    overall, by_st = selectors.creator_metrics(creator, f)
    return overall | {"this_week": this_week, "by_st": by_st}


@creators_router.get("/me/sessions/{session_id}", response={200: DetailOut, **ERRORS})
def creator_session(request, session_id: int):
    """The detail panel: full info, both feedbacks, dispute (if flagged), the notes (each
    attachment with a download link valid 5 minutes) and their summary."""
    creator = _creator(request)
    session = selectors.creator_session(creator, session_id)
    if session is None:
        raise Http404("Not found.")
    return _row(session) | {
        "checked_in_at": session.checked_in_at, "checked_out_at": session.checked_out_at,
        "source": session.source, "no_show_party": session.no_show_party,
        "cancellation_reason": session.cancellation_reason.label if session.cancellation_reason else None,
        "student_feedback": selectors.feedback(session, AssessmentRole.STUDENT),
        "tutor_feedback": selectors.feedback(session, AssessmentRole.TUTOR),
        "dispute": selectors.dispute_of(session),
        **notes_payload(session),
    }


@creators_router.get("/me/courses", response={200: list[CourseOut], **ERRORS})
def creator_courses(request):
    return selectors.creator_courses(_creator(request))


@creators_router.get("/me/student-teachers", response={200: list[PersonOut], **ERRORS})
def creator_tutors(request):
    return [person(u) for u in selectors.creator_tutors(_creator(request))]


# --- the tutor's own view (H24) ---------------------------------------------------------------


@tutor_router.get("/st-sessions", response={200: PageOut, **ERRORS})
def st_sessions(request, page: Query[PageIn]):
    """A tutor's own sessions across every course, with the same filters and rows."""
    f = page.filters()
    rows = selectors.newest_rows(f.apply(Session.objects.filter(tutor=_tutor(request))),
                                 course_ids=[f.course_id] if f.course_id else [], cursor=page.cursor, limit=page.limit)
    return _page(rows, page)


@tutor_router.get("/st-analytics/sessions", response={200: MetricsOut, **ERRORS})
def st_analytics(request, filters: Query[FilterIn]):
    """A tutor's own metrics, with the same definitions as the creator's."""
    return selectors.metrics(filters.filters().apply(Session.objects.filter(tutor=_tutor(request))))


# --- recordings -------------------------------------------------------------------------------

recordings_router = Router(tags=["recordings"])


class RecordingOut(Schema):
    url: str
    expires_at: datetime
    duration_seconds: int | None


@recordings_router.get("/{session_id}/recording", response={200: RecordingOut, **ERRORS})
def session_recording(request, session_id: int):
    """A signed URL of the session's recording, valid at most 5 minutes (H22, H23). 404 to anyone who
    may not see the session, and when no recording is available: "Recording not available" either way."""
    try:
        session = get_session_for(Viewer.of(request.user), session_id)
    except Http404:
        session = None
    found = recordings.latest_recording(session) if session is not None else None
    if found is None:
        raise Refused("Recording not available", code="no_recording", status=404)
    return {"url": recordings.recording_link(found), "duration_seconds": found.duration_seconds,
            "expires_at": timezone.now() + timedelta(seconds=settings.NOTES_LINK_SECONDS)}
