"""Scheduling from matches (issue 17 item 2; spec 004 L03 "auto-created on match acceptance").

A coordinator accepts a match with a weekly pattern: weekdays, a local start time in the tutor's
zone and a length, for a number of weeks or until the student's lesson credits are planned. The
sessions are computed first (`plan`), each at the same local time whatever the UTC offset that
week (a DST change moves the UTC time, never the local one), and checked against the tutor's and
the student's other sessions: the conflicts are listed and nothing is written unless the
coordinator confirms, and then the conflicting dates are left out. Every session is created by the
lifecycle (`lifecycle.create_session`), linked to its pattern by a PatternSession.

Changing the pattern moves its untouched future sessions (still scheduled, no event but their
creation and earlier pattern moves: lifecycle.untouched) to the new dates, creates the extra ones
and withdraws the surplus; ending it withdraws them. A session somebody acted on is left as it is.
"""

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from notifications.outbox import notify

from sessions import lifecycle, rules
from sessions.errors import CONFLICT, FORBIDDEN, INVALID, Refused
from sessions.models import Channel, PackageDeduction, Session, SessionEvent, Status
from tutoring.models import Guardianship, LessonPackage, Match, MatchState, User

from .models import PatternSession, WeeklyPattern

MAX_WEEKS = 52  # one pattern plans at most a year ahead
MIN_MINUTES = 15
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WITHDRAWN_REASON = "The weekly pattern changed or ended."


