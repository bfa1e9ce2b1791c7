"""Reads for the creator's Session History (spec 000): which sessions a creator sees, the table's
rows, and the metrics summed over the sessions or over the rollups (their definitions and the
status buckets: creators/metrics.py)."""

import functools
from dataclasses import dataclass, fields, replace
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from types import SimpleNamespace

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.lookups import IContains
from django.http import Http404

from notes.selectors import notes_prefetch
from sessions import paging
from sessions.models import Session, SessionAssessment, SessionEvent
from tutoring.models import Course, Role, User
from tutoring.prepared import Plan, plan
from video.recordings import playable_recordings

from .metrics import COUNTS, KEYS, MEASURES, RATED_BY, READS, TOTALS, add_up, evaluate, measured
from .metrics import BUCKET_OF, STATUS_BUCKETS  # noqa: F401 (the pages' buckets, read from here)
from .models import CourseStudent, CreatorTutor, SessionRollup

LOW_RATING = 2  # sessions rated this or lower are flagged for review (H23)


def is_creator(user: User) -> bool:
    return Role.CREATOR in user.roles


def creator_or_404(user: User) -> User:
    """The signed-in creator; anyone else is told nothing exists here (H01)."""
    if not is_creator(user):
        raise Http404("Not found.")
    return user


def creator_sessions(creator: User) -> QuerySet[Session]:
    """Every session of the creator's own courses (H01); a session without a course is nobody's."""
    return Session.objects.filter(course__creator=creator)


# The filters on a rollup's keys (course, tutor, status), as lookups that sessions and rollup rows
# share by name: the rollup path applies these alone (see uses_rollups).
ON_KEYS = {
    "course_id": lambda course_id: Q(course_id=course_id),
    "tutor_id": lambda tutor_id: Q(tutor_id=tutor_id),
    "bucket": lambda bucket: Q(status__in=STATUS_BUCKETS[bucket]),
}


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

    def on_keys(self) -> Q:
        """The filters of ON_KEYS that are set, for sessions or rollup rows alike."""
        q = Q()
        for name, lookup in ON_KEYS.items():
            if value := getattr(self, name):
                q &= lookup(value)
        return q

    def apply(self, qs: QuerySet[Session]) -> QuerySet[Session]:
        qs = qs.filter(self.on_keys())
        if self.student:
            qs = qs.filter(student__name__icontains=self.student)
        if self.student_id:
            qs = qs.filter(student_id=self.student_id)
        if self.start:
            qs = qs.filter(scheduled_start__gte=self.start)
        if self.end:
            qs = qs.filter(scheduled_start__lt=self.end)
        if self.low_rated:
            qs = qs.filter(pk__in=Session.objects.filter(assessments__author_role=RATED_BY,
                                                         assessments__rating__lte=LOW_RATING).values("pk"))
        return qs


def week_start(now: datetime, user: User) -> datetime:
    """Monday 00:00 of this week in the user's zone."""
    local = now.astimezone(user.tzinfo)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=user.tzinfo)


def with_student_review(qs: QuerySet[Session]) -> QuerySet[Session]:
    """Join the student's assessment only (the rating the metrics count, metrics.RATED_BY): at most
    one per session, so no row is doubled."""
    return qs.annotate(student_review=FilteredRelation(
        "assessments", condition=Q(assessments__author_role=RATED_BY)))


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


@dataclass(frozen=True)
class Person:
    """A tutor or a student as a table row shows them."""
    id: int
    name: str
    avatar_url: str


@dataclass(frozen=True)
class CourseRef:
    id: int
    title: str


@dataclass
class Row:
    """One row of the table (the page, the API list): the session's own columns, its course and
    people, the student's rating and whether a recording can be played, as `table_rows` has them."""
    id: int
    scheduled_start: datetime
    scheduled_end: datetime
    status: str
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    is_trial: bool
    billed_as_addon: bool
    course: CourseRef | None
    student: Person
    tutor: Person
    rating: int | None
    has_recording: bool

    @property
    def pk(self) -> int:
        return self.id

    actual_duration = Session.actual_duration  # the model's own rule, over the same two fields

    @property
    def low_rating(self) -> bool:
        return self.rating is not None and self.rating <= LOW_RATING


