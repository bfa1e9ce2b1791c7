"""`manage.py seed_demo`: a small, realistic demo world.

The demo world (three families, three tutors, two creators, a coordinator) is replayed through
sessions.lifecycle with an injected `now`, so every status change has its real SessionEvent row.
The benchmarks' bulk data (a million sessions) is bench/seed.py's, not this command's.

Running the seed twice fails cleanly (CommandError, nothing written); --if-empty skips quietly
when any user exists.
"""

import time as clock
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
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
from tutoring.signin import DEMO_PASSWORD  # production refuses it at sign-in

LOGINS = ("demo-parent", "demo-tutor", "demo-student", "demo-creator", "demo-coordinator")

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

# (role, min hours, max hours, penalty, share of a lesson charged, guidance): the brief's sheet; cancels inside 4 hours are
# not self-service at all (a coordinator handles them), so the parent sheet starts at 4 hours.
POLICIES = [
    (Party.PARENT, 48, None, "No charge", 0, "Cancelling 48 hours or more before the start is free."),
    (Party.PARENT, 24, 48, "50% of the lesson", 50,
     "Cancelling 24 to 48 hours before the start is charged at half the lesson price."),
    (Party.PARENT, 4, 24, "Full lesson", 100,
     "Cancelling less than 24 hours before the start is charged as a full lesson."),
    (Party.TUTOR, 48, None, "No penalty", 0,
     "Cancelling 48 hours or more ahead carries no penalty; please offer a replacement slot."),
    (Party.TUTOR, 0, 48, "Reliability strike", 0,
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
    for role, low, high, penalty, percent, guidance in POLICIES:
        CancellationPolicy.objects.update_or_create(role=role, min_hours_before=low, defaults={
            "max_hours_before": high, "penalty": penalty, "charge_percent": percent, "guidance": guidance})


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
# (student, course, credits, days valid); priced at LESSON_PRICE a credit except UNPRICED ones, so
# the demo shows a cancellation charge both as credits and an amount, and as credits alone.
LESSON_PRICE = Decimal("40.00")
UNPRICED = {"kemi-okafor"}
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
        price = None if student in UNPRICED else LESSON_PRICE * credits
        LessonPackage.objects.create(student=u[student], course=c[course] if course else None,
                                     credits=credits, expires_on=today + timedelta(days=days),
                                     price=price, currency="EUR")


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


# --- the command -------------------------------------------------------------------------------


class Command(BaseCommand):
    help = ("Create the demo world (logins demo-parent, demo-tutor, demo-student, demo-creator, "
            "demo-coordinator; password 'demo'). Benchmark data: bench/seed.py.")

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing (and say so) when any user exists: `make run` seeds only once.")

    def handle(self, *args, if_empty=False, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run in production (DJANGO_ENV=production): it creates "
                               "accounts with the password 'demo' and fake sessions.")
        if if_empty and User.objects.exists():
            self.stdout.write("seed_demo: users already exist; nothing to do (--if-empty).")
            return
        if User.objects.filter(username__in=LOGINS).exists():
            raise CommandError("The demo world already exists (user demo-parent and friends); nothing was "
                               "changed. Use --if-empty to skip quietly, or start from an empty database.")
        started = clock.perf_counter()
        try:
            # replayed history: record the events, but notify nobody about weeks-old changes
            with transaction.atomic(), lifecycle.silenced():
                seed_world(now=timezone.now())
        except Refused as exc:  # a lifecycle guard refused a step: nothing was written
            raise CommandError(f"The demo seed was refused: {exc.message}") from exc
        counts = dict(Session.objects.values_list("status").annotate(n=Count("pk")).order_by("status"))
        self.stdout.write(f"seed_demo: demo world with {sum(counts.values())} sessions "
                          f"({', '.join(f'{k} {v}' for k, v in counts.items())}), "
                          f"{SessionEvent.objects.count()} events in {clock.perf_counter() - started:.1f} s. "
                          f"Logins: {', '.join(LOGINS)} (password '{DEMO_PASSWORD}').")
