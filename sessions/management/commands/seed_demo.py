"""`manage.py seed_demo`: a small, realistic demo world, plus optional bulk data for benchmarks.

The demo world (three families, three tutors, two creators, a coordinator) is replayed through
sessions.lifecycle with an injected `now`, so every status change has its real SessionEvent row.
Bulk data (--sessions, --due-threads, --due-no-shows) is generated inside PostgreSQL with
INSERT ... SELECT FROM generate_series: a million sessions take minutes, not hours.

Running the plain seed twice fails cleanly (CommandError, nothing written); --if-empty skips
quietly when any user exists; with bulk options an existing demo world is kept and only bulk
batches are added.
"""

import math
import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from notes import samples
from notes import services as notes_services
from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import (
    OCCUPYING_STATUSES,
    CancellationPolicy,
    ChangeKind,
    ChangeReason,
    Channel,
    NoShowParty,
    Party,
    Session,
    SessionEvent,
    Status,
)
from tutoring.models import Course, Enrollment, Guardianship, LessonPackage, Match, Role, User

DEMO_PASSWORD = "demo"
LOGINS = ("demo-parent", "demo-tutor", "demo-student", "demo-creator", "demo-coordinator")
# The creator of the dashboard benchmark: bulk batches give it 100,000 sessions in total.
BIG_CREATOR = "bench-creator"
BIG_CREATOR_SESSIONS = 100_000

# --- the reason pickers and the penalty sheet --------------------------------------------------

REASONS = {
    (Party.PARENT, ChangeKind.CANCEL): [
        ("child-ill", "My child is ill"),
        ("family-emergency", "Family emergency"),
        ("school-clash", "School event or exam clash"),
        ("travel", "Travelling or on holiday"),
    ],
    (Party.PARENT, ChangeKind.RESCHEDULE): [
        ("schedule-conflict", "Schedule conflict"),
        ("child-ill", "My child is unwell"),
        ("school-event", "School event or exam"),
        ("travel", "Travelling that day"),
    ],
    (Party.TUTOR, ChangeKind.CANCEL): [
        ("tutor-ill", "I am ill"),
        ("personal-emergency", "Personal emergency"),
        ("uni-exam", "University exam or deadline"),
        ("technical", "Technical problems (internet, device)"),
    ],
    (Party.TUTOR, ChangeKind.RESCHEDULE): [
        ("schedule-conflict", "Schedule conflict"),
        ("uni-exam", "University exam or deadline"),
        ("travel", "Travelling that day"),
        ("tutor-unwell", "I am unwell"),
    ],
}

# (role, min hours, max hours, penalty, guidance): the brief's sheet; cancels inside 4 hours are
# not self-service at all (a coordinator handles them), so the parent sheet starts at 4 hours.
POLICIES = [
    (Party.PARENT, 48, None, "No charge", "Cancelling 48 hours or more before the start is free."),
    (Party.PARENT, 24, 48, "50% of the lesson",
     "Cancelling 24 to 48 hours before the start is charged at half the lesson price."),
    (Party.PARENT, 4, 24, "Full lesson",
     "Cancelling less than 24 hours before the start is charged as a full lesson."),
    (Party.TUTOR, 48, None, "No penalty",
     "Cancelling 48 hours or more ahead carries no penalty; please offer a replacement slot."),
    (Party.TUTOR, 0, 48, "Reliability strike",
     "Cancelling less than 48 hours ahead counts as a reliability strike; three strikes in a term trigger "
     "a review."),
]


def ensure_pickers() -> None:
    """Reason pickers and penalty bands (idempotent: bulk batches call it too)."""
    for (role, kind), reasons in REASONS.items():
        for position, (code, label) in enumerate(reasons, start=1):
            ChangeReason.objects.update_or_create(role=role, kind=kind, code=code,
                                                  defaults={"label": label, "position": position})
        other = {"label": "Other", "requires_note": True, "position": 99}
        ChangeReason.objects.update_or_create(role=role, kind=kind, code="other", defaults=other)
    for role, low, high, penalty, guidance in POLICIES:
        CancellationPolicy.objects.update_or_create(role=role, min_hours_before=low, defaults={
            "max_hours_before": high, "penalty": penalty, "guidance": guidance})


# --- the demo world: people ------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    name: str
    tz: str
    roles: tuple
    staff: bool = False


PEOPLE = [
    Person("demo-parent", "Priya Shah", "Europe/London", (Role.PARENT,)),
    Person("demo-student", "Sam Shah", "Europe/London", (Role.STUDENT,)),
    Person("maya-shah", "Maya Shah", "Europe/London", (Role.STUDENT,)),
    Person("daniel-okafor", "Daniel Okafor", "America/New_York", (Role.PARENT,)),
    Person("ada-okafor", "Ada Okafor", "America/New_York", (Role.STUDENT,)),
    Person("tobi-okafor", "Tobi Okafor", "America/New_York", (Role.STUDENT,)),
    Person("kemi-okafor", "Kemi Okafor", "America/New_York", (Role.STUDENT,)),
    Person("lucia-fernandez", "Lucía Fernández", "Europe/Madrid", (Role.PARENT,)),
    Person("mateo-fernandez", "Mateo Fernández", "Europe/Madrid", (Role.STUDENT,)),
    Person("sofia-fernandez", "Sofía Fernández", "Europe/Madrid", (Role.STUDENT,)),
    Person("demo-tutor", "Tom Becker", "Europe/London", (Role.TUTOR,)),
    Person("grace-kim", "Grace Kim", "America/New_York", (Role.TUTOR,)),
    Person("arjun-mehta", "Arjun Mehta", "Asia/Kolkata", (Role.TUTOR,)),
    Person("demo-creator", "Clara Novak", "Europe/Prague", (Role.CREATOR,)),
    Person("marcus-lee", "Marcus Lee", "Australia/Sydney", (Role.CREATOR,)),
    Person("demo-coordinator", "Olivia Grant", "Europe/London", (Role.COORDINATOR,), staff=True),
]
FAMILIES = {
    "demo-parent": ("demo-student", "maya-shah"),
    "daniel-okafor": ("ada-okafor", "tobi-okafor", "kemi-okafor"),
    "lucia-fernandez": ("mateo-fernandez", "sofia-fernandez"),
}
COURSES = {  # key: (creator, title)
    "maths": ("demo-creator", "GCSE Maths Foundations"),
    "writing": ("demo-creator", "Creative Writing Workshop"),
    "python": ("marcus-lee", "Python for Teens"),
    "physics": ("marcus-lee", "SAT Physics Prep"),
}