@functools.cache
def _row_parts() -> tuple[str, str, tuple]:
    """The per-row reads of `table_rows` as SQL over a session aliased `s`, made by the ORM from
    the same definitions (the counted assessment, metrics.RATED_BY, and `playable_recordings`):
    the rating, then the recording test, and their parameters. Made once per process: they
    depend on nothing but those definitions."""
    rating = (SessionAssessment.objects.filter(session_id=RawSQL("s.id", []), author_role=RATED_BY)
              .values("rating"))
    recording = playable_recordings().filter(session_id=RawSQL("s.id", [])).order_by().values("pk")
    rating_sql, rating_params = rating.query.sql_with_params()
    recording_sql, recording_params = recording.query.sql_with_params()
    return f"({rating_sql})", f"EXISTS ({recording_sql})", (*rating_params, *recording_params)


_ROW_COLUMNS = ("s.id, s.scheduled_start, s.scheduled_end, s.status, s.checked_in_at, s.checked_out_at, "
                "s.is_trial, s.billed_as_addon, c.id, c.title, st.id, st.name, st.avatar_url, "
                "tu.id, tu.name, tu.avatar_url")


def _lateral_page(driving: tuple[str, list], qs: QuerySet[Session], key: dict[str, str], cursor: str | None,
                  limit: int, *, bounded: bool = False) -> tuple[str, list]:
    """The page's ids: for each row of `driving` (SQL aliased `k`), the newest `limit` + 1 rows of
    `qs` after the cursor with `key` (a session column: a column of k) taken from it, merged.

    `bounded`, for a driving set of many rows (a name's (course, student) pairs): each row's
    newest session is read first, and the (limit + 1)-th newest of those bounds the rest. There
    are limit + 1 sessions at least as new as it, so every session of the page is, and each row
    then reads only its sessions from there on instead of limit + 1 each (on the bench, 'Santos'
    in 213 pairs: some 200 sessions read instead of 5,538; that part 3.9 -> 2.0 ms). Fewer rows
    than limit + 1 bound nothing."""
    qs = paging.after_cursor(qs, cursor, newest_first=True)
    per_row = paging.order(qs.filter(**{column: RawSQL(f"k.{of}", []) for column, of in key.items()}),
                           newest_first=True)
    driving_sql, driving_params = driving
    if not bounded:
        inner_sql, inner_params = per_row.values("pk", "scheduled_start")[:limit + 1].query.sql_with_params()
        return (f"""SELECT x.pk FROM {driving_sql} CROSS JOIN LATERAL ({inner_sql}) x
                    ORDER BY x.scheduled_start DESC, x.pk DESC LIMIT %s""",
                [*driving_params, *inner_params, limit + 1])
    heads_sql, heads_params = per_row.values("scheduled_start")[:1].query.sql_with_params()
    since = RawSQL("COALESCE((SELECT start FROM bound), '-infinity'::timestamptz)", [])
    from_bound = per_row.filter(scheduled_start__gte=since).values("pk", "scheduled_start")
    inner_sql, inner_params = from_bound[:limit + 1].query.sql_with_params()
    return (f"""WITH k AS MATERIALIZED (SELECT * FROM {driving_sql}),
                     bound AS (SELECT h.scheduled_start AS start FROM k CROSS JOIN LATERAL ({heads_sql}) h
                               ORDER BY 1 DESC OFFSET %s LIMIT 1)
                SELECT x.pk FROM k CROSS JOIN LATERAL ({inner_sql}) x
                ORDER BY x.scheduled_start DESC, x.pk DESC LIMIT %s""",
            [*driving_params, *heads_params, limit, *inner_params, limit + 1])


