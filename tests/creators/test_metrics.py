"""The metric definitions of the Session History page (H16), each on hand-made data."""

from datetime import timedelta

import pytest

from creators import selectors
from sessions.models import Session, SessionAssessment, Source, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Role


@pytest.fixture
def history(make_session, tutor, student):
    """Tia's sessions in Cleo's course: 3 took place (50, 60, 70 minutes actual), 1 no-show,
    1 cancelled, 1 still scheduled; ratings 5 and 2 from the student, 4 from the tutor."""
    def done(day, minutes, status=Status.APPROVED, **extra):
        start = NOW - timedelta(days=day)
        return make_session(start=start, status=status, checked_in_at=start,
                            checked_out_at=start + timedelta(minutes=minutes), **extra)

    a = done(1, 50)
    b = done(2, 60, status=Status.AWAITING_APPROVAL_PARENT)
    c = done(3, 70, status=Status.DISPUTED)
    make_session(start=NOW - timedelta(days=4), status=Status.NO_SHOW)
    make_session(start=NOW - timedelta(days=5), status=Status.CANCELLED_BY_PARENT)
    make_session(start=NOW + timedelta(days=1))
    SessionAssessment.objects.create(session=a, author=student, author_role="student", rating=5)
    SessionAssessment.objects.create(session=a, author=tutor, author_role="tutor", rating=4)
    SessionAssessment.objects.create(session=b, author=student, author_role="student", rating=2)
    return {"a": a, "b": b, "c": c}


def test_the_metrics_follow_their_definitions(history, creator):
    """H16: average duration, completion rate, average rating, no-show rate."""
    m = selectors.metrics(selectors.creator_sessions(creator))
    assert m == {"total": 6, "completed": 3, "cancelled": 1, "no_show": 1, "scheduled": 1,
                 "average_duration_minutes": 60.0,
                 "completion_rate": 0.6,        # 3 took place of 5 settled
                 "no_show_rate": 0.25,          # 1 of the 4 that were due to happen
                 "average_rating": 3.5,         # students' 5 and 2; the tutor's 4 is not a rating of the session
                 "ratings": 2}


def test_metrics_per_tutor(history, creator, make_session, student):
    """H16: the breakdown by ST uses the same definitions."""
    other = make_user("theo", Role.TUTOR)
    start = NOW - timedelta(days=1)
    make_session(start=start, tutor=other, status=Status.NO_SHOW)
    rows = selectors.metrics_by_tutor(selectors.creator_sessions(creator))
    assert [(r["tutor"]["name"], r["total"], r["no_show_rate"]) for r in rows] == [("Theo", 1, 1.0),
                                                                                   ("Tia", 6, 0.25)]


def test_sessions_without_attendance_do_not_skew_the_duration(history, creator, make_session):
    make_session(start=NOW - timedelta(days=6), status=Status.APPROVED, source=Source.IMPORTED)
    assert selectors.metrics(selectors.creator_sessions(creator))["average_duration_minutes"] == 60.0


def test_empty_history_has_no_rates(creator, db):
    m = selectors.metrics(selectors.creator_sessions(creator))
    assert (m["total"], m["completion_rate"], m["no_show_rate"], m["average_rating"]) == (0, None, None, None)


def test_the_status_buckets_cover_every_status_once():
    """H11: All / Completed / Scheduled / Cancelled / No-show, written down in the code."""
    listed = [s for statuses in selectors.STATUS_BUCKETS.values() for s in statuses]
    assert sorted(listed) == sorted(Status.values) and len(listed) == len(set(listed))


def test_a_creator_sees_only_their_own_courses(history, creator, outsider, make_session):
    """H01."""

    theirs = Course.objects.create(creator=outsider, title="Other")
    make_session(start=NOW - timedelta(days=9), course=theirs)
    make_session(start=NOW - timedelta(days=10), course=None)
    assert selectors.creator_sessions(creator).count() == 6
    assert set(selectors.creator_sessions(outsider).values_list("course", flat=True)) == {theirs.id}
    assert Session.objects.count() == 8


