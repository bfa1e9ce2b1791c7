"""The benchmarks' bulk data: batches of sessions generated inside PostgreSQL with
INSERT ... SELECT FROM generate_series (a million sessions take minutes, not hours), with their
own tutors, students, parents and creators, beside the demo world (`manage.py seed_demo`).

Bench data is marked as such: each bulk session has one SessionEvent, the one that put it in its
status directly (`to_status` is the session's status, `reason` is BENCH_REASON, `data` holds
{"bench": true}); the lifecycle's steps in between were never taken. Its people are
`<tag>-tutor-000000` and so on, @example.test.

    from bench import seed
    seed.ensure(sessions=1_000_000)           # the demo world once, then bulk up to N in all
    seed.seed_bulk(n=5000, mix=seed.DUE_THREADS)

or from a shell: `python -m bench.seed --sessions N [--due-threads K] [--due-no-shows M]`.
"""

import argparse
import math
import time as clock
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from demo.management.commands.seed_demo import DEMO_PASSWORD, ensure_pickers
from sessions.models import ChangeKind, ChangeReason, Party, Session
from tutoring.models import Course, Guardianship, LessonPackage, Role, User

# The creator of the dashboard benchmark: bulk batches give it 100,000 sessions in total.
BIG_CREATOR = "bench-creator"
BIG_CREATOR_SESSIONS = 100_000
BENCH_REASON = "bench data: inserted in this status, without the lifecycle's steps"

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
       CASE WHEN billed_as_addon THEN 'adhoc_logged' ELSE 'created' END, '', status, %(bench_reason)s,
       '{{"bench": true}}'::jsonb, created_at, created_at
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
    """INSERT INTO tutoring_match (tutor_id, student_id, course_id, accepted_at, active, state)
       SELECT tutor_id, student_id, course_id, min(created_at), true, 'accepted' FROM tutoring_sessions_session
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
    refuse_production()
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
            "tutor_cancel": _reason_ids(Party.TUTOR, ChangeKind.CANCEL), "bench_reason": BENCH_REASON,
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


def refuse_production() -> None:
    if settings.PRODUCTION:
        raise ImproperlyConfigured("bench/seed.py refuses to run in production (DJANGO_ENV=production): it "
                                   "creates fake people and sessions.")


def ensure(*, sessions: int = 0, due_threads: int = 0, due_no_shows: int = 0, now: datetime | None = None,
           report=print) -> list[Batch]:
    """The demo world if the database has no users, then one batch of each kind asked for."""
    refuse_production()
    if not User.objects.exists():
        call_command("seed_demo")
    now = now or timezone.now()
    batches = []
    for n, mix in ((sessions, REALISTIC), (due_threads, DUE_THREADS), (due_no_shows, DUE_NO_SHOWS)):
        if n:
            batch = seed_bulk(n=n, mix=mix, now=now)
            report(describe(batch))
            batches.append(batch)
    return batches


def describe(batch: Batch) -> str:
    s = batch.shape
    extra = f", {batch.threads:,} open due threads" if batch.threads else ""
    extra += f", {batch.big_sessions:,} for {BIG_CREATOR}" if batch.big_sessions else ""
    return (f"bench seed: batch {batch.tag} ({s.mix}): {batch.sessions:,} sessions for "
            f"{s.tutors:,} tutors / {s.students:,} students{extra} in {batch.seconds:.1f} s.")


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")

    django.setup()
    parser = argparse.ArgumentParser(description="Bulk sessions for the benchmarks (bench/seed.py).")
    parser.add_argument("--sessions", type=int, default=0, help="a realistic status mix")
    parser.add_argument("--due-threads", type=int, default=0, help="past lessons with open reschedule threads")
    parser.add_argument("--due-no-shows", type=int, default=0, help="past lessons whose check-in day is over")
    args = parser.parse_args()
    if min(args.sessions, args.due_threads, args.due_no_shows) < 0:
        parser.error("the counts must not be negative")
    ensure(sessions=args.sessions, due_threads=args.due_threads, due_no_shows=args.due_no_shows)