def _rows_sql(page: tuple[str, list]) -> tuple[str, list]:
    """The statement of the table rows of the page's ids (SQL of one column), newest first: only
    they are joined to their course, people, rating and recording."""
    page_sql, page_params = page
    rating_sql, recording_sql, row_params = _row_parts()
    return (f"""
        WITH page AS ({page_sql})
        SELECT {_ROW_COLUMNS}, {rating_sql}, {recording_sql}
        FROM page JOIN {Session._meta.db_table} s ON s.id = page.pk
        LEFT JOIN {Course._meta.db_table} c ON c.id = s.course_id
        JOIN {User._meta.db_table} st ON st.id = s.student_id
        JOIN {User._meta.db_table} tu ON tu.id = s.tutor_id
        ORDER BY s.scheduled_start DESC, s.id DESC""", [*page_params, *row_params])


def _fetch_rows(statement: tuple[str, list]) -> list[Row]:
    with connection.cursor() as db:
        db.execute(*statement)
        return [Row(*r[:8], course=CourseRef(r[8], r[9]) if r[8] is not None else None,
                    student=Person(*r[10:13]), tutor=Person(*r[13:16]), rating=r[16], has_recording=r[17])
                for r in db.fetchall()]


def newest_rows(qs: QuerySet[Session], *, course_ids: list[int], cursor: str | None, limit: int) -> list[Row]:
    """Up to `limit` + 1 table rows of `qs`, newest first, after the cursor, in one statement.
    With `course_ids`, each course's newest rows are read from its own (course, scheduled_start)
    index (a LATERAL join over the ids) and merged, so the cost follows the page, not the
    creator's share of all sessions; without, `qs` is paged as it is (a tutor's own sessions).
    Only the page's rows are then joined to their course, people, rating and recording. `qs`
    carries the filters (Filters.apply), and the ORM writes that part of the statement."""
    return _fetch_rows(_newest_rows_sql(qs, course_ids, cursor, limit))


# The course ids as the LATERAL join's driving rows, passed through a sub-select so that the
# planner cannot see them: its estimate (and so its plan) is then the same whatever the ids, and
# PostgreSQL keeps the statement's generic plan after five runs (prepared statements,
# docs/operations.md) instead of planning it again for every request, as it did for a visible
# array (a custom plan for each list; about 1 ms of PostgreSQL's CPU a list page on the bench).
# The custom plans were not better either: for the no-show filter, five courses' ids seen made
# the planner AND two bitmap scans, 37-47 ms against 5-7 ms for the generic plan.
_COURSE_IDS = "unnest((SELECT %s::bigint[])) AS k(id)"


def _newest_rows_sql(qs: QuerySet[Session], course_ids: list[int], cursor: str | None,
                     limit: int) -> tuple[str, list]:
    """`newest_rows`' statement."""
    if course_ids:
        return _rows_sql(_lateral_page((_COURSE_IDS, [list(course_ids)]), qs,
                                       {"course_id": "id"}, cursor, limit))
    # one index serves the whole set (a tutor's own sessions)
    qs = paging.after_cursor(qs, cursor, newest_first=True)
    return _rows_sql(paging.order(qs, newest_first=True).values("pk")[:limit + 1].query.sql_with_params())


# What of Filters goes into the rows' statement as a value: each field named here, when set, is
# one argument of the statement; the others (bucket, low_rated) and which fields are set change
# its SQL. A name search's value is the LIKE pattern the ORM makes of the name (`_named`).
_VALUE_FIELDS = ("course_id", "tutor_id", "student_id", "start", "end")


def _filtered_rows(creator_id: int, f: Filters, course_ids: list[int], cursor: str | None,
                   limit: int) -> tuple[str, list]:
    """`history_rows`' statement (`_statement`), its SQL built through the ORM once per process
    for each shape of the arguments (tutoring.prepared.plan): building it cost about as much of
    the request's CPU as running it (~1 ms on the bench, ~1.4 ms for a name search). Anything
    plan() cannot place is built by the ORM each time, as before."""
    found = _rows_plan(_shape(f, cursor, course_ids, limit))
    if found is None:
        return _statement(creator_id, f, course_ids, cursor, limit)
    values = [getattr(f, name) for name in _VALUE_FIELDS]
    args = [creator_id, *([_like_pattern(f.student)] if f.student else []), *(v for v in values if v),
            *(paging.parse_cursor(cursor) if cursor else ()), *([list(course_ids)] if course_ids else [])]
    return found.sql, found.params_for(*args)