# --- the maintained rollups -------------------------------------------------------------------

from creators import rollups  # noqa: E402
from creators.selectors import Filters  # noqa: E402
from sessions import lifecycle  # noqa: E402


@pytest.fixture
def varied(history, creator, tutor, student, course, make_session):
    """`history` plus a second course and a second ST, each with sessions in every bucket: timed
    and untimed, rated by the student, by the tutor only, or not at all."""
    from itertools import cycle

    geometry = Course.objects.create(creator=creator, title="Geometry")
    theo = make_user("theo", Role.TUTOR)
    statuses = cycle(Status.values)
    pairs = [(c, t) for c in (course, geometry) for t in (tutor, theo)]
    for day, (where, who) in enumerate(pairs * 5, start=20):
        start = NOW - timedelta(days=day)
        timed = day % 3 != 0
        s = make_session(start=start, status=next(statuses), course=where, tutor=who,
                         checked_in_at=start if timed else None,
                         checked_out_at=start + timedelta(minutes=30 + day) if timed else None)
        if day % 2:
            SessionAssessment.objects.create(session=s, author=student, author_role="student",
                                             rating=1 + day % 5)
        if day % 4 == 0:
            SessionAssessment.objects.create(session=s, author=who, author_role="tutor", rating=5)
    return {"courses": [course, geometry], "tutors": [tutor, theo]}


def test_the_rollups_give_the_same_metrics_as_the_sessions(varied, creator):
    """H16, issue 13 item 5 (one definition of each metric): for every filter the rollup path
    takes (each course, ST and status bucket, alone and combined), every metric and the per-ST
    breakdown from the maintained rollups equal the same metrics aggregated over the sessions."""
    from itertools import product

    whole = selectors.metrics(selectors.creator_sessions(creator))
    assert all(whole[name] for name in whole), whole  # the data leaves no metric empty or zero
    checked = 0
    for course, tutor, bucket in product([None, *varied["courses"]], [None, *varied["tutors"]],
                                         ["", *selectors.STATUS_BUCKETS]):
        f = Filters(course_id=course and course.id, tutor_id=tutor and tutor.id, bucket=bucket)
        assert selectors.uses_rollups(f)
        qs = f.apply(selectors.creator_sessions(creator))
        from_sessions = selectors.metrics(qs), selectors.metrics_by_tutor(qs)
        assert selectors.creator_metrics(creator, f) == from_sessions, f
        checked += 1
    assert checked == 3 * 3 * 5
    assert rollups.differences() == []


def test_the_filters_the_rollups_cannot_serve_give_the_metrics_of_the_filtered_sessions(varied, creator, outsider,
                                                                                       make_session):
    """H16: a date range, a student's name or id and the low-rating flag send the metrics to the
    sessions (read per course, summed per ST and added up): every metric and the per-ST rows
    equal those of the plainly filtered sessions, which another creator's sessions in the same
    window do not join; a creator without courses gets empty metrics."""
    from datetime import datetime

    theirs = Course.objects.create(creator=outsider, title="Other")
    make_session(start=NOW - timedelta(days=21), course=theirs, status=Status.APPROVED)
    cases = [Filters(start=NOW - timedelta(days=30)), Filters(start=NOW - timedelta(days=26), end=NOW),
             Filters(student="sam"), Filters(low_rated=True), Filters(start=NOW - timedelta(days=30), bucket="completed",
                                                                     course_id=varied["courses"][1].id)]
    for f in cases:
        assert not selectors.uses_rollups(f)
        qs = f.apply(selectors.creator_sessions(creator))
        assert qs.exists(), f
        overall, by_st = selectors.creator_metrics(creator, f)
        assert (overall, by_st) == (selectors.metrics(qs), selectors.metrics_by_tutor(qs)), f
        assert overall["total"] == qs.count() == qs.distinct().count() == sum(row["total"] for row in by_st)
        # and from the sessions themselves, in Python: the mean duration and the students' ratings
        done = qs.filter(status__in=selectors.STATUS_BUCKETS["completed"])
        timed = [s.checked_out_at - s.checked_in_at for s in done if s.checked_in_at and s.checked_out_at]
        expected = round(sum(d.total_seconds() for d in timed) / 60 / len(timed), 1) if timed else None
        assert overall["average_duration_minutes"] == expected, f
        ratings = list(SessionAssessment.objects.filter(session__in=qs, author_role="student")
                       .values_list("rating", flat=True))
        assert overall["ratings"] == len(ratings), f
        assert overall["average_rating"] == (round(sum(ratings) / len(ratings), 2) if ratings else None), f
    nothing = Filters(start=datetime(2000, 1, 1, tzinfo=NOW.tzinfo))
    assert selectors.creator_metrics(outsider, nothing)[0]["total"] == 1
    loner = make_user("lonely-creator", Role.CREATOR)
    assert selectors.creator_metrics(loner, nothing) == (selectors.metrics(selectors.creator_sessions(loner)), [])


