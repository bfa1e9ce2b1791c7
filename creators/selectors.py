"""Reads for the creator's Session History (spec 000): which sessions a creator sees, the status
buckets of the page's filter, and the metrics, each defined next to its query."""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import (
    Avg,
    BooleanField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from sessions.models import AssessmentRole, Recording, RecordingStatus, Session, SessionEvent, Status
from tutoring.models import Course, Role, User

# The page's status filter (H11) mapped onto backend statuses. A session "took place" once the
# tutor checked out: awaiting acknowledgement, approved, or disputed (it happened; the parent
# contests it). not_completed (an expired reschedule, a voided dispute) did not take place and is
# shown with the cancellations.
STATUS_BUCKETS = {
    "completed": (Status.AWAITING_APPROVAL_PARENT, Status.APPROVED, Status.DISPUTED),
    "scheduled": (Status.SCHEDULED, Status.CHECKED_IN),
    "cancelled": (Status.CANCELLED_BY_TUTOR, Status.CANCELLED_BY_PARENT, Status.NOT_COMPLETED),
    "no_show": (Status.NO_SHOW,),
}
BUCKET_OF = {status: bucket for bucket, statuses in STATUS_BUCKETS.items() for status in statuses}
LOW_RATING = 2  # sessions rated this or lower are flagged for review (H23)


def is_creator(user: User) -> bool:
    return Role.CREATOR in user.roles


def creator_sessions(creator: User) -> QuerySet[Session]:
    """Every session of the creator's own courses (H01); a session without a course is nobody's."""
    return Session.objects.filter(course__creator=creator)


@dataclass(frozen=True)
class Filters:
    course_id: int | None = None
    tutor_id: int | None = None
    student: str = ""  # a name search
    student_id: int | None = None  # one student (a student's page links here)
    bucket: str = ""
    start: datetime | None = None
    end: datetime | None = None
    low_rated: bool = False

    def apply(self, qs: QuerySet[Session]) -> QuerySet[Session]:
        if self.course_id:
            qs = qs.filter(course_id=self.course_id)
        if self.tutor_id:
            qs = qs.filter(tutor_id=self.tutor_id)
        if self.student:
            qs = qs.filter(student__name__icontains=self.student)
        if self.student_id:
            qs = qs.filter(student_id=self.student_id)
        if self.bucket:
            qs = qs.filter(status__in=STATUS_BUCKETS[self.bucket])
        if self.start:
            qs = qs.filter(scheduled_start__gte=self.start)
        if self.end:
            qs = qs.filter(scheduled_start__lt=self.end)
        if self.low_rated:
            qs = qs.filter(pk__in=Session.objects.filter(assessments__author_role=AssessmentRole.STUDENT,
                                                         assessments__rating__lte=LOW_RATING).values("pk"))
        return qs


def week_start(now: datetime, user: User) -> datetime:
    """Monday 00:00 of this week in the user's zone."""
    local = now.astimezone(user.tzinfo)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=user.tzinfo)


ACTUAL = ExpressionWrapper(F("checked_out_at") - F("checked_in_at"), output_field=DurationField())


def with_student_review(qs: QuerySet[Session]) -> QuerySet[Session]:
    """Join the student's assessment only: at most one per session, so no row is doubled."""
    return qs.annotate(student_review=FilteredRelation(
        "assessments", condition=Q(assessments__author_role=AssessmentRole.STUDENT)))


def table_rows(qs: QuerySet[Session]) -> QuerySet[Session]:
    """The table's rows in one query: people and course joined; the student's rating, the
    low-rating flag (H23: rated LOW_RATING or less, flagged for review) and whether a recording
    is available computed in the same query."""
    available = playable_recordings().filter(session=OuterRef("pk"))
    return (with_student_review(qs)
            .select_related("tutor", "student", "course")
            .annotate(rating=F("student_review__rating"), has_recording=Exists(available),
                      low_rating=Case(When(student_review__rating__lte=LOW_RATING, then=Value(True)),
                                      default=Value(False), output_field=BooleanField())))


def newest_rows(qs: QuerySet[Session], *, course_ids: list[int], cursor: str | None, limit: int) -> list[Session]:
    """Up to `limit` + 1 table rows of `qs`, newest first, after the cursor. With several courses,
    each course's newest rows are found on its own (course, scheduled_start) index and merged, so
    the cost follows the page, not the creator's share of all sessions."""
    from sessions import paging

    qs = paging.after_cursor(qs, cursor, newest_first=True)
    if len(course_ids) > 1:
        parts = [paging.order(qs.filter(course_id=c), newest_first=True).values_list("pk", flat=True)[:limit + 1]
                 for c in course_ids]
        qs = Session.objects.filter(pk__in=list(parts[0].union(*parts[1:], all=True)))
    return list(paging.order(table_rows(qs), newest_first=True)[:limit + 1])


