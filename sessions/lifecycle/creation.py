"""Creating sessions: a coordinator schedules one; a tutor batch-logs ad-hoc sessions that already
took place (planned row by row against the tutor's active matches, then one INSERT)."""

from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from tutoring.models import Course, Enrollment, Match, Role, User

from .. import rules
from ..errors import FORBIDDEN, INVALID, Refused
from ..models import OCCUPYING_STATUSES, Channel, Session, Source, Status
from .core import _ensure_slot_free, _lock, _now, _record, _save, _slot_taken_as_refusal, silenced

MAX_ADHOC_ROWS = 50


def _user_with_role(user_id, role: str, what: str) -> User:
    try:
        return User.objects.get(pk=int(user_id), roles__contains=[role], is_active=True)
    except (TypeError, ValueError, User.DoesNotExist):
        raise Refused(f"No {what} with that id.", code=f"unknown_{role}", status=INVALID) from None


def _matched_course(tutor: User, student: User) -> Course | None:
    """The course the pair's match implies: the one course of their active matches in which the
    student is enrolled (None when they have none, or several)."""
    courses = list(Course.objects.filter(
        matches__tutor=tutor, matches__student=student, matches__active=True,
        enrollments__student=student).distinct()[:2])
    return courses[0] if len(courses) == 1 else None


def _course_for(course_id, student: User, tutor: User | None = None) -> Course | None:
    """The given course (the student must be enrolled in it); none given: the course of the tutor's
    match with the student, when it implies one."""
    if course_id in (None, ""):
        return _matched_course(tutor, student) if tutor is not None else None
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
    """A coordinator schedules a session (what match acceptance does automatically). Without a course,
    the course of the tutor's match with the student is used when it implies one."""
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
    course = _course_for(course_id, student, tutor)
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


# --- sessions a weekly pattern planned --------------------------------------------------------

# Events a planned session may carry and still count as untouched: its creation and the moves of
# its pattern. Anything a person did (a check-in, a reschedule thread, a cancel) makes it theirs.
PLANNED_KINDS = ("created", "pattern_moved")


def untouched(session: Session, now: datetime) -> bool:
    """Still scheduled, in the future, and nobody but the pattern acted on it."""
    return (session.status == Status.SCHEDULED and session.scheduled_start > now
            and not session.events.exclude(kind__in=PLANNED_KINDS).exists())


@transaction.atomic
def move_planned_session(session, *, by: User, start: datetime, end: datetime, now: datetime | None = None,
                         channel: str = Channel.ADMIN) -> Session | None:
    """A changed weekly pattern moves one of its sessions: only while it is untouched (else None,
    and nothing changes). A coordinator only; the new slot is checked like a new session's."""
    now = _now(now)
    if not by.is_coordinator:
        raise Refused("Only a coordinator can change a schedule.", code="not_allowed", status=FORBIDDEN)
    session = _lock(session)
    if not untouched(session, now):
        return None
    _validate_slot(start, end, rules.MAX_SESSION_LENGTH)
    if start <= now:
        raise Refused("A session can only be moved into the future.", code="start_in_past", status=INVALID)
    before = (session.scheduled_start, session.scheduled_end)
    session.scheduled_start, session.scheduled_end = start, end
    _ensure_slot_free(session, start, end)
    _save(session, now, "scheduled_start", "scheduled_end")
    _record(session, by=by, channel=channel, kind="pattern_moved", from_status="", now=now,
            data={"from_start": before[0].isoformat(), "from_end": before[1].isoformat()})
    return session


@transaction.atomic
def withdraw_planned_session(session, *, by: User, reason: str, now: datetime | None = None,
                             channel: str = Channel.ADMIN) -> Session | None:
    """An ended (or shortened) weekly pattern withdraws one of its sessions: scheduled → not
    completed, only while it is untouched (else None, and nothing changes). No credit is used."""
    now = _now(now)
    if not by.is_coordinator:
        raise Refused("Only a coordinator can change a schedule.", code="not_allowed", status=FORBIDDEN)
    session = _lock(session)
    if not untouched(session, now):
        return None
    before = session.status
    session.status = Status.NOT_COMPLETED
    session.cancelled_at = now
    _save(session, now, "status", "cancelled_at")
    _record(session, by=by, channel=channel, kind="pattern_withdrawn", from_status=before, now=now,
            reason=rules.optional_text(reason, "reason"))
    return session