def test_only_the_rollups_keys_are_read_from_the_rollups():
    """H16: the rollups know course, ST and status; every other filter sends the metrics to the
    sessions (a filter added later does too, until it is one of the keys)."""
    from dataclasses import fields

    others = {"student": "Sam", "student_id": 1, "start": NOW, "end": NOW, "low_rated": True}
    assert {f.name for f in fields(Filters)} == {*selectors.ON_KEYS, *others}
    for name, value in others.items():
        assert not selectors.uses_rollups(Filters(**{name: value})), name
    assert selectors.uses_rollups(Filters(course_id=1, tutor_id=2, bucket="completed"))


def test_every_kind_of_write_keeps_the_rollups_equal_to_a_recount(history, creator, tutor, student, parent,
                                                                 course, outsider, make_session):
    """Lifecycle transitions, set-based sweeps, bulk inserts, a course changed by hand, ratings
    added, changed and removed, and deletes: after each, the rollups equal a full recount."""
    checks = []

    def check(what):
        checks.append((what, rollups.differences()))

    a, b = history["a"], history["b"]
    lifecycle.acknowledge(b, by=parent, now=NOW)
    check("acknowledge")
    Session.objects.bulk_create([Session(tutor=tutor, student=student, course=course, status=Status.SCHEDULED,
                                         scheduled_start=NOW - timedelta(days=30 + i),
                                         scheduled_end=NOW - timedelta(days=30 + i) + timedelta(hours=1))
                                 for i in range(5)])
    check("bulk insert")
    assert lifecycle.mark_due_no_shows(now=NOW) >= 5
    check("sweep")
    Session.objects.filter(pk=a.pk).update(course=None)
    check("course removed")
    Session.objects.filter(pk=a.pk).update(course=course)
    check("course restored")
    SessionAssessment.objects.filter(session=b, author_role="student").update(rating=5)
    check("rating changed")
    SessionAssessment.objects.create(session=history["c"], author=student, author_role="student", rating=1)
    check("rating added")
    SessionAssessment.objects.filter(session=a).delete()
    check("ratings removed")
    Session.objects.filter(pk=b.pk).update(checked_out_at=b.checked_out_at + timedelta(minutes=7))
    check("attendance corrected")
    doomed = make_session(start=NOW + timedelta(days=9))
    doomed.delete()
    check("delete")
    assert [c for c in checks if c[1]] == []
    assert selectors.creator_metrics(creator, Filters())[0] == selectors.metrics(selectors.creator_sessions(creator))


def test_check_rollups_command_finds_and_repairs_drift(history, capsys):
    from django.core.management import CommandError, call_command

    from creators.models import SessionRollup

    call_command("check_rollups")
    SessionRollup.objects.filter(status=Status.APPROVED).update(sessions=99)  # drift by hand
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("check_rollups")
    call_command("check_rollups", "--rebuild")
    assert rollups.differences() == []