def metric_aggregates() -> dict:
    """The metrics of H16 as one aggregate with FILTER clauses:
    - average duration: mean of checked_out_at - checked_in_at over sessions that took place and
      have both times (imported/legacy sessions without attendance are left out);
    - completion rate: took place / (took place + cancelled + no-show), i.e. of the sessions that
      are settled, not counting those still scheduled or in progress;
    - no-show rate: no-show / (took place + no-show), i.e. of the sessions that were due to happen;
    - average rating: mean of the students' ratings (1-5)."""
    completed = Q(status__in=STATUS_BUCKETS["completed"])
    return {
        "total": Count("id"),
        "completed": Count("id", filter=completed),
        "cancelled": Count("id", filter=Q(status__in=STATUS_BUCKETS["cancelled"])),
        "no_show": Count("id", filter=Q(status=Status.NO_SHOW)),
        "scheduled": Count("id", filter=Q(status__in=STATUS_BUCKETS["scheduled"])),
        "avg_duration": Avg(ACTUAL, filter=completed & Q(checked_in_at__isnull=False,
                                                         checked_out_at__isnull=False)),
        "avg_rating": Avg("student_review__rating"),
        "rated": Count("student_review__rating"),
    }


def _rates(row: dict) -> dict:
    settled = row["completed"] + row["cancelled"] + row["no_show"]
    due = row["completed"] + row["no_show"]
    duration = row["avg_duration"]
    return {
        "total": row["total"],
        "completed": row["completed"],
        "cancelled": row["cancelled"],
        "no_show": row["no_show"],
        "scheduled": row["scheduled"],
        "average_duration_minutes": round(duration.total_seconds() / 60, 1) if duration else None,
        "completion_rate": round(row["completed"] / settled, 4) if settled else None,
        "no_show_rate": round(row["no_show"] / due, 4) if due else None,
        "average_rating": round(float(row["avg_rating"]), 2) if row["avg_rating"] is not None else None,
        "ratings": row["rated"],
    }


def metrics(qs: QuerySet[Session]) -> dict:
    """Metrics for the whole filtered set (one query)."""
    return _rates(with_student_review(qs).aggregate(**metric_aggregates()))


def metrics_by_tutor(qs: QuerySet[Session]) -> list[dict]:
    """The same metrics per Student-Teacher (one query)."""
    rows = (with_student_review(qs).values("tutor_id", "tutor__name", "tutor__avatar_url")
            .annotate(**metric_aggregates())
            .order_by("tutor__name", "tutor_id"))
    return [{"tutor": {"id": r["tutor_id"], "name": r["tutor__name"], "avatar_url": r["tutor__avatar_url"]}}
            | _rates(r) for r in rows]


# --- the same metrics from the maintained rollups -------------------------------------------

def _rollup_aggregates() -> dict:
    """metric_aggregates() over creators.SessionRollup rows: sums instead of counts, the same
    definitions (average duration over sessions that took place with both times; rating over all)."""
    completed = Q(status__in=STATUS_BUCKETS["completed"])
    return {
        "total": Sum("sessions"),
        "completed": Sum("sessions", filter=completed),
        "cancelled": Sum("sessions", filter=Q(status__in=STATUS_BUCKETS["cancelled"])),
        "no_show": Sum("sessions", filter=Q(status=Status.NO_SHOW)),
        "scheduled": Sum("sessions", filter=Q(status__in=STATUS_BUCKETS["scheduled"])),
        "actual_us": Sum("actual_us", filter=completed),
        "actual_n": Sum("actual_n", filter=completed),
        "rating_sum": Sum("rating_sum"),
        "rated": Sum("rating_n"),
    }


def _from_sums(row: dict) -> dict:
    """A rollup sum row in the shape _rates reads."""
    counts = {k: row[k] or 0 for k in ("total", "completed", "cancelled", "no_show", "scheduled", "rated")}
    actual_n, rated = row["actual_n"] or 0, counts["rated"]
    return counts | {
        "avg_duration": timedelta(microseconds=row["actual_us"] / actual_n) if actual_n else None,
        "avg_rating": row["rating_sum"] / rated if rated else None,
    }


def uses_rollups(f: Filters) -> bool:
    """The rollups hold whole histories by course, ST and status: a date range, a student or the
    low-rating flag needs the sessions themselves."""
    return not (f.start or f.end or f.student or f.student_id or f.low_rated)