def _statement(creator_id: int, f: Filters, course_ids: list[int], cursor: str | None, limit: int,
               named: tuple[str, list] | None = None) -> tuple[str, list]:
    """The rows' statement as the ORM builds it: `newest_rows` over the creator's sessions, or for
    a name search, from the name's (course, student) pairs (`_pairs_rows_sql`; `named`: the
    people's SQL, else `_named` of the name)."""
    if not f.student:
        return _newest_rows_sql(f.apply(creator_sessions(creator_id)), course_ids, cursor, limit)
    return _pairs_rows_sql(creator_id, f, course_ids, cursor, limit, named or _named(f.student))


def _named(name: str) -> tuple[str, list]:
    """The people whose name contains `name`: SQL that is the same for every name, and its one
    parameter, the LIKE pattern."""
    return User.objects.filter(name__icontains=name).values("pk").query.sql_with_params()


@functools.cache
def _named_sql() -> str:
    return _named("any")[0]


def _like_pattern(name: str) -> str:
    """`_named`'s parameter for `name`, made as the ORM makes it (PatternLookup.process_rhs, for a
    plain value), without building the query (0.46 ms of a search's CPU on the bench)."""
    return IContains.param_pattern % connection.ops.prep_for_like_query(name)


def _shape(f: Filters, cursor: str | None, course_ids: list[int], limit: int) -> tuple:
    """What of `_filtered_rows`' arguments changes its SQL: whether it is a name search, which
    value fields are set (as Filters.apply tests them: a value that is false filters nothing), the
    other filters, whether there is a cursor and are course ids, and the limit (written into the
    SQL)."""
    return (bool(f.student), tuple(bool(getattr(f, name)) for name in _VALUE_FIELDS), f.bucket,
            f.low_rated, bool(cursor), bool(course_ids), limit)


@functools.lru_cache(maxsize=1024)
def _rows_plan(shape: tuple) -> Plan | None:
    """The plan of `_filtered_rows`' statement for one `_shape` of its arguments, found by building
    it for two sets of stand-ins (every value distinct)."""
    by_name, is_set, bucket, low_rated, has_cursor, by_course, limit = shape

    def compile_with(creator_id, *args):
        args = list(args)
        named = (_named_sql(), [args.pop(0)]) if by_name else None
        values = {name: args.pop(0) if present else None
                  for name, present in zip(_VALUE_FIELDS, is_set, strict=True)}
        cursor = (paging.cursor_of(SimpleNamespace(scheduled_start=args.pop(0), pk=args.pop(0)))
                  if has_cursor else None)
        course_ids = args.pop(0) if by_course else []
        f = Filters(student="a name" if by_name else "", bucket=bucket, low_rated=low_rated, **values)
        return _statement(creator_id, f, course_ids, cursor, limit, named)

    def stand_ins(base: int) -> tuple:
        moment = datetime(2001, 1, 1, tzinfo=dt_timezone.utc) + timedelta(days=base)
        ints = iter(range(base + 1, base + 100))
        moments = iter(moment + timedelta(hours=h) for h in range(1, 100))
        values = [next(moments) if name in ("start", "end") else next(ints)
                  for name, present in zip(_VALUE_FIELDS, is_set, strict=True) if present]
        return (next(ints), *([f"%stand-in {base}%"] if by_name else []), *values,
                *((next(moments), next(ints)) if has_cursor else ()),
                *([[next(ints), next(ints)]] if by_course else []))

    return plan(compile_with, stand_ins(1000), stand_ins(2000))


_COURSE_STUDENTS = CourseStudent._meta.db_table
PAIRS_FROM_LETTERS = 3  # a name search this long or longer starts from the (course, student) pairs
_BY_PAIR = {"course_id": "course_id", "student_id": "student_id"}