@dataclass(frozen=True)
class Pair:
    """A weekly lesson: tutor, student, course, weekdays (0 = Monday) at a local time of the tutor,
    and the plan (see PLANS) of chosen occurrences: -1 is the latest past one, 0 the next one."""

    tutor: str
    student: str
    course: str
    weekdays: tuple
    at: time
    minutes: int
    plans: dict


PAIRS = [
    Pair("demo-tutor", "demo-student", "maths", (0, 3), time(17, 0), 60,
         {-2: "awaiting", -3: "rescheduled", -5: "disputed", 1: "open_parent", 3: "cancel_parent",
          4: "open_countered"}),
    Pair("demo-tutor", "maya-shah", "writing", (1,), time(16, 30), 45,
         {-2: "no_show_student", 1: "cancel_tutor", 2: "open_tutor"}),
    Pair("grace-kim", "ada-okafor", "python", (0,), time(16, 0), 60,
         {-2: "dispute_resolved", -3: "expired", 1: "open_parent"}),
    Pair("grace-kim", "tobi-okafor", "physics", (2,), time(17, 0), 60,
         {-2: "checked_in", -3: "verified", 2: "cancel_parent"}),
    Pair("grace-kim", "kemi-okafor", "python", (5,), time(10, 0), 45,
         {-2: "rejected", -3: "no_show_tutor"}),
    Pair("arjun-mehta", "mateo-fernandez", "python", (1,), time(20, 30), 60,
         {-2: "cancel_parent", -3: "expired_countered"}),
    Pair("arjun-mehta", "sofia-fernandez", "writing", (4,), time(19, 0), 45,
         {-2: "dispute_void", 1: "cancel_tutor"}),
    Pair("arjun-mehta", "demo-student", "physics", (5,), time(18, 0), 60,
         {-3: "cancel_tutor", 1: "open_tutor"}),
]
# Trials: (tutor, student, course, days from today, local time of the tutor, minutes, plan)
TRIALS = [
    ("demo-tutor", "kemi-okafor", "maths", -16, time(15, 0), 30, "approved"),
    ("demo-tutor", "mateo-fernandez", "maths", 5, time(18, 0), 30, "scheduled"),
    ("grace-kim", "sofia-fernandez", "python", 9, time(11, 0), 30, "cancel_parent"),
]
# Ad-hoc extra sessions the tutor logs afterwards: (tutor, student, course, days ago, time, minutes, note)
ADHOC = [
    ("demo-tutor", "demo-student", "maths", 6, time(19, 0), 90, "Exam preparation before the mock GCSE."),
    ("demo-tutor", "demo-student", "maths", 3, time(19, 0), 60, "Went through the mock paper mistakes."),
    ("grace-kim", "ada-okafor", "python", 4, time(18, 30), 60, "Debugging session for the school project."),
]
WINDOW = timedelta(days=21)
# Packages: (student, course or None, credits, days until expiry)
PACKAGES = [
    ("demo-student", "maths", 12, 60), ("demo-student", None, 8, 120), ("maya-shah", None, 10, 90),
    ("ada-okafor", None, 20, 120), ("tobi-okafor", None, 6, 45), ("kemi-okafor", None, 10, 90),
    ("mateo-fernandez", None, 10, 90), ("sofia-fernandez", "writing", 8, 75),
]


@dataclass
class World:
    now: datetime
    users: dict
    courses: dict
    parent_of: dict
    reason_ids: dict = field(default_factory=dict)
    turn: int = 0

    @property
    def coordinator(self) -> User:
        return self.users["demo-coordinator"]

    def reason(self, party: str, kind: str) -> tuple[int, str]:
        """Cycle through the picker; every fifth pick is 'Other' with the note it requires."""
        self.turn += 1
        codes = [code for code, _ in REASONS[(party, kind)]]
        if self.turn % 5 == 0:
            return self.reason_ids[(party, kind, "other")], "Moving house that week."
        return self.reason_ids[(party, kind, codes[self.turn % len(codes)])], ""


def make_people(now: datetime) -> World:
    # Hash once: the five logins (and the other demo people) share the password 'demo'.
    password = make_password(DEMO_PASSWORD)
    users = {}
    for p in PEOPLE:
        first, _, last = p.name.partition(" ")
        users[p.username] = User.objects.create(
            username=p.username, password=password, name=p.name, first_name=first, last_name=last,
            email=f"{p.username}@example.test", time_zone=p.tz, roles=list(p.roles), is_staff=p.staff)
    parent_of = {}
    for parent, children in FAMILIES.items():
        for child in children:
            Guardianship.objects.create(parent=users[parent], student=users[child])
            parent_of[child] = users[parent]
    courses = {key: Course.objects.create(creator=users[creator], title=title)
               for key, (creator, title) in COURSES.items()}
    world = World(now=now, users=users, courses=courses, parent_of=parent_of)
    world.reason_ids = {(r.role, r.kind, r.code): r.id for r in ChangeReason.objects.all()}
    return world


def link_people(world: World) -> None:
    """Enrollments and matches for every lesson, trial and ad-hoc pairing, then the packages."""
    pairs = {(p.tutor, p.student, p.course) for p in PAIRS}
    pairs |= {(t, s, c) for t, s, c, *_ in TRIALS} | {(t, s, c) for t, s, c, *_ in ADHOC}
    u, c = world.users, world.courses
    for tutor, student, course in sorted(pairs):
        Enrollment.objects.get_or_create(course=c[course], student=u[student])
        Match.objects.get_or_create(tutor=u[tutor], student=u[student], course=c[course])
    today = world.now.date()
    for student, course, credits, days in PACKAGES:
        LessonPackage.objects.create(student=u[student], course=c[course] if course else None,
                                     credits=credits, expires_on=today + timedelta(days=days))


# --- the demo world: sessions and their stories ----------------------------------------------


def local_start(tutor: User, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(tutor.time_zone))