def creator_metrics(creator: User, f: Filters) -> tuple[dict, list[dict]]:
    """The metrics and the per-ST breakdown of a creator's sessions under the filters: from the
    rollups when the filters allow (two queries over a few thousand rows), else from the sessions."""
    if not uses_rollups(f):
        qs = f.apply(creator_sessions(creator))
        return metrics(qs), metrics_by_tutor(qs)
    from .models import SessionRollup

    rows = SessionRollup.objects.filter(course__creator=creator)
    if f.course_id:
        rows = rows.filter(course_id=f.course_id)
    if f.tutor_id:
        rows = rows.filter(tutor_id=f.tutor_id)
    if f.bucket:
        rows = rows.filter(status__in=STATUS_BUCKETS[f.bucket])
    per_tutor = list(rows.values("tutor_id", "tutor__name", "tutor__avatar_url").annotate(**_rollup_aggregates())
                     .filter(total__gt=0).order_by("tutor__name", "tutor_id"))
    # the whole: the per-ST sums added up (one query for both)
    overall = {key: sum(r[key] or 0 for r in per_tutor) for key in _rollup_aggregates()}
    return _rates(_from_sums(overall)), [
        {"tutor": {"id": r["tutor_id"], "name": r["tutor__name"], "avatar_url": r["tutor__avatar_url"]}}
        | _rates(_from_sums(r)) for r in per_tutor]


def creator_courses(creator: User) -> QuerySet[Course]:
    return Course.objects.filter(creator=creator).order_by("title", "id")


def creator_tutors(creator: User) -> QuerySet[User]:
    """The Student-Teachers who teach the creator's courses (have sessions in them), read from the
    rollups: a few thousand rows instead of every session."""
    from .models import SessionRollup

    ids = SessionRollup.objects.filter(course__creator=creator, sessions__gt=0).values("tutor_id")
    return User.objects.filter(pk__in=ids).order_by("name", "id")


def feedback(session: Session, role: str) -> dict | None:
    """The student's or the tutor's rating and comment (assessments prefetched)."""
    review = next((a for a in session.assessments.all() if a.author_role == role), None)
    if review is None:
        return None
    return {"rating": review.rating, "comment": review.comment, "created_at": review.created_at}


def dispute_of(session: Session) -> dict | None:
    """The latest dispute of the session and how it was resolved, if it was."""
    events = list(SessionEvent.objects.filter(session=session, kind__in=["dispute", "resolve_dispute"])
                  .order_by("id"))
    raised = next((e for e in reversed(events) if e.kind == "dispute"), None)
    if raised is None:
        return None
    resolved = next((e for e in events if e.kind == "resolve_dispute" and e.id > raised.id), None)
    return {"reason": raised.reason, "disputed_at": raised.created_at,
            "resolution": resolved.data.get("decision") if resolved else None,
            "resolution_reason": resolved.reason if resolved else None}


def header_stats(creator: User, now: datetime) -> dict:
    """H06 "X total sessions, Y this week": the total from the rollups, this week's count from the
    (course, scheduled_start) index (two small queries)."""
    from .models import SessionRollup

    week = week_start(now, creator)
    total = SessionRollup.objects.filter(course__creator=creator).aggregate(n=Sum("sessions"))["n"] or 0
    this_week = Session.objects.filter(course_id__in=Course.objects.filter(creator=creator).values("pk"),
                                       scheduled_start__gte=week, scheduled_start__lt=week + timedelta(days=7)).count()
    return {"total": total, "this_week": this_week}


# --- recordings -------------------------------------------------------------------------------


def playable_recordings() -> QuerySet[Recording]:
    """Recordings that can be played: available and stored (the table's play icon, the detail
    panel's player and the signed link all use this one rule), newest first."""
    return Recording.objects.filter(status=RecordingStatus.AVAILABLE).exclude(r2_key="").order_by("-id")


def latest_recording(session: Session) -> Recording | None:
    return playable_recordings().filter(session=session).first()


def recording_link(recording: Recording) -> str:
    """A link to play the recording, valid NOTES_LINK_SECONDS (at most 5 minutes)."""
    from notes.storage import signed_link

    from video.recordings import content_type_of

    extension = recording.r2_key.rsplit(".", 1)[-1] if "." in recording.r2_key else "mp4"
    return signed_link(recording.r2_key, filename=f"session-{recording.session_id}-recording.{extension}",
                       content_type=content_type_of(recording.r2_key), inline=True)