def _pairs_rows_sql(creator_id: int, f: Filters, course_ids: list[int], cursor: str | None, limit: int,
                    named: tuple[str, list]) -> tuple[str, list]:
    """A name search's rows statement (see `history_rows`): the creator's (course, student) pairs
    in `course_ids` whose student is among `named` (SQL of people's ids), each pair's newest rows
    under the other filters."""
    named_sql, named_params = named
    pairs = (f"""(SELECT p.course_id, p.student_id FROM {_COURSE_STUDENTS} p
                  WHERE p.course_id = ANY(ARRAY(SELECT id FROM {Course._meta.db_table}
                                                WHERE creator_id = %s AND id = ANY(%s::bigint[])))
                    AND p.sessions > 0 AND p.student_id = ANY(ARRAY({named_sql}))) AS k""",
             [creator_id, list(course_ids), *named_params])
    # the creator, the courses and the name are the pairs' conditions; the rest are columns
    qs = replace(f, student="").apply(Session.objects.all())
    return _rows_sql(_lateral_page(pairs, qs, _BY_PAIR, cursor, limit, bounded=True))


def history_rows(creator: User, f: Filters, *, cursor: str | None, limit: int,
                 course_ids: list[int] | None = None) -> list[Row]:
    """Up to `limit` + 1 rows of the creator's Session History under the filters, newest first,
    after the cursor (the same rows as `newest_rows` of `f.apply(creator_sessions(creator))`),
    read course by course: the filter's course, or else `course_ids`, the creator's courses
    (read here when not given; the page has them in its cached frame). A student-name search
    starts from the (course, student) pairs of creators.CourseStudent: the creator's students in
    those courses whose name matches (a few hundred pairs), each pair's newest rows read in order
    from the sessions' (student, course, scheduled_start, id) index, which carries the status and
    the tutor, so the status and ST filters are tested in the index too; the other filters are the
    sessions' own columns, so no row is joined to its course or student before the page is cut.
    (Read per course, PostgreSQL probed the index for every person of that name in every course,
    or walked each course's sessions testing every student's name.) A term of one or two letters
    ("a") names most people (and the users' trigram index cannot serve it): reading each course
    newest first finds a page at once there (5 ms against 70 on the bench for "a"), so such a
    search keeps that walk."""
    if f.course_id:
        course_ids = [f.course_id]
    elif course_ids is None:
        course_ids = list(creator_courses(creator).values_list("pk", flat=True))
    if f.student and (not course_ids or len(f.student) < PAIRS_FROM_LETTERS):
        return newest_rows(f.apply(creator_sessions(creator)), course_ids=course_ids, cursor=cursor, limit=limit)
    return _fetch_rows(_filtered_rows(creator.pk, f, course_ids, cursor, limit))


# --- the metrics (H16): one definition in creators/metrics.py, summed over sessions or rollups --

def _sum_sql(total) -> tuple[str, list]:
    """One Total as a bigint, 0 over no rows: SUM(bigint) is a numeric, which arrives as a Decimal
    (for ~500 per-ST rows of 12 totals, converting and adding Decimals cost ~2 ms a request)."""
    where = "" if total.statuses is None else " FILTER (WHERE x.status = ANY(%s))"
    params = [] if total.statuses is None else [total.statuses]
    return f"COALESCE(SUM(x.{total.measure}){where}, 0)::bigint AS {total.key}", params