def test_each_metric_is_one_ratio_of_summed_measures():
    """Issue 13 item 5: the definitions live in creators/metrics.py; the sums of several rows (per
    tutor, per course) add up before any ratio is taken (SUM(bigint) arrives as Decimal or NULL)."""
    from decimal import Decimal

    from creators import metrics

    def sums(**by_bucket):
        """Sessions per bucket, all of them timed at 60 minutes and rated 4."""
        row = {}
        for total in metrics.TOTALS:
            n = sum(by_bucket.get(b, 0) for b in (total.buckets or by_bucket))
            per = {"sessions": 1, "actual_us": 3_600_000_000, "actual_n": 1, "rating_sum": 4, "rating_n": 1}
            row[total.key] = Decimal(n * per[total.measure]) if n else None
        return row

    figures = metrics.evaluate(metrics.add_up([sums(completed=2, no_show=1), sums(completed=1, cancelled=1,
                                                                                   scheduled=5)]))
    assert figures == {"total": 10, "completed": 3, "cancelled": 1, "no_show": 1, "scheduled": 5,
                       "average_duration_minutes": 60.0, "completion_rate": 0.6, "no_show_rate": 0.25,
                       "average_rating": 4.0, "ratings": 10}


def test_the_sessions_the_rollups_and_the_recount_carry_exactly_the_measures(history, creator):
    """Issue 13 item 5: the rollup table, the rows its triggers and recount add up, and the rows
    of measured sessions all have the columns metrics.KEYS + metrics.MEASURES (in that order, but
    for the table's own)."""
    from django.db import connection

    from creators import metrics
    from creators.models import SessionRollup

    def columns(sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM ({sql}) x LIMIT 0", params)
            return tuple(c.name for c in cursor.description)

    expected = (*metrics.KEYS, *metrics.MEASURES)
    assert tuple(f.column for f in SessionRollup._meta.concrete_fields) == ("id", *expected)
    assert sorted(columns(f"SELECT * FROM {rollups.ROLLUP}")) == sorted(("id", *expected))  # in any order
    assert columns(rollups.RECOUNT) == expected
    assert columns(metrics.measured(Session._meta.db_table, "true")) == expected
    # the filtered metrics sum those per (tutor, status), the rollup rows' keys the sums read
    assert columns(*selectors._sessions(selectors.creator_sessions(creator))) == (*selectors.SUMMED_BY,
                                                                                  *metrics.MEASURES)
    assert set(selectors.SUMMED_BY) < set(metrics.KEYS)
    assert columns(metrics.review_measured(rollups.ASSESSMENT, "true")) == expected


def test_the_installed_rollup_functions_are_the_ones_rollups_py_generates(db):
    """Issue 13 item 5: the trigger functions in the database (installed by the migrations) are
    exactly what creators/rollups.py generates from creators/metrics.py, so a changed definition
    fails here until a migration installs it."""
    import re

    from django.db import connection

    generated = dict(re.findall(r"FUNCTION (\w+)\(\) RETURNS trigger LANGUAGE plpgsql AS \$\$(.*?)\$\$;",
                                rollups.SESSION_TRIGGER_FUNCTION + rollups.ASSESSMENT_TRIGGER_FUNCTION
                                + rollups.TRUNCATE_FUNCTION + rollups.COURSE_TUTORS_FUNCTION
                                + rollups.COURSE_STUDENTS_FUNCTION + rollups.CREATOR_TUTORS_FUNCTION
                                + rollups.CREATOR_TUTORS_MOVE_FUNCTION
                                + rollups.CREATOR_TUTORS_RENAME_FUNCTION, re.S))
    assert set(generated) == {"creators_rollup_sessions", "creators_rollup_assessments",
                              "creators_rollup_truncate", "creators_course_tutors",
                              "creators_course_students", "creators_creator_tutors",
                              "creators_creator_tutors_move",
                              "creators_creator_tutors_rename"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT proname, prosrc FROM pg_proc WHERE proname = ANY(%s)", [list(generated)])
        assert dict(cursor.fetchall()) == generated


def test_the_course_tutors_follow_the_rollups(history, creator, course, tutor, make_session, db, capsys):
    """Issue 13 item 6: CourseTutor (each course's STs and their sessions: the ST filter's choices
    and the creator's total) follows every write to the rollups: a session moved to another ST,
    one deleted, a status change (no change), a recount; a drift is found and rebuilt, and
    emptying the rollups empties them."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    from creators.models import CourseTutor, SessionRollup

    def counts():
        return {(row.course_id, row.tutor_id): row.sessions for row in CourseTutor.objects.all() if row.sessions}

    theo = make_user("theo", Role.TUTOR)
    assert counts() == {(course.id, tutor.id): 6}
    Session.objects.filter(pk=history["a"].pk).update(tutor=theo)
    assert counts() == {(course.id, tutor.id): 5, (course.id, theo.id): 1}
    Session.objects.filter(pk=history["b"].pk).delete()
    Session.objects.filter(pk=history["c"].pk).update(status=Status.APPROVED)
    assert counts() == {(course.id, tutor.id): 4, (course.id, theo.id): 1}
    assert [(p.name, n) for p, n in selectors.tutors_with_sessions(creator)] == [("Theo", 1), ("Tia", 4)]
    assert rollups.differences() == []

    CourseTutor.objects.filter(tutor=tutor).update(sessions=99)  # drift by hand
    assert rollups.differences() == [(course.id, tutor.id, "course_tutors", 99, 4)]
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("check_rollups")
    assert (f"course {course.id} tutor {tutor.id}: 99 sessions in creators_coursetutor vs 4 in the rollups"
            in capsys.readouterr().err)
    call_command("check_rollups", "--rebuild")
    assert rollups.differences() == [] and counts() == {(course.id, tutor.id): 4, (course.id, theo.id): 1}

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {SessionRollup._meta.db_table}")
    assert counts() == {}


def test_the_course_students_follow_the_sessions(history, creator, course, student, tutor, outsider, make_session,
                                                 capsys):
    """Issue 13 item 6: CourseStudent (each course's students and their sessions: what a
    student-name search starts from) follows every write to the sessions: inserts one by one and in
    bulk, a session moved to another student or course or out of every course, a status change (no
    change), a delete; a drift is found and rebuilt, and emptying the sessions empties them."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    from creators.models import CourseStudent

    def counts():
        return {(row.course_id, row.student_id): row.sessions for row in CourseStudent.objects.all() if row.sessions}

    sia = make_user("sia", Role.STUDENT)
    geometry = Course.objects.create(creator=creator, title="Geometry")
    theirs = Course.objects.create(creator=outsider, title="Other")
    assert counts() == {(course.id, student.id): 6}
    make_session(start=NOW - timedelta(days=8), course=theirs)
    make_session(start=NOW - timedelta(days=9), course=None)  # nobody's: not counted
    Session.objects.bulk_create([Session(tutor=tutor, student=sia, course=geometry, status=Status.SCHEDULED,
                                         scheduled_start=NOW + timedelta(days=10 + i),
                                         scheduled_end=NOW + timedelta(days=10 + i, hours=1)) for i in range(3)])
    assert counts() == {(course.id, student.id): 6, (theirs.id, student.id): 1, (geometry.id, sia.id): 3}
    Session.objects.filter(pk=history["a"].pk).update(student=sia)
    Session.objects.filter(pk=history["b"].pk).update(course=geometry)
    Session.objects.filter(pk=history["c"].pk).update(course=None)
    assert counts() == {(course.id, student.id): 3, (course.id, sia.id): 1, (geometry.id, student.id): 1,
                        (theirs.id, student.id): 1, (geometry.id, sia.id): 3}
    Session.objects.filter(course=geometry).update(status=Status.CANCELLED_BY_TUTOR)  # no pair changes
    Session.objects.filter(pk=history["a"].pk).delete()
    Session.objects.filter(course=None).update(course=theirs)
    expected = {(course.id, student.id): 3, (geometry.id, student.id): 1, (theirs.id, student.id): 3,
                (geometry.id, sia.id): 3}
    assert counts() == expected and rollups.differences() == []

    CourseStudent.objects.filter(course=course, student=student).update(sessions=99)  # drift by hand
    CourseStudent.objects.filter(course=geometry, student=sia).delete()
    assert sorted(rollups.differences()) == sorted([(course.id, student.id, "course_students", 99, 3),
                                                    (geometry.id, sia.id, "course_students", None, 3)])
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("check_rollups")
    assert (f"course {course.id} student {student.id}: 99 sessions in creators_coursestudent vs 3 in the sessions"
            in capsys.readouterr().err)
    call_command("check_rollups", "--rebuild")
    assert rollups.differences() == [] and counts() == expected

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending deferred FK checks first
        cursor.execute(f"TRUNCATE {rollups.SESSION} CASCADE")
    assert counts() == {} and rollups.differences() == []


def test_the_creator_tutors_follow_the_course_tutors_the_courses_and_the_people(
        history, creator, course, tutor, outsider, make_session, capsys):
    """Issue 13 item 6: CreatorTutor (each creator's STs with their names and sessions: the ST
    filter's choices, the creator's total and the API's ST list, in one index read) follows
    sessions in a second course, a session moved to another ST, one deleted, a course given to
    another creator, a tutor's new name and avatar; a drift is found and rebuilt, and emptying
    the course tutors empties them."""
    from django.core.management import CommandError, call_command
    from django.db import connection

    from creators.models import CreatorTutor

    def rows():
        return {(r.creator_id, r.tutor_id): (r.name, r.avatar_url, r.sessions)
                for r in CreatorTutor.objects.all() if r.sessions}

    theo = make_user("theo", Role.TUTOR)
    geometry = Course.objects.create(creator=creator, title="Geometry")
    assert rows() == {(creator.id, tutor.id): ("Tia", "", 6)}
    make_session(start=NOW + timedelta(days=3), course=geometry)
    make_session(start=NOW + timedelta(days=4), course=geometry, tutor=theo)
    Session.objects.filter(pk=history["a"].pk).update(tutor=theo)
    Session.objects.filter(pk=history["b"].pk).delete()
    assert rows() == {(creator.id, tutor.id): ("Tia", "", 5), (creator.id, theo.id): ("Theo", "", 2)}
    assert [(p.name, n) for p, n in selectors.tutors_with_sessions(creator)] == [("Theo", 2), ("Tia", 5)]

    Course.objects.filter(pk=geometry.pk).update(creator=outsider)  # Geometry's sessions go with it
    assert rows() == {(creator.id, tutor.id): ("Tia", "", 4), (creator.id, theo.id): ("Theo", "", 1),
                      (outsider.id, tutor.id): ("Tia", "", 1), (outsider.id, theo.id): ("Theo", "", 1)}
    theo.name, theo.avatar_url = "Aaron", "https://example.test/a.png"
    theo.save()  # a new name re-sorts the list
    assert [(p.name, p.avatar_url, n) for p, n in selectors.tutors_with_sessions(creator)] == [
        ("Aaron", "https://example.test/a.png", 1), ("Tia", "", 4)]
    assert rows()[(outsider.id, theo.id)] == ("Aaron", "https://example.test/a.png", 1)
    assert rollups.differences() == []

    CreatorTutor.objects.filter(creator=creator, tutor=tutor).update(name="Old name")  # drift by hand
    assert rollups.differences() == [(creator.id, tutor.id, "creator_tutors", "Old name: 4", "Tia: 4")]
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("check_rollups")
    assert (f"creator {creator.id} tutor {tutor.id}: Old name: 4 in creators_creatortutor vs Tia: 4 from the "
            "course tutors and the people" in capsys.readouterr().err)
    call_command("check_rollups", "--rebuild")
    assert rollups.differences() == [] and rows()[(creator.id, tutor.id)] == ("Tia", "", 4)

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {rollups.COURSE_TUTORS}")
    assert rows() == {}