def occurrences(pair: Pair, tutor: User, now: datetime) -> list[tuple[int, datetime]]:
    """(index, start) for the pair's lessons from 3 weeks ago to 3 weeks ahead: -1 is the latest
    lesson that has started, 0 the next one."""
    today = now.astimezone(tutor.tzinfo).date()
    starts = []
    for offset in range(-22, 23):
        day = today + timedelta(days=offset)
        start = local_start(tutor, day, pair.at)
        if day.weekday() in pair.weekdays and now - WINDOW <= start < now + WINDOW:
            starts.append(start)
    past = [s for s in starts if s <= now]
    future = [s for s in starts if s > now]
    return [(i - len(past), s) for i, s in enumerate(past)] + list(enumerate(future))


def schedule(world: World, *, tutor: str, student: str, course: str, start: datetime, minutes: int,
             is_trial: bool = False) -> Session:
    """The coordinator puts the lesson on the calendar four weeks ahead (what match acceptance does)."""
    return lifecycle.create_session(
        by=world.coordinator, tutor_id=world.users[tutor].pk, student_id=world.users[student].pk,
        course_id=world.courses[course].pk, start=start, end=start + timedelta(minutes=minutes),
        is_trial=is_trial, now=min(start - timedelta(days=28), world.now - timedelta(days=1)),
        channel=Channel.ADMIN)


@dataclass
class Story:
    """One session's history replayed through the lifecycle. A step dated after `now` has not
    happened yet, so it and every later step are left undone: recent lessons stay awaiting."""

    world: World
    session: Session
    done: bool = True
    proposal: object = None  # the open proposal, once a reschedule step made one

    @property
    def tutor(self) -> User:
        return self.session.tutor

    @property
    def parent(self) -> User:
        return self.world.parent_of[self.session.student.username]

    @property
    def channel(self) -> str:
        # one tutor works from the Telegram bot, the others from the web dashboard
        return Channel.TELEGRAM if self.tutor.username == "grace-kim" else Channel.WEB

    def step(self, when: datetime, action) -> None:
        if not self.done or when > self.world.now:
            self.done = False
            return
        result = action(when)
        if isinstance(result, Session):
            self.session = result

    def ahead(self, hours: float) -> datetime:
        """A moment `hours` before the start, but no later than yesterday (future lessons are
        changed in the past, never 'now', so the demo does not depend on the time of day)."""
        return min(self.session.scheduled_start - timedelta(hours=hours), self.world.now - timedelta(days=1))

    def free_start(self, *, avoid=()) -> datetime:
        """The same time on a later day where the tutor has nothing else (the duration is kept)."""
        s = self.session
        for days in range(1, 15):
            for hours in (0, 1, -1, 2, -2):
                start = s.scheduled_start + timedelta(days=days, hours=hours)
                if start not in avoid and not tutor_busy(s.tutor_id, start, start + s.duration, exclude=s.pk):
                    return start
        raise CommandError(f"No free slot to propose for {s}.")


def tutor_busy(tutor_id: int, start: datetime, end: datetime, exclude: int | None = None) -> bool:
    return (Session.objects.filter(tutor_id=tutor_id, status__in=OCCUPYING_STATUSES, scheduled_start__lt=end,
                                   scheduled_end__gt=start).exclude(pk=exclude).exists())


# Each plan is a function of a Story; its name is what PAIRS/TRIALS refer to.


def attend(st: Story, *, absent: bool = False) -> None:
    st.step(st.session.scheduled_start - timedelta(minutes=3),
            lambda t: lifecycle.check_in(st.session, by=st.tutor, now=t, channel=st.channel))
    if absent:  # check-out opens 30 minutes before the end; the tutor waited, then reported it
        st.step(st.session.scheduled_end - timedelta(minutes=25),
                lambda t: lifecycle.check_out(st.session, by=st.tutor, student_absent=True, now=t,
                                              channel=st.channel))
    else:
        st.step(st.session.scheduled_end + timedelta(minutes=4),
                lambda t: lifecycle.check_out(st.session, by=st.tutor, now=t, channel=st.channel))
        st.step(st.session.scheduled_end + timedelta(minutes=12), lambda t: write_notes(st, t))


DEMO_NOTES = [
    "We worked through linear equations with fractions. {name} was engaged and asked good questions. "
    "Still hesitant when moving terms across the equals sign. Next time we will practise two-step equations.",
    "Reviewed last week's homework: 7 of 10 correct. {name} keeps dropping negative signs when expanding "
    "brackets. Confident with simple substitution now. Homework: worksheet B, questions 1-8.",
    "{name} was a little distracted at first but focused well after a short break. We started graphing "
    "straight lines; gradient still feels abstract. Plan: review gradient with real-world examples.",
]


def write_notes(st: Story, when: datetime) -> None:
    """The tutor's notes after a lesson: text always; a board photo and the worksheet on every
    other lesson, a voice memo on every third (files made in code, see notes.samples)."""
    n = st.session.pk
    files = []
    if n % 2 == 0:
        files += [SimpleUploadedFile("whiteboard.png", samples.png(), "image/png"),
                  SimpleUploadedFile("worksheet.pdf", samples.pdf(f"Worksheet for {st.session.student.name}"),
                                     "application/pdf")]
    if n % 3 == 0:
        files.append(SimpleUploadedFile("voice-memo.wav", samples.wav(0.5), "audio/wav"))
    text = DEMO_NOTES[n % len(DEMO_NOTES)].format(name=st.session.student.name.split()[0])
    notes_services.add_notes(st.session, by=st.tutor, text=text, files=files, now=when, channel=st.channel)


def plan_scheduled(st: Story) -> None:
    pass


def plan_approved(st: Story) -> None:
    attend(st)
    st.step(st.session.scheduled_end + timedelta(hours=20),
            lambda t: lifecycle.acknowledge(st.session, by=st.parent, now=t))


def plan_awaiting(st: Story) -> None:
    attend(st)


def plan_disputed(st: Story) -> None:
    attend(st)
    st.step(st.session.scheduled_end + timedelta(hours=18), lambda t: lifecycle.dispute(
        st.session, by=st.parent, now=t,
        reason="Sam says the lesson ended 20 minutes early and the homework was not reviewed."))


def _dispute_then(st: Story, decision: str, reason: str) -> None:
    attend(st)
    st.step(st.session.scheduled_end + timedelta(hours=6), lambda t: lifecycle.dispute(
        st.session, by=st.parent, now=t, reason="The video kept dropping; we doubt the lesson counts."))
    st.step(st.session.scheduled_end + timedelta(days=2), lambda t: lifecycle.resolve_dispute(
        st.session, by=st.world.coordinator, decision=decision, reason=reason, now=t))