def _sums(source: tuple[str, list], *, by_tutor: bool) -> list[dict]:
    """metrics.TOTALS over the rows of `source` (SQL whose columns are tutor_id, status and the
    measures: sessions, or rollup rows), as one row, or one per tutor by name; one query that
    sorts the tutors, not the rows. The tutors are read by their ids (the ARRAY): joined, PostgreSQL
    hashed every user to find some 500 (13 -> 9 ms for the bench creator's rollups)."""
    source_sql, source_params = source
    sums = [_sum_sql(total) for total in TOTALS]
    params = [*(p for _, ps in sums for p in ps), *source_params]
    columns = ", ".join(column for column, _ in sums)
    if by_tutor:
        sql = f"""
            WITH t AS (SELECT x.tutor_id, {columns} FROM ({source_sql}) x GROUP BY x.tutor_id)
            SELECT t.*, u.name, u.avatar_url
            FROM t JOIN {User._meta.db_table} u ON u.id = t.tutor_id
            WHERE u.id = ANY(ARRAY(SELECT tutor_id FROM t))
            ORDER BY u.name, t.tutor_id"""
    else:
        sql = f"SELECT {columns} FROM ({source_sql}) x"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


SUMMED_BY = ("tutor_id", "status")  # the keys `_sums` reads of its source's rows


def _sessions(qs: QuerySet[Session]) -> tuple[str, list]:
    """The sessions of `qs`, each measured by metrics.measured (as in the rollups), summed per
    SUMMED_BY: the TOTALS' FILTERs then read a few thousand rows, not every session (20-30% less
    than summing per rollup key on the bench). `qs` is read as the source itself (the sessions'
    columns straight from the query that filters them): read as `id IN (qs)`, PostgreSQL fetched
    each of a whole history's 100,000 sessions again by its key (0.3-1.4 s against 0.15-0.26 s on
    the bench for a creator's "all time" date range). So `qs` must not repeat a session (no
    filter across a to-many relation; Filters has none)."""
    sessions_sql, params = qs.values("id", *KEYS, *READS).query.sql_with_params()
    keys = ", ".join(f"m.{key}" for key in SUMMED_BY)
    sums = ", ".join(f"SUM(m.{measure}) AS {measure}" for measure in MEASURES)
    return (f"SELECT {keys}, {sums} FROM ({measured(f'({sessions_sql})', 'TRUE')}) m GROUP BY {keys}",
            list(params))


def _per_tutor(rows: list[dict]) -> list[dict]:
    """One metrics row per tutor who has sessions, in the rows' order (by name)."""
    return [{"tutor": {"id": r["tutor_id"], "name": r["name"], "avatar_url": r["avatar_url"]}} | evaluate(r)
            for r in rows if COUNTS["total"].of(r)]


def metrics(qs: QuerySet[Session]) -> dict:
    """Metrics for the whole filtered set (one query)."""
    return evaluate(_sums(_sessions(qs), by_tutor=False)[0])


def metrics_by_tutor(qs: QuerySet[Session]) -> list[dict]:
    """The same metrics per Student-Teacher (one query)."""
    return _per_tutor(_sums(_sessions(qs), by_tutor=True))


def uses_rollups(f: Filters) -> bool:
    """The rollups hold whole histories by course, ST and status: any other filter (a date range,
    a student, the low-rating flag) needs the sessions themselves."""
    return not any(getattr(f, field.name) for field in fields(Filters) if field.name not in ON_KEYS)


def creator_metrics(creator: User, f: Filters, *,
                    course_ids: list[int] | None = None) -> tuple[dict, list[dict]]:
    """The metrics and the per-ST breakdown of a creator's sessions under the filters, summed once:
    from the rollups when the filters allow (one query over a few thousand rows), else from the
    sessions of `course_ids`, the creator's courses (read here when not given; the page has them
    in its cached frame), in one query; the whole is the per-ST sums added up."""
    if uses_rollups(f):
        rows = SessionRollup.objects.filter(f.on_keys(), course__creator=creator)
        sql, params = rows.values("tutor_id", "status", *MEASURES).query.sql_with_params()
        source = (sql, list(params))
    else:  # the courses named, not joined: PostgreSQL then reads them from (course, scheduled_start)
        courses = course_ids
        if courses is None:
            courses = list(creator_courses(creator).values_list("pk", flat=True))
        if not courses:
            return evaluate({}), []
        source = _sessions(f.apply(Session.objects.filter(course_id__in=courses)))
    per_tutor = _sums(source, by_tutor=True)
    return evaluate(add_up(per_tutor)), _per_tutor(per_tutor)