@dataclass(frozen=True)
class PatternInput:
    weekdays: tuple[int, ...]
    start_time: time
    minutes: int
    starts_on: date
    weeks: int | None = None  # None: until the package's credits are planned

    def check(self) -> "PatternInput":
        days = tuple(sorted(set(self.weekdays or ())))
        if not days:
            raise Refused("Choose at least one weekday.", code="weekdays_required", status=INVALID)
        if any(not isinstance(d, int) or d < 0 or d > 6 for d in days):
            raise Refused("Weekdays are 0 (Monday) to 6 (Sunday).", code="bad_weekday", status=INVALID)
        if self.start_time is None:
            raise Refused("Choose a start time.", code="time_required", status=INVALID)
        longest = int(rules.MAX_SESSION_LENGTH.total_seconds() // 60)
        if not isinstance(self.minutes, int) or not MIN_MINUTES <= self.minutes <= longest:
            raise Refused(f"A session lasts {MIN_MINUTES} to {longest} minutes.", code="bad_length", status=INVALID)
        if self.starts_on is None:
            raise Refused("Choose the first day.", code="date_required", status=INVALID)
        if self.weeks is not None and not 1 <= self.weeks <= MAX_WEEKS:
            raise Refused(f"Plan 1 to {MAX_WEEKS} weeks.", code="bad_weeks", status=INVALID)
        return PatternInput(days, self.start_time.replace(second=0, microsecond=0), self.minutes, self.starts_on,
                            self.weeks)


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Conflict:
    slot: Slot
    session: Session
    whose: str  # "tutor" or "student"

    def as_dict(self) -> dict:
        return {"start": self.slot.start.isoformat(), "end": self.slot.end.isoformat(),
                "session_id": self.session.pk, "whose": self.whose,
                "detail": f"The {self.whose} already has session {self.session.pk} at that time."}


@dataclass
class Plan:
    slots: list[Slot]
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def free(self) -> list[Slot]:
        taken = {c.slot for c in self.conflicts}
        return [s for s in self.slots if s not in taken]


def local_slot(day: date, start_time: time, minutes: int, tz: zoneinfo.ZoneInfo) -> Slot:
    """The session on `day` at `start_time` in `tz`. A start in the hour a spring DST change skips
    is read with the offset before the change (02:30 becomes 03:30); an ambiguous autumn one is the
    first of the two (fold 0)."""
    start = datetime.combine(day, start_time, tzinfo=tz).astimezone(UTC)
    return Slot(start, start + timedelta(minutes=minutes))


def occurrences(spec: PatternInput, tz: zoneinfo.ZoneInfo, *, after: datetime, count: int | None) -> list[Slot]:
    """Each pattern day from starts_on that starts after `after`: for spec.weeks weeks, or the
    first `count` of at most MAX_WEEKS weeks."""
    weeks = spec.weeks or MAX_WEEKS
    slots = []
    for offset in range(weeks * 7):
        day = spec.starts_on + timedelta(days=offset)
        if day.weekday() not in spec.weekdays:
            continue
        slot = local_slot(day, spec.start_time, spec.minutes, tz)
        if slot.start <= after:
            continue
        if count is not None and len(slots) >= count:
            break
        slots.append(slot)
    return slots


def credits_to_plan(match: Match, now: datetime, *, exclude_pattern: WeeklyPattern | None = None) -> int:
    """The student's credits left on packages still valid (for the match's course or any course)
    less their future scheduled sessions that will use one (the pattern's own, when changing it,
    are planned again)."""
    today = now.astimezone(match.student.tzinfo).date()
    packages = LessonPackage.objects.filter(student=match.student, expires_on__gte=today).filter(
        Q(course__isnull=True) | Q(course_id=match.course_id))
    total = sum(p.credits for p in packages)
    used = sum(PackageDeduction.used_by(packages).values()) if total else 0
    planned = Session.objects.filter(student=match.student, status=Status.SCHEDULED, scheduled_start__gt=now,
                                     is_trial=False, billed_as_addon=False)
    if exclude_pattern is not None:
        planned = planned.exclude(pattern_link__pattern=exclude_pattern)
    return max(0, total - used - planned.count())


def find_conflicts(slots: list[Slot], *, tutor_id: int, student_id: int, ignore: set[int]) -> list[Conflict]:
    """The occupying sessions of the tutor or the student overlapping any slot (one query)."""
    if not slots:
        return []
    first, last = min(s.start for s in slots), max(s.end for s in slots)
    others = list(lifecycle.clashing_sessions(tutor_id=tutor_id, student_id=student_id, start=first, end=last,
                                              exclude=ignore))
    conflicts = []
    for slot in slots:
        for other in others:
            if other.scheduled_start < slot.end and other.scheduled_end > slot.start:
                whose = "tutor" if other.tutor_id == tutor_id else "student"
                conflicts.append(Conflict(slot, other, whose))
                break
    return conflicts


def require_coordinator(by: User) -> None:
    if not by.is_coordinator:
        raise Refused("Only a coordinator can schedule sessions.", code="not_allowed", status=FORBIDDEN)


def _match(match_id, *, lock: bool = False) -> Match:
    qs = Match.objects.select_related("tutor", "student", "course")
    try:
        return (qs.select_for_update(of=("self",)) if lock else qs).get(pk=int(match_id))
    except (TypeError, ValueError, Match.DoesNotExist):
        raise Refused("Match not found.", code="not_found", status=404) from None


def plan_for_match(match: Match, spec: PatternInput, now: datetime, *,
                   pattern: WeeklyPattern | None = None) -> Plan:
    """The slots a pattern makes for this match, and their conflicts (nothing written)."""
    count = None
    if spec.weeks is None:
        count = credits_to_plan(match, now, exclude_pattern=pattern)
        if count == 0:
            raise Refused("The student has no lesson credits left to plan: give a number of weeks.",
                          code="no_credits", status=INVALID)
    tz = pattern.tzinfo if pattern is not None else match.tutor.tzinfo
    slots = occurrences(spec, tz, after=now, count=count)
    if pattern is not None:
        # a day on which somebody acted on the pattern's session (cancelled it, moved it) keeps
        # that session and gets no second one
        touched = (Session.objects.filter(pattern_link__pattern=pattern, scheduled_start__gt=now)
                   .exclude(pk__in=untouched_sessions(pattern, now).values("pk")))
        kept = {moment.astimezone(tz).date() for moment in touched.values_list("scheduled_start", flat=True)}
        slots = [s for s in slots if s.start.astimezone(tz).date() not in kept]
    if not slots:
        raise Refused("The pattern has no dates after now.", code="no_dates", status=INVALID)
    # the pattern's own sessions are not conflicts: untouched ones move, touched ones keep their day
    ignore = (set(PatternSession.objects.filter(pattern=pattern).values_list("session_id", flat=True))
              if pattern is not None else set())
    return Plan(slots, find_conflicts(slots, tutor_id=match.tutor_id, student_id=match.student_id, ignore=ignore))


def conflicts_refusal(plan: Plan) -> Refused:
    n = len(plan.conflicts)
    return Refused(f"{n} of the {len(plan.slots)} sessions clash with other sessions: nothing was saved. Confirm "
                   "to schedule the others.", code="conflicts", status=CONFLICT,
                   errors=[c.as_dict() for c in plan.conflicts])


def preview(match_id, *, by: User, spec: PatternInput, now: datetime | None = None) -> Plan:
    now = now or timezone.now()
    require_coordinator(by)
    match = _match(match_id)
    _acceptable(match, accepting=match.state == MatchState.PROPOSED)
    return plan_for_match(match, spec.check(), now)


def _acceptable(match: Match, *, accepting: bool) -> None:
    """Accepting is for a proposed match; an accepted one without a pattern may be given one
    (set_pattern); one with a pattern has it changed or ended instead."""
    if match.state == MatchState.ENDED:
        raise Refused("This match has ended.", code="match_ended")
    if WeeklyPattern.objects.filter(match=match).exists():
        raise Refused("This match is already accepted and has a weekly pattern: change or end that instead.",
                      code="has_pattern")
    if accepting and match.state != MatchState.PROPOSED:
        raise Refused("This match is already accepted: give it a weekly pattern instead "
                      "(PUT /api/matches/{id}/pattern, or Set a weekly pattern in the admin).",
                      code="already_accepted")
    if not accepting and match.state != MatchState.ACCEPTED:
        raise Refused("This match is not accepted yet: accept it with a pattern.", code="not_accepted")


@transaction.atomic
def accept_match(match_id, *, by: User, spec: PatternInput, confirm: bool = False, now: datetime | None = None,
                 channel: str = Channel.ADMIN) -> tuple[WeeklyPattern, list[Session], Plan]:
    """Accept the match and create its sessions. Conflicts refuse (409, listed in `errors`)
    unless `confirm`, which schedules the free dates only."""
    return _first_pattern(match_id, by=by, spec=spec, confirm=confirm, now=now, channel=channel,
                          accepting=True)


@transaction.atomic
def set_pattern(match_id, *, by: User, spec: PatternInput, confirm: bool = False, now: datetime | None = None,
                channel: str = Channel.ADMIN) -> tuple[WeeklyPattern, list[Session], Plan]:
    """Give an accepted match without a pattern (one made before patterns, or outside the admin) its
    weekly pattern and sessions; the match stays accepted as it was. Conflicts as accept_match."""
    return _first_pattern(match_id, by=by, spec=spec, confirm=confirm, now=now, channel=channel,
                          accepting=False)


def _first_pattern(match_id, *, by, spec, confirm, now, channel, accepting):
    now = now or timezone.now()
    require_coordinator(by)
    spec = spec.check()
    match = _match(match_id, lock=True)
    _acceptable(match, accepting=accepting)
    plan = plan_for_match(match, spec, now)
    if plan.conflicts and not confirm:
        raise conflicts_refusal(plan)
    pattern = WeeklyPattern.objects.create(
        match=match, weekdays=list(spec.weekdays), start_time=spec.start_time, minutes=spec.minutes,
        time_zone=match.tutor.time_zone, starts_on=spec.starts_on, weeks=spec.weeks, created_at=now,
        updated_at=now, created_by=by)
    created = [_create(pattern, slot, by=by, now=now, channel=channel) for slot in plan.free]
    if accepting:
        match.state, match.accepted_at, match.active = MatchState.ACCEPTED, now, True
        match.save(update_fields=["state", "accepted_at", "active"])
    _tell(pattern, "set", now=now)
    return pattern, created, plan


def _create(pattern: WeeklyPattern, slot: Slot, *, by: User, now: datetime, channel: str) -> Session:
    match = pattern.match
    # one notice per session would flood the family: the pattern's sessions are created silently
    # (their reminders still go out), as a reschedule by the pattern is
    with lifecycle.silenced():
        session = lifecycle.create_session(by=by, tutor_id=match.tutor_id, student_id=match.student_id,
                                           start=slot.start, end=slot.end, course_id=match.course_id, now=now,
                                           channel=channel)
    PatternSession.objects.create(pattern=pattern, session=session)
    return session


def untouched_sessions(pattern: WeeklyPattern, now: datetime):
    """The pattern's future sessions nobody acted on (the same test as lifecycle.untouched, as a set)."""
    return (Session.objects.filter(pattern_link__pattern=pattern, status=Status.SCHEDULED, scheduled_start__gt=now)
            .exclude(Exists(SessionEvent.objects.filter(session=OuterRef("pk")).exclude(kind__in=lifecycle.PLANNED_KINDS)))
            .order_by("scheduled_start", "pk"))


def _pattern(pattern_id, *, lock: bool = False) -> WeeklyPattern:
    qs = WeeklyPattern.objects.select_related("match__tutor", "match__student", "match__course")
    try:
        return (qs.select_for_update(of=("self",)) if lock else qs).get(pk=int(pattern_id))
    except (TypeError, ValueError, WeeklyPattern.DoesNotExist):
        raise Refused("Weekly pattern not found.", code="not_found", status=404) from None


def preview_change(pattern_id, *, by: User, spec: PatternInput, now: datetime | None = None) -> Plan:
    now = now or timezone.now()
    require_coordinator(by)
    pattern = _pattern(pattern_id)
    _open(pattern)
    return plan_for_match(pattern.match, spec.check(), now, pattern=pattern)


def _open(pattern: WeeklyPattern) -> None:
    if pattern.ended_at is not None:
        raise Refused("This weekly pattern has ended.", code="pattern_ended")


@dataclass
class Outcome:
    moved: list[Session] = field(default_factory=list)
    created: list[Session] = field(default_factory=list)
    withdrawn: list[Session] = field(default_factory=list)
    skipped: list[Conflict] = field(default_factory=list)


@transaction.atomic
def change_pattern(pattern_id, *, by: User, spec: PatternInput, confirm: bool = False, now: datetime | None = None,
                   channel: str = Channel.ADMIN) -> Outcome:
    """Re-plan the future: the untouched sessions move to the new dates in order, extra dates get
    new sessions, surplus sessions are withdrawn. Touched sessions stay as they are."""
    now = now or timezone.now()
    require_coordinator(by)
    spec = spec.check()
    pattern = _pattern(pattern_id, lock=True)
    _open(pattern)
    plan = plan_for_match(pattern.match, spec, now, pattern=pattern)
    if plan.conflicts and not confirm:
        raise conflicts_refusal(plan)
    outcome = Outcome(skipped=plan.conflicts)
    current = list(untouched_sessions(pattern, now))
    targets = plan.free
    for session in current[len(targets):]:
        if lifecycle.withdraw_planned_session(session.pk, by=by, reason=WITHDRAWN_REASON, now=now, channel=channel):
            outcome.withdrawn.append(session)
    pairs = [(s, t) for s, t in zip(current, targets, strict=False)
             if (s.scheduled_start, s.scheduled_end) != (t.start, t.end)]
    # later moves first when moving later, earlier first when moving earlier: a session never
    # steps onto the slot its neighbour still holds
    later = sorted([p for p in pairs if p[1].start > p[0].scheduled_start], key=lambda p: p[0].scheduled_start,
                   reverse=True)
    earlier = sorted([p for p in pairs if p[1].start <= p[0].scheduled_start], key=lambda p: p[0].scheduled_start)
    for session, slot in later + earlier:
        moved = lifecycle.move_planned_session(session.pk, by=by, start=slot.start, end=slot.end, now=now,
                                               channel=channel)
        if moved:
            outcome.moved.append(moved)
    outcome.created = [_create(pattern, slot, by=by, now=now, channel=channel) for slot in targets[len(current):]]
    pattern.weekdays, pattern.start_time, pattern.minutes = list(spec.weekdays), spec.start_time, spec.minutes
    pattern.starts_on, pattern.weeks, pattern.updated_at = spec.starts_on, spec.weeks, now
    pattern.save(update_fields=["weekdays", "start_time", "minutes", "starts_on", "weeks", "updated_at"])
    _tell(pattern, "changed", now=now)
    return outcome


@transaction.atomic
def end_pattern(pattern_id, *, by: User, end_match: bool = False, now: datetime | None = None,
                channel: str = Channel.ADMIN) -> Outcome:
    """Withdraw the untouched future sessions and close the pattern (and the match, if asked)."""
    now = now or timezone.now()
    require_coordinator(by)
    pattern = _pattern(pattern_id, lock=True)
    _open(pattern)
    outcome = Outcome()
    for session in untouched_sessions(pattern, now):
        if lifecycle.withdraw_planned_session(session.pk, by=by, reason=WITHDRAWN_REASON, now=now, channel=channel):
            outcome.withdrawn.append(session)
    pattern.ended_at = pattern.updated_at = now
    pattern.save(update_fields=["ended_at", "updated_at"])
    if end_match:
        match = pattern.match
        match.state, match.active = MatchState.ENDED, False
        match.save(update_fields=["state", "active"])
    _tell(pattern, "ended", now=now, withdrawn=len(outcome.withdrawn))
    return outcome


def _tell(pattern: WeeklyPattern, what: str, *, now: datetime, withdrawn: int = 0) -> None:
    """One notice to the student, their parents and the tutor (in the caller's transaction): the
    sessions themselves are created and moved silently."""
    match = pattern.match
    upcoming = list(untouched_sessions(pattern, now).values_list("scheduled_start", flat=True)[:1])
    scheduled = Session.objects.filter(pattern_link__pattern=pattern, status=Status.SCHEDULED,
                                       scheduled_start__gt=now).count()
    parents = User.objects.filter(pk__in=Guardianship.objects.filter(student=match.student).values("parent_id"))
    people = [match.tutor, match.student, *parents]
    data = {"what": what, "student": match.student.name, "tutor": match.tutor.name, "pattern": describe(pattern),
            "scheduled": scheduled, "withdrawn": withdrawn,
            "first": upcoming[0].isoformat() if upcoming else ""}
    notify(people, kind="schedule_changed", source=f"pattern:{pattern.pk}:{what}:{now.isoformat()}", data=data,
           now=now)


def describe(pattern: WeeklyPattern) -> str:
    days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(pattern.weekdays))
    span = f"for {pattern.weeks} weeks" if pattern.weeks else "until the credits are planned"
    return (f"{days} at {pattern.start_time:%H:%M} ({pattern.time_zone}), {pattern.minutes} minutes, "
            f"from {pattern.starts_on:%Y-%m-%d} {span}")