def plan_dispute_resolved(st: Story) -> None:
    _dispute_then(st, "approve", "Checked the session room log: the full lesson took place.")


def plan_dispute_void(st: Story) -> None:
    _dispute_then(st, "void", "Tutor confirmed the connection failed after 15 minutes; not charged.")


def plan_checked_in(st: Story) -> None:
    # the tutor forgot to check out and the 24-hour window closed: a coordinator must look at it
    st.step(st.session.scheduled_start - timedelta(minutes=3),
            lambda t: lifecycle.check_in(st.session, by=st.tutor, now=t, channel=st.channel))


def plan_verified(st: Story) -> None:
    plan_checked_in(st)
    st.step(st.session.scheduled_end + timedelta(days=2), lambda t: lifecycle.verify(
        st.session, by=st.world.coordinator, now=t,
        reason="Tutor forgot to check out; the parent confirmed by phone that the lesson took place."))


def plan_no_show_student(st: Story) -> None:
    attend(st, absent=True)


def plan_no_show_tutor(st: Story) -> None:
    st.step(st.session.scheduled_end + timedelta(days=1), lambda t: lifecycle.mark_no_show(
        st.session, by=st.world.coordinator, party=NoShowParty.TUTOR, now=t,
        reason="The parent reported the tutor never joined; the tutor confirmed a calendar mix-up."))


def _cancel(st: Story, party: str, when: datetime) -> None:
    def act(t):
        band = lifecycle.cancellation_policy(party, st.session, t)
        reason_id, note = st.world.reason(party, ChangeKind.CANCEL)
        by = st.parent if party == Party.PARENT else st.tutor
        return lifecycle.cancel(st.session, by=by, reason_id=reason_id, note=note,
                                policy_id=band.id if band else None, now=t)

    st.step(when, act)


def plan_cancel_parent(st: Story) -> None:
    _cancel(st, Party.PARENT, st.ahead(30))  # inside 48 hours: the half-price band


def plan_cancel_tutor(st: Story) -> None:
    _cancel(st, Party.TUTOR, st.ahead(72))


def _propose(st: Story, party: str, when: datetime) -> None:
    def act(t):
        reason_id, note = st.world.reason(party, ChangeKind.RESCHEDULE)
        by = st.parent if party == Party.PARENT else st.tutor
        st.proposal = lifecycle.propose_reschedule(st.session, by=by, proposed_start=st.free_start(),
                                                   reason_id=reason_id, note=note, now=t)

    st.step(when, act)


def _counter(st: Story, party: str, when: datetime) -> None:
    def act(t):
        by = st.parent if party == Party.PARENT else st.tutor
        start = st.free_start(avoid={st.proposal.proposed_start})
        st.proposal = lifecycle.counter_reschedule(
            st.session, st.proposal.pk, by=by, proposed_start=start, now=t,
            note="That day is difficult; would this time work instead?")

    st.step(when, act)


def plan_expired(st: Story) -> None:
    _propose(st, Party.PARENT, st.ahead(72))
    st.step(st.session.scheduled_start, lambda t: lifecycle.expire_reschedule(st.session, now=t))


def plan_expired_countered(st: Story) -> None:
    _propose(st, Party.TUTOR, st.ahead(96))
    _counter(st, Party.PARENT, st.ahead(72))
    st.step(st.session.scheduled_start, lambda t: lifecycle.expire_reschedule(st.session, now=t))


def plan_rescheduled(st: Story) -> None:
    _propose(st, Party.TUTOR, st.ahead(120))
    st.step(st.ahead(96),
            lambda t: lifecycle.accept_reschedule(st.session, st.proposal.pk, by=st.parent, now=t))
    plan_approved(st)  # the lesson then took place at its new time


def plan_rejected(st: Story) -> None:
    _propose(st, Party.PARENT, st.ahead(96))
    st.step(st.ahead(72), lambda t: lifecycle.reject_reschedule(
        st.session, st.proposal.pk, by=st.tutor, now=t, reason="I cannot move it that week, sorry."))
    plan_approved(st)


def plan_open_parent(st: Story) -> None:
    _propose(st, Party.PARENT, st.ahead(48))


def plan_open_tutor(st: Story) -> None:
    _propose(st, Party.TUTOR, st.ahead(48))


def plan_open_countered(st: Story) -> None:
    _propose(st, Party.TUTOR, st.ahead(72) - timedelta(days=1))
    _counter(st, Party.PARENT, st.ahead(48))


PLANS = {name.removeprefix("plan_"): fn for name, fn in globals().items() if name.startswith("plan_")}


def default_plan(start: datetime, now: datetime) -> str:
    return "approved" if start <= now else "scheduled"


def run_story(world: World, session: Session, plan: str) -> Session:
    story = Story(world=world, session=session)
    try:
        PLANS[plan](story)
    except Refused as exc:
        raise CommandError(f"Demo story '{plan}' for {story.session} was refused: {exc.message}") from exc
    return story.session


def make_lessons(world: World) -> int:
    planned = []
    for pair in PAIRS:
        for index, start in occurrences(pair, world.users[pair.tutor], world.now):
            session = schedule(world, tutor=pair.tutor, student=pair.student, course=pair.course, start=start,
                               minutes=pair.minutes)
            planned.append((session, pair.plans.get(index, default_plan(start, world.now))))
    for tutor, student, course, days, at, minutes, plan in TRIALS:
        day = world.now.astimezone(world.users[tutor].tzinfo).date() + timedelta(days=days)
        session = schedule(world, tutor=tutor, student=student, course=course, is_trial=True,
                           start=local_start(world.users[tutor], day, at), minutes=minutes)
        planned.append((session, plan))
    # every lesson is on the calendar before any story runs, so proposals see every busy slot
    for session, plan in sorted(planned, key=lambda item: item[0].scheduled_start):
        run_story(world, session, plan)
    return len(planned)