def scheduled_between(creator: User, start: datetime, end: datetime) -> QuerySet[Session]:
    """The calendar (H15): the creator's sessions still scheduled (or in progress) that start in
    [start, end), soonest first."""
    return (Filters(bucket="scheduled", start=start, end=end).apply(creator_sessions(creator))
            .order_by("scheduled_start", "pk"))


def creator_courses(creator: User) -> QuerySet[Course]:
    return Course.objects.filter(creator=creator).order_by("title", "id")


def _tutor_rows(creator: User) -> list[tuple[int, str, str, int]]:
    """(id, name, avatar_url, sessions) of each Student-Teacher who teaches the creator's courses
    (has sessions in them), by name: the creator's CreatorTutor rows, read in the order of their
    index."""
    with connection.cursor() as db:
        db.execute(f"SELECT tutor_id, name, avatar_url, sessions FROM {CreatorTutor._meta.db_table} "
                   "WHERE creator_id = %s AND sessions > 0 ORDER BY name, tutor_id", [creator.pk])
        return db.fetchall()


def tutors_with_sessions(creator: User) -> list[tuple[Person, int]]:
    """The Student-Teachers who teach the creator's courses, by name, each with their number of
    sessions there (`_tutor_rows`)."""
    return [(Person(*row[:3]), row[3]) for row in _tutor_rows(creator)]


@functools.cache
def _course_order() -> str:
    """`creator_courses`' order as SQL over a course aliased `c` (the order is the same whoever
    the creator is: any will do to read it)."""
    order = creator_courses(User(pk=0)).query.order_by
    return ", ".join(f"c.{Course._meta.get_field(name).column}" for name in order)


@dataclass
class Frame:
    """What every view of the creator's Session History shows around the rows: the filter choices
    and the header figures (H06 "X total sessions, Y this week")."""
    courses: list[tuple[int, str]]  # (id, title), in `creator_courses`' order
    tutors: list[tuple[int, str]]  # (id, name) of the STs with sessions in them, by name
    total: int  # their sessions
    this_week: int  # sessions starting this week (the user's Monday to Monday)


def history_frame(creator: User, now: datetime) -> Frame:
    """The creator's Frame in two statements: their courses (those of `creator_courses`, in its
    order), each with its sessions starting this week counted from the (course, scheduled_start)
    index; and the STs with their sessions (`_tutor_rows`). Plain tuples: 500 STs as objects
    cost more than their query."""
    week = week_start(now, creator)
    with connection.cursor() as db:
        db.execute(f"""SELECT c.id, c.title, (SELECT COUNT(*) FROM {Session._meta.db_table} s
                                              WHERE s.course_id = c.id AND s.scheduled_start >= %s
                                                AND s.scheduled_start < %s)
                       FROM {Course._meta.db_table} c WHERE c.creator_id = %s ORDER BY {_course_order()}""",
                   [week, week + timedelta(days=7), creator.pk])
        courses = db.fetchall()
    tutors = _tutor_rows(creator)
    return Frame(courses=[(id_, title) for id_, title, _ in courses], tutors=[(row[0], row[1]) for row in tutors],
                 total=sum(row[3] for row in tutors), this_week=sum(n for _, _, n in courses))


def creator_tutors(creator: User) -> list[Person]:
    return [tutor for tutor, _ in tutors_with_sessions(creator)]


def creator_session(creator: User, session_id) -> Session | None:
    """One session of the creator's courses with everything its detail shows (the page's panel and
    the API's detail): the table's row, the cancellation reason, both feedbacks, the notes with
    their attachments and summary, the playable recordings. None when it is not theirs."""
    try:
        pk = int(session_id)
    except (TypeError, ValueError):
        return None
    return (table_rows(creator_sessions(creator))
            .select_related("cancellation_reason", "notes_summary")
            .prefetch_related("assessments", *notes_prefetch(),
                              Prefetch("recordings", queryset=playable_recordings(), to_attr="available_recordings"))
            .filter(pk=pk).first())


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