def log_adhoc(world: World) -> int:
    """Tutors batch-log extra sessions after the fact; the parent acknowledges the older one."""
    logged = []
    for tutor, student, course, days_ago, at, minutes, note in ADHOC:
        user = world.users[tutor]
        start = local_start(user, world.now.astimezone(user.tzinfo).date() - timedelta(days=days_ago), at)
        while tutor_busy(user.pk, start, start + timedelta(minutes=minutes)):
            start += timedelta(hours=1)
        row = {"student_id": world.users[student].pk, "course_id": world.courses[course].pk, "start": start,
               "end": start + timedelta(minutes=minutes), "note": note}
        logged += lifecycle.log_adhoc_sessions(by=user, rows=[row], now=row["end"] + timedelta(hours=2))
    first = logged[0]
    lifecycle.acknowledge(first, by=world.parent_of[first.student.username],
                          now=first.scheduled_end + timedelta(days=1))
    return len(logged)


def seed_world(*, now: datetime) -> World:
    ensure_pickers()
    world = make_people(now.replace(second=0, microsecond=0))  # whole minutes read better in the audit
    link_people(world)
    make_lessons(world)
    log_adhoc(world)
    missing = set(Status.values) - set(Session.objects.values_list("status", flat=True))
    if missing:
        raise CommandError(f"The demo world lacks sessions in status {sorted(missing)}: fix the stories.")
    return world


# --- bulk data for benchmarks ------------------------------------------------------------------

FIRST_NAMES = ("Olivia Liam Emma Noah Amelia Oliver Ava Elijah Sophia Lucas Mia Mateo Isla Leo Aisha Arjun "
               "Chloe Kai Zara Ethan Nia Hugo Lena Omar Yuki Felix Maya Ravi Ines Jonas Aria Tariq Elena "
               "Sven Priya Diego Hana Kofi Lea Marco").split()
LAST_NAMES = ("Smith Garcia Chen Okafor Müller Rossi Kim Patel Silva Nowak Jensen Dubois Haddad Tanaka Walsh "
              "Costa Ivanova Mensah Lindqvist Nakamura Schmidt Rahman Moreau Santos Novak Kowalski Murphy "
              "Fischer Ali Park Brown Hernández Singh Lopez Cohen Hansen Yilmaz Ahmed Bauer Reyes").split()
ZONES = ["Europe/London", "Europe/Berlin", "Europe/Madrid", "America/New_York", "America/Chicago",
         "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
         "Australia/Sydney", "Africa/Lagos"]
SUBJECTS = ["Algebra", "Geometry", "Chemistry", "Biology", "Physics", "English Literature",
            "Creative Writing", "Spanish", "French", "Python Programming", "World History", "Economics",
            "Statistics", "Music Theory", "SAT Prep", "IB Mathematics"]
LEVELS = ["Foundations", "Intermediate", "Advanced", "Exam Prep", "Bootcamp"]

REALISTIC, DUE_THREADS, DUE_NO_SHOWS = "realistic", "due_threads", "due_no_shows"
MAX_MINUTES = 90  # the longest generated lesson: a tutor's slots are spaced wider than this

# Status mixes in per-mille, by where the lesson lies relative to now (the last entry takes the rest).
FUTURE_MIX = [("cancelled_by_parent", 50), ("cancelled_by_tutor", 30), ("scheduled", 920)]
RUNNING_MIX = [("scheduled", 200), ("checked_in", 800)]  # started, ends within the hour
RECENT_MIX = [("scheduled", 50), ("checked_in", 100), ("cancelled_by_parent", 60), ("cancelled_by_tutor", 40),
              ("approved", 200), ("awaiting_approval_parent", 550)]  # ended within the last day
PAST_MIX = [("scheduled", 20), ("checked_in", 10), ("awaiting_approval_parent", 50), ("disputed", 20),
            ("cancelled_by_parent", 70), ("cancelled_by_tutor", 40), ("not_completed", 30), ("no_show", 60),
            ("approved", 700)]


@dataclass(frozen=True)
class Shape:
    """How a batch of n sessions is laid out: each tutor has `slots` lessons spaced `spacing`
    seconds apart from window_start, so no two of one tutor's lessons can overlap."""

    n: int
    mix: str
    tutors: int
    slots: int
    spacing: int
    window_start: datetime

    @classmethod
    def of(cls, n: int, mix: str, now: datetime) -> "Shape":
        if mix == REALISTIC:  # a year of history and four weeks ahead, up to 200 lessons per tutor
            start, end, per_tutor = now - timedelta(days=365), now + timedelta(days=28), 200
        else:  # a backlog the sweeps missed: lessons 2-6 days ago, 2-hour slots
            start, end, per_tutor = now - timedelta(days=6), now - timedelta(days=2), 48
        start = start.replace(minute=0, second=0, microsecond=0)
        tutors = 10 * math.ceil(n / (10 * per_tutor))  # a multiple of 10: see _BIG below
        slots = math.ceil(n / tutors)
        spacing = int((end - start).total_seconds()) // slots // 900 * 900
        assert spacing >= MAX_MINUTES * 60 + 1800, "slots too dense"
        return cls(n=n, mix=mix, tutors=tutors, slots=slots, spacing=spacing, window_start=start)

    @property
    def students(self) -> int:
        return 4 * self.tutors

    @property
    def creators(self) -> int:
        return max(2, self.tutors // 50)


def _mix_case(mix: list, roll: str) -> str:
    """CASE over a per-mille roll; the statuses are constants of this module, never input."""
    arms, upto = [], 0
    for status, share in mix[:-1]:
        upto += share
        arms.append(f"WHEN {roll} < {upto} THEN '{status}'")
    return f"CASE {' '.join(arms)} ELSE '{mix[-1][0]}' END"


def _status_sql(mix: str) -> str:
    if mix != REALISTIC:
        return "'scheduled'"
    return f"""CASE
        WHEN start > %(now)s THEN {_mix_case(FUTURE_MIX, 'roll')}
        WHEN finish + interval '1 hour' > %(now)s THEN {_mix_case(RUNNING_MIX, 'roll')}
        WHEN finish + interval '1 day' > %(now)s THEN {_mix_case(RECENT_MIX, 'roll')}
        ELSE {_mix_case(PAST_MIX, 'roll')} END"""


# g numbers the batch's sessions; tutor = g mod tutors, slot = g div tutors; the student is one of
# the tutor's four. Every pseudo-random choice is a different slice of one hash of g, so a batch
# is deterministic. Rows with g mod 10 = 0 (all of every tenth tutor's lessons, since tutors is a
# multiple of 10) and g < big_rows go to the big creator's courses.
_SESSIONS_SQL = """
WITH plan AS (
    SELECT g, mod(g, %(tutors)s) AS ti, g / %(tutors)s AS slot,
           hashint8extended(g, %(seed)s) & 9223372036854775807 AS h
    FROM generate_series(0::bigint, %(n)s - 1) AS g
), timed AS (
    SELECT plan.*, t.start, t.start + make_interval(mins => t.minutes) AS finish, t.roll, t.si
    FROM plan,
    LATERAL (SELECT %(window_start)s::timestamptz
                    + make_interval(secs => slot * %(spacing)s + mod(h, %(jitter)s) * 900) AS start,
                    (ARRAY[30, 45, 60, 60, 90])[1 + mod(h / 1000, 5)] AS minutes,
                    mod(h / 100000, 1000) AS roll,
                    ti * 4 + mod(slot, 4) AS si) AS t
), statused AS (
    SELECT timed.*, ({status}) AS status FROM timed
), shaped AS (
    SELECT s.*, src, addon,
           status IN ('checked_in', 'awaiting_approval_parent', 'approved', 'disputed')
               OR (status = 'no_show' AND party = 'student') AS attended,
           status IN ('awaiting_approval_parent', 'approved', 'disputed')
               OR (status = 'no_show' AND party = 'student') AS departed,
           party
    FROM statused s,
    LATERAL (SELECT CASE WHEN s.status = 'approved' AND mod(s.h / 11, 20) = 0 THEN 'imported'
                         ELSE 'native' END AS src,
                    CASE WHEN s.status <> 'no_show' THEN ''
                         WHEN mod(s.h / 19, 2) = 0 THEN 'student' ELSE 'tutor' END AS party) AS a,
    LATERAL (SELECT src = 'native' AND s.status IN ('awaiting_approval_parent', 'approved', 'disputed')
                    AND mod(s.h / 13, 20) = 0 AS addon) AS b
), dated AS (
    SELECT shaped.*,
           CASE WHEN addon THEN finish + interval '2 hours'
                ELSE LEAST(%(now)s, start - make_interval(days => 7 + mod(h / 41, 30)::int)) END AS created
    FROM shaped
), filled AS (
    SELECT dated.*,
           CASE WHEN attended AND src = 'native'
                THEN start - make_interval(mins => mod(h / 23, 6)::int) END AS checked_in,
           CASE WHEN departed AND src = 'native' THEN
                CASE WHEN status = 'no_show' THEN finish - interval '25 minutes'
                     ELSE finish + make_interval(mins => mod(h / 29, 9)::int) END END AS checked_out,
           CASE WHEN status LIKE 'cancelled%%' THEN
                LEAST(%(now)s, created + (start - interval '5 hours' - created) * (mod(h / 31, 100) / 100.0))
           END AS cancelled
    FROM dated
), ins AS (
    INSERT INTO tutoring_sessions_session
        (tutor_id, student_id, course_id, scheduled_start, scheduled_end, status, checked_in_at,
         checked_out_at, no_show_party, is_trial, billed_as_addon, source, cancelled_at,
         cancellation_reason_id, video_provider, video_room_id, meeting_url, created_at, updated_at)
    SELECT (%(tutor_ids)s::bigint[])[1 + ti], (%(student_ids)s::bigint[])[1 + si],
           CASE WHEN mod(g, 10) = 0 AND g < %(big_rows)s
                    THEN (%(big_courses)s::bigint[])[1 + mod(si, cardinality(%(big_courses)s::bigint[]))]
                WHEN mod(h / 7000000, 50) = 0 THEN NULL
                ELSE (%(courses)s::bigint[])[1 + mod(si, cardinality(%(courses)s::bigint[]))] END,
           start, finish, status, checked_in, checked_out, party, NOT addon AND mod(h / 17, 33) = 0,
           addon, src, cancelled,
           CASE WHEN status = 'cancelled_by_parent' THEN
                    (%(parent_cancel)s::bigint[])[1 + mod(h / 37, cardinality(%(parent_cancel)s::bigint[]))]
                WHEN status = 'cancelled_by_tutor' THEN
                    (%(tutor_cancel)s::bigint[])[1 + mod(h / 37, cardinality(%(tutor_cancel)s::bigint[]))]
           END,
           'p2p', '', '', created,
           LEAST(%(now)s, GREATEST(created, COALESCE(cancelled, checked_out + interval '20 hours', checked_in,
                                                     created)))
    FROM filled
    RETURNING id, created_at, billed_as_addon, status
)
INSERT INTO tutoring_sessions_sessionevent
    (session_id, actor_id, channel, kind, from_status, to_status, reason, data, created_at, notified_at)
SELECT id, NULL, 'system',
       CASE WHEN billed_as_addon THEN 'adhoc_logged' ELSE 'created' END, '',
       CASE WHEN billed_as_addon THEN 'awaiting_approval_parent' ELSE 'scheduled' END,
       '', '{{}}'::jsonb, created_at, created_at
FROM ins
"""

# Every scheduled lesson of a due_threads batch gets an open thread, opened two days before the
# start by the parent or the tutor, with its open version-1 proposal (one day later) and the
# reschedule_proposed event the lifecycle would have written.
_THREADS_SQL = """
WITH picked AS (
    SELECT s.id AS session_id, s.tutor_id, g.parent_id, s.scheduled_start, s.scheduled_end,
           mod(s.id, 2) = 0 AS by_parent
    FROM tutoring_sessions_session s
    JOIN tutoring_guardianship g ON g.student_id = s.student_id
    WHERE s.tutor_id = ANY(%(tutor_ids)s) AND s.status = 'scheduled'
), threads AS (
    INSERT INTO tutoring_sessions_reschedulethread
        (session_id, opened_by_id, opened_by_role, reason_id, note, status, created_at, resolved_at)
    SELECT session_id,
           CASE WHEN by_parent THEN parent_id ELSE tutor_id END,
           CASE WHEN by_parent THEN 'parent' ELSE 'tutor' END,
           CASE WHEN by_parent
                THEN (%(parent_reasons)s::bigint[])[1 + mod(session_id, %(n_parent_reasons)s)]
                ELSE (%(tutor_reasons)s::bigint[])[1 + mod(session_id, %(n_tutor_reasons)s)]
           END,
           '', 'open', scheduled_start - interval '2 days', NULL
    FROM picked
    RETURNING id, session_id, opened_by_id, opened_by_role, reason_id, created_at
), proposals AS (
    INSERT INTO tutoring_sessions_rescheduleproposal
        (thread_id, version, proposed_by_id, proposed_by_role, proposed_start, proposed_end, note, status,
         created_at, answered_at, answered_by_id, answer_note)
    SELECT t.id, 1, t.opened_by_id, t.opened_by_role, p.scheduled_start + interval '1 day',
           p.scheduled_end + interval '1 day', '', 'open', t.created_at, NULL, NULL, ''
    FROM threads t JOIN picked p ON p.session_id = t.session_id
    RETURNING id, thread_id, proposed_start, proposed_end
)
INSERT INTO tutoring_sessions_sessionevent
    (session_id, actor_id, channel, kind, from_status, to_status, reason, data, created_at, notified_at)
SELECT t.session_id, t.opened_by_id, 'web', 'reschedule_proposed', 'scheduled', 'scheduled', r.label,
       jsonb_build_object('thread_id', t.id, 'proposal_id', p.id, 'version', 1,
                          'proposed_start', p.proposed_start, 'proposed_end', p.proposed_end,
                          'proposed_by_role', t.opened_by_role),
       t.created_at, t.created_at
FROM threads t
JOIN proposals p ON p.thread_id = t.id
JOIN tutoring_sessions_changereason r ON r.id = t.reason_id
"""

_USERS_SQL = """
INSERT INTO tutoring_user (password, last_login, is_superuser, username, first_name, last_name, email,
                           is_staff, is_active, date_joined, name, avatar_url, time_zone, roles)
SELECT %(password)s, NULL, false, %(prefix)s || lpad(i::text, 6, '0'), first, last,
       %(prefix)s || lpad(i::text, 6, '0') || '@example.test', false, true, %(now)s, first || ' ' || last, '',
       (%(zones)s::text[])[1 + mod(i, cardinality(%(zones)s::text[]))], ARRAY[%(role)s]::varchar(16)[]
FROM generate_series(0, %(count)s - 1) AS i,
LATERAL (SELECT (%(firsts)s::text[])[1 + mod(i, cardinality(%(firsts)s::text[]))] AS first,
                (%(lasts)s::text[])[1 + mod(i / 7, cardinality(%(lasts)s::text[]))] AS last) AS n
RETURNING id, username
"""

_DERIVED_SQL = [
    # matches and enrollments follow from who actually had lessons together
    """INSERT INTO tutoring_match (tutor_id, student_id, course_id, accepted_at, active)
       SELECT tutor_id, student_id, course_id, min(created_at), true FROM tutoring_sessions_session
       WHERE tutor_id = ANY(%(tutor_ids)s) GROUP BY tutor_id, student_id, course_id
       ON CONFLICT DO NOTHING""",
    """INSERT INTO tutoring_enrollment (course_id, student_id, created_at)
       SELECT course_id, student_id, min(created_at) FROM tutoring_sessions_session
       WHERE tutor_id = ANY(%(tutor_ids)s) AND course_id IS NOT NULL GROUP BY course_id, student_id
       ON CONFLICT DO NOTHING""",
]


@dataclass
class Batch:
    tag: str
    shape: Shape
    tutor_ids: list
    sessions: int = 0
    threads: int = 0
    big_sessions: int = 0
    seconds: float = 0.0


def _execute(sql: str, params: dict) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _insert_users(prefix: str, role: str, count: int, now: datetime, password: str = "!") -> list[int]:
    """Bulk people; '!' is Django's unusable password. Ids come back in username (= index) order."""
    rows = _execute(_USERS_SQL, {"password": password, "prefix": prefix, "count": count, "now": now,
                                 "zones": ZONES, "role": Role(role).value, "firsts": FIRST_NAMES,
                                 "lasts": LAST_NAMES})
    return [pk for pk, _ in sorted(rows, key=lambda row: row[1])]


def _next_tag(kind: str) -> str:
    taken = User.objects.filter(username__regex=rf"^{kind}[0-9]+-tutor-000000$").count()
    return f"{kind}{taken + 1}"


def _courses(creator_ids: list[int], per_creator: int, offset: int = 0) -> list[int]:
    courses = [Course(creator_id=creator_id, title=f"{SUBJECTS[(i + offset) % len(SUBJECTS)]} "
                                                   f"{LEVELS[(i // len(SUBJECTS) + k) % len(LEVELS)]}")
               for i, creator_id in enumerate(creator_ids) for k in range(per_creator)]
    return [c.pk for c in Course.objects.bulk_create(courses)]


def _big_creator_courses() -> tuple[list[int], int]:
    """The dashboard benchmark's creator (made once), its courses, and how many sessions it owns."""
    creator = User.objects.filter(username=BIG_CREATOR).first()
    if creator is None:
        creator = User.objects.create(username=BIG_CREATOR, name="Bea Chmark",
                                      email=f"{BIG_CREATOR}@example.test", time_zone="Europe/Berlin",
                                      roles=[Role.CREATOR], password=make_password(DEMO_PASSWORD))
        Course.objects.bulk_create(Course(creator=creator, title=f"{subject} Masterclass")
                                   for subject in SUBJECTS[:5])
    courses = list(Course.objects.filter(creator=creator).values_list("pk", flat=True))
    owned = Session.objects.filter(course__creator=creator).count()
    return courses, owned


def _people(tag: str, shape: Shape, now: datetime) -> dict:
    tutors = _insert_users(f"{tag}-tutor-", Role.TUTOR, shape.tutors, now)
    students = _insert_users(f"{tag}-student-", Role.STUDENT, shape.students, now)
    parents = _insert_users(f"{tag}-parent-", Role.PARENT, math.ceil(shape.students / 2), now)
    creators = _insert_users(f"{tag}-creator-", Role.CREATOR, shape.creators, now)
    Guardianship.objects.bulk_create(Guardianship(parent_id=parents[i // 2], student_id=student)
                                     for i, student in enumerate(students))
    expiry = (now + timedelta(days=180)).date()
    LessonPackage.objects.bulk_create(LessonPackage(student_id=student, credits=40, expires_on=expiry)
                                      for student in students)
    return {"tutor_ids": tutors, "student_ids": students, "courses": _courses(creators, 4, offset=len(tag))}


def _reason_ids(party: str, kind: str) -> list[int]:
    return list(ChangeReason.objects.filter(role=party, kind=kind, active=True, requires_note=False)
                .order_by("position").values_list("pk", flat=True))


def seed_bulk(*, n: int, mix: str = REALISTIC, now: datetime | None = None) -> Batch:
    """Insert one batch of n sessions with their own tutors, students, parents and creators, in one
    transaction. mix: realistic (a year of history, every status), due_threads (scheduled lessons
    2-6 days ago, each with an open reschedule thread: due for expiry) or due_no_shows (scheduled
    lessons 2-6 days ago whose check-in day is over: due for the no-show sweep)."""
    now = now or timezone.now()
    started = clock.perf_counter()
    shape = Shape.of(n, mix, now)
    tag = _next_tag({REALISTIC: "bulk", DUE_THREADS: "due", DUE_NO_SHOWS: "noshow"}[mix])
    with transaction.atomic():
        ensure_pickers()
        people = _people(tag, shape, now)
        big_courses, owned = _big_creator_courses()
        big = min(n // 10, max(0, BIG_CREATOR_SESSIONS - owned)) if mix == REALISTIC else 0
        params = people | {
            "n": n, "tutors": shape.tutors, "spacing": shape.spacing, "window_start": shape.window_start,
            "jitter": (shape.spacing - MAX_MINUTES * 60) // 900, "seed": sum(map(ord, tag)), "now": now,
            "big_rows": 10 * big, "big_courses": big_courses,
            "parent_cancel": _reason_ids(Party.PARENT, ChangeKind.CANCEL),
            "tutor_cancel": _reason_ids(Party.TUTOR, ChangeKind.CANCEL),
        }
        _execute(_SESSIONS_SQL.format(status=_status_sql(mix)), params)
        batch = Batch(tag=tag, shape=shape, tutor_ids=people["tutor_ids"], sessions=n, big_sessions=big)
        if mix == DUE_THREADS:
            parent_reasons = _reason_ids(Party.PARENT, ChangeKind.RESCHEDULE)
            tutor_reasons = _reason_ids(Party.TUTOR, ChangeKind.RESCHEDULE)
            _execute(_THREADS_SQL, {"tutor_ids": batch.tutor_ids, "parent_reasons": parent_reasons,
                                    "n_parent_reasons": len(parent_reasons), "tutor_reasons": tutor_reasons,
                                    "n_tutor_reasons": len(tutor_reasons)})
            batch.threads = n
        for sql in _DERIVED_SQL:
            _execute(sql, {"tutor_ids": batch.tutor_ids})
    analyze()
    batch.seconds = clock.perf_counter() - started
    return batch


def analyze() -> None:
    """Fresh planner statistics after a bulk load (autovacuum would get there, but later)."""
    if connection.in_atomic_block:
        return  # e.g. inside a test transaction: ANALYZE works there, but it is not needed
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tutoring_user, tutoring_sessions_session, tutoring_sessions_sessionevent, "
                       "tutoring_sessions_reschedulethread, tutoring_sessions_rescheduleproposal")


# --- the command -------------------------------------------------------------------------------


class Command(BaseCommand):
    help = ("Create the demo world (logins demo-parent, demo-tutor, demo-student, demo-creator, "
            "demo-coordinator; password 'demo'), optionally with bulk sessions for benchmarks.")

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing (and say so) when any user exists: `make run` seeds only once.")
        parser.add_argument("--sessions", type=int, default=0, metavar="N",
                            help="Also bulk-insert N sessions with a realistic status mix (for benchmarks).")
        parser.add_argument("--due-threads", type=int, default=0, metavar="K",
                            help="Also insert K past scheduled sessions with open reschedule threads "
                                 "(due for expiry), in addition to --sessions.")
        parser.add_argument("--due-no-shows", type=int, default=0, metavar="M",
                            help="Also insert M past scheduled sessions whose check-in day is over "
                                 "(due for the no-show sweep).")

    def handle(self, *args, if_empty=False, sessions=0, due_threads=0, due_no_shows=0, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run in production (DJANGO_ENV=production): it creates "
                               "accounts with the password 'demo' and fake sessions.")
        if min(sessions, due_threads, due_no_shows) < 0:
            raise CommandError("--sessions, --due-threads and --due-no-shows must not be negative.")
        if if_empty and User.objects.exists():
            self.stdout.write("seed_demo: users already exist; nothing to do (--if-empty).")
            return
        bulk = sessions or due_threads or due_no_shows
        now = timezone.now()
        self._demo_world(now, keep_existing=bool(bulk))
        for n, mix in ((sessions, REALISTIC), (due_threads, DUE_THREADS), (due_no_shows, DUE_NO_SHOWS)):
            if n:
                self._report_batch(seed_bulk(n=n, mix=mix, now=now))

    def _demo_world(self, now: datetime, *, keep_existing: bool) -> None:
        if User.objects.filter(username__in=LOGINS).exists():
            if keep_existing:
                self.stdout.write("seed_demo: the demo world exists; adding bulk data only.")
                return
            raise CommandError("The demo world already exists (user demo-parent and friends); nothing was "
                               "changed. Use --if-empty to skip quietly, or start from an empty database.")
        started = clock.perf_counter()
        try:
            # replayed history: record the events, but notify nobody about weeks-old changes
            with transaction.atomic(), lifecycle.silenced():
                seed_world(now=now)
        except Refused as exc:  # a lifecycle guard refused a step: nothing was written
            raise CommandError(f"The demo seed was refused: {exc.message}") from exc
        counts = dict(Session.objects.values_list("status").annotate(n=Count("pk")).order_by("status"))
        self.stdout.write(f"seed_demo: demo world with {sum(counts.values())} sessions "
                          f"({', '.join(f'{k} {v}' for k, v in counts.items())}), "
                          f"{SessionEvent.objects.count()} events in {clock.perf_counter() - started:.1f} s. "
                          f"Logins: {', '.join(LOGINS)} (password '{DEMO_PASSWORD}').")

    def _report_batch(self, batch: Batch) -> None:
        s = batch.shape
        extra = f", {batch.threads:,} open due threads" if batch.threads else ""
        extra += f", {batch.big_sessions:,} for {BIG_CREATOR}" if batch.big_sessions else ""
        self.stdout.write(f"seed_demo: batch {batch.tag} ({s.mix}): {batch.sessions:,} sessions for "
                          f"{s.tutors:,} tutors / {s.students:,} students{extra} in {batch.seconds:.1f} s.")
