from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions import paging
from sessions.models import Recording, SessionAssessment, Status
from tests.conftest import NOW
from tutoring.models import Course


@pytest.fixture
def rated(rated):
    """The rated session of tests/creators/conftest.py, with a recording."""
    Recording.objects.create(session=rated, provider="p2p", status="available", r2_key="rec/1.webm")
    return rated


def test_the_table_rows_have_the_specs_columns(as_creator, rated):
    """H13 H22: date/time, course, student and ST with avatar, actual duration, status, rating, recording."""
    row = as_creator.get("/api/creators/me/sessions").json()["items"][0]
    assert row["course"]["title"] == "Algebra I" and row["student"]["name"] == "Sam" and row["tutor"]["name"] == "Tia"
    assert (row["actual_duration_minutes"], row["status_group"], row["rating"], row["low_rating"],
            row["has_recording"]) == (55.0, "completed", 2, True, True)


def test_filters_combine(as_creator, rated, make_session, sibling, tutor):
    """H08-H12: course, ST, student by name, status and date range combine."""
    make_session(start=NOW + timedelta(days=2), student=sibling, course=None)
    make_session(start=NOW - timedelta(days=3), status=Status.NO_SHOW)
    get = lambda **q: [r["id"] for r in as_creator.get("/api/creators/me/sessions", q).json()["items"]]  # noqa: E731
    assert len(get()) == 2  # the course-less session is nobody's
    assert get(status="no_show") != get(status="completed") == [rated.id]
    assert get(student="sa") == get() and get(student="zz") == []
    assert get(st=tutor.id, status="completed", low_rated="true") == [rated.id]
    assert get(**{"from": (NOW - timedelta(days=2)).isoformat()}) == [rated.id]


def test_paging_with_a_cursor_is_newest_first(as_creator, make_session):
    made = [make_session(start=NOW - timedelta(days=1, hours=2 * i)).id for i in range(5)]
    first = as_creator.get("/api/creators/me/sessions", {"limit": 3}).json()
    rest = as_creator.get("/api/creators/me/sessions", {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["items"] + rest["items"]] == made and rest["next_cursor"] is None


def test_the_list_runs_a_constant_number_of_queries(as_creator, make_session, django_assert_max_num_queries):
    for i in range(10):
        make_session(start=NOW - timedelta(days=1, hours=2 * i))
    with django_assert_max_num_queries(4) as ten:
        as_creator.get("/api/creators/me/sessions", {"limit": 100})
    for i in range(10, 100):
        make_session(start=NOW - timedelta(days=1, hours=2 * i))
    with django_assert_max_num_queries(len(ten.captured_queries)):
        assert len(as_creator.get("/api/creators/me/sessions", {"limit": 100}).json()["items"]) == 100


def test_detail_has_both_feedbacks_and_the_dispute(as_creator, rated, tutor, parent, make_session):
    """H14: student and ST feedback, dispute resolution when flagged."""
    from sessions import lifecycle

    SessionAssessment.objects.create(session=rated, author=tutor, author_role="tutor", rating=4, comment="Good focus")
    body = as_creator.get(f"/api/creators/me/sessions/{rated.id}").json()
    assert body["student_feedback"]["comment"] == "Too fast" and body["tutor_feedback"]["rating"] == 4
    assert body["dispute"] is None
    start = NOW - timedelta(days=2)
    d = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                     checked_out_at=start + timedelta(hours=1))
    lifecycle.dispute(d, by=parent, reason="The tutor left early.", now=NOW)
    assert as_creator.get(f"/api/creators/me/sessions/{d.id}").json()["dispute"]["reason"] == "The tutor left early."


def test_stats_header_and_metrics(as_creator, rated, make_session):
    """H06 H16: "X total sessions, Y this week" and the metrics, per ST too."""
    make_session(start=NOW + timedelta(days=1))           # this week (Monday 16 Nov to Sunday 22 Nov)
    make_session(start=NOW + timedelta(days=8))           # next week; `rated` was last Sunday
    body = as_creator.get("/api/creators/me/sessions/stats").json()
    assert (body["total"], body["this_week"], body["average_rating"]) == (3, 1, 2.0)
    assert body["by_st"][0]["tutor"]["name"] == "Tia"


def test_upcoming_calendar_lists_scheduled_sessions(as_creator, make_session, rated):
    """H15: scheduled sessions only, soonest first."""
    later, sooner = make_session(start=NOW + timedelta(days=9)), make_session(start=NOW + timedelta(days=2))
    assert [r["id"] for r in as_creator.get("/api/creators/me/sessions/upcoming").json()] == [sooner.id, later.id]


def test_the_calendar_and_the_upcoming_list_read_one_selection(as_creator, creator, make_session):
    """H15: the sessions still scheduled or in progress, of the creator's courses, starting in
    [from, to), soonest first: selectors.scheduled_between, which the page's calendar reads too."""
    from creators import selectors

    start, end = NOW + timedelta(days=1), NOW + timedelta(days=3)
    later = make_session(start=start + timedelta(hours=5), status=Status.CHECKED_IN)
    first = make_session(start=start)
    make_session(start=start - timedelta(hours=1, seconds=1))                # before the range
    make_session(start=end)                                                  # the end is not in it
    make_session(start=start + timedelta(hours=1), status=Status.CANCELLED_BY_PARENT)
    make_session(start=start + timedelta(hours=2), course=None)              # nobody's
    assert list(selectors.scheduled_between(creator, start, end)) == [first, later]
    listed = as_creator.get("/api/creators/me/sessions/upcoming", {"from": start.isoformat(), "to": end.isoformat()})
    assert [r["id"] for r in listed.json()] == [first.id, later.id]


def test_courses_and_student_teachers_for_the_filters(as_creator, rated, creator, outsider):
    Course.objects.create(creator=outsider, title="Not mine")
    assert [c["title"] for c in as_creator.get("/api/creators/me/courses").json()] == ["Algebra I"]
    assert [t["name"] for t in as_creator.get("/api/creators/me/student-teachers").json()] == ["Tia"]


@pytest.mark.parametrize("who", ["parent", "tutor", "outsider"])
def test_everyone_else_gets_404(client, request, rated, who):
    """H01 H22: another creator (Otto is one), a tutor, a parent: 404 on every creator call."""
    client.force_login(request.getfixturevalue(who))
    for url in ["/api/creators/me/sessions", f"/api/creators/me/sessions/{rated.id}",
                "/api/creators/me/sessions/upcoming", "/api/creators/me/sessions/stats",
                "/api/creators/me/courses", "/api/creators/me/student-teachers"]:
        r = client.get(url)
        if who == "outsider" and not url.endswith(str(rated.id)):
            # Otto is a creator too: his own view, with nothing of Cleo's in it
            assert r.status_code == 200 and "Algebra I" not in r.text and "Tia" not in r.text, url
        else:
            assert r.status_code == 404, url


def test_the_tutors_own_views(client, tutor, rated, parent):
    """H24: GET /api/me/st-sessions and /api/me/st-analytics/sessions."""
    client.force_login(tutor)
    assert [r["id"] for r in client.get("/api/me/st-sessions").json()["items"]] == [rated.id]
    assert client.get("/api/me/st-analytics/sessions").json()["average_duration_minutes"] == 55.0
    client.force_login(parent)
    assert client.get("/api/me/st-sessions").status_code == 404


def test_a_student_name_search_reads_the_rows_the_filters_define(as_creator, creator, course, student, tutor,
                                                                  outsider, make_session):
    """Issue 13 item 6: the name search starts from the creator's (course, student) pairs
    (creators.CourseStudent), and gives exactly the rows, in the order and pages, that the filters
    over the creator's sessions give: combined with course, ST, status, dates, the low-rating flag
    and one student; a name with LIKE's wildcards in it; never another creator's course, even one
    asked for by id. Both are compared with the straightforward query too (the filters over the
    creator's sessions, ordered newest first)."""
    from creators import selectors
    from creators.selectors import Filters
    from tests.conftest import make_user
    from tutoring.models import Role, User

    samantha, rosa = make_user("samantha", Role.STUDENT), make_user("rosa", Role.STUDENT)
    User.objects.filter(pk=rosa.pk).update(name="Rosa 100%_Sa")
    geometry = Course.objects.create(creator=creator, title="Geometry")
    theirs = Course.objects.create(creator=outsider, title="Other")
    theo = make_user("theo", Role.TUTOR)
    statuses = list(Status.values)
    for i in range(36):
        s = make_session(start=NOW - timedelta(days=i % 9, hours=i), status=statuses[i % len(statuses)],
                         student=(student, samantha, rosa)[i % 3], tutor=(tutor, theo)[i % 2],
                         course=(course, geometry, theirs, None)[i % 4])
        if i % 5 == 0:
            SessionAssessment.objects.create(session=s, author=s.student, author_role="student", rating=1 + i % 5)
    mine = [course.id, geometry.id]
    # three letters or more start from the pairs; shorter terms walk each course (both compared)
    searches = [Filters(student=name) for name in ("sam", "SAM", "samantha", "osa", "100%_", "%_s", "0%_", "zzz",
                                                   "sa", "a", "%", "_", "zz", "o")]
    combined = [Filters(student="sam", course_id=geometry.id), Filters(student="sam", tutor_id=theo.id),
                Filters(student="sam", bucket="completed"), Filters(student="osa", low_rated=True),
                Filters(student="sam", start=NOW - timedelta(days=5), end=NOW - timedelta(days=1)),
                Filters(student="sam", student_id=samantha.id), Filters(student="sam", course_id=theirs.id)]
    for f in searches + combined:
        for course_ids in ([f.course_id] if f.course_id else mine, [*mine, theirs.id]):
            expected = selectors.newest_rows(f.apply(selectors.creator_sessions(creator)), course_ids=course_ids,
                                             cursor=None, limit=100)
            assert selectors.history_rows(creator, f, course_ids=course_ids, cursor=None, limit=100) == expected, f
            # and the straightforward query: the filters over the creator's sessions, newest first
            plain = f.apply(selectors.creator_sessions(creator)).order_by("-scheduled_start", "-pk")
            assert [row.id for row in expected] == list(plain.values_list("pk", flat=True)), f
            paged, cursor = [], None
            while True:  # two rows a page, through the cursors
                rows, cursor = paging.cut(selectors.history_rows(creator, f, course_ids=course_ids, cursor=cursor,
                                                                 limit=2), 2)
                paged += rows
                if cursor is None:
                    break
            assert paged == expected, f
    for name in ("samantha", "100%_"):  # one student each: i % 12 in (1, 4), then (5, 8)
        assert len(selectors.history_rows(creator, Filters(student=name), course_ids=mine, cursor=None, limit=100)) == 6
    assert all(row.course.id in mine for row in selectors.history_rows(creator, Filters(student="a"),
                                                                       course_ids=[*mine, theirs.id], cursor=None,
                                                                       limit=100))
    api = as_creator.get("/api/creators/me/sessions", {"student": "sam", "limit": 100}).json()["items"]
    assert [r["id"] for r in api] == [r.id for r in selectors.history_rows(creator, Filters(student="sam"),
                                                                           course_ids=mine, cursor=None, limit=100)]
    for term, from_pairs in (("sam", True), ("osa", True), ("sa", False), ("a", False)):
        with CaptureQueriesContext(connection) as ran:
            selectors.history_rows(creator, Filters(student=term), course_ids=mine, cursor=None, limit=25)
        assert any("creators_coursestudent" in q["sql"] for q in ran.captured_queries) is from_pairs, term


def test_a_name_in_more_pairs_than_a_page_reads_from_the_pairs_newest_rows(creator, course, make_session):
    """Issue 13 item 6: when the name's (course, student) pairs are more than a page's rows, each
    pair's newest session is read first and the (limit + 1)-th newest of those bounds what every
    pair reads (selectors._lateral_page, bounded). The pages are exactly the plain query's, page by
    page through the cursors, for several page sizes and filters: one pair holding a whole page of
    the newest rows, pairs interleaved, and two pairs' sessions at the same start as the bound."""
    from creators import selectors
    from creators.selectors import Filters
    from tests.conftest import make_user
    from tutoring.models import Role

    geometry = Course.objects.create(creator=creator, title="Geometry")
    students = [make_user(f"quinn{i}", Role.STUDENT) for i in range(6)]
    tutors = [make_user(f"tutor{i}", Role.TUTOR) for i in range(6)]
    statuses = [Status.APPROVED, Status.CANCELLED_BY_PARENT, Status.NO_SHOW]
    plan = [(0, course, h) for h in range(1, 9)]  # the newest eight: one pair's
    plan += [(i, c, 20 + 2 * i + 12 * k + (1 if c is geometry else 0))
             for i in range(1, 6) for c in (course, geometry) for k in range(3)]
    plan += [(1, course, 100), (2, geometry, 100), (3, course, 100)]  # the same start in three pairs
    for n, (i, c, hours) in enumerate(plan):
        make_session(start=NOW - timedelta(hours=hours), minutes=30, status=statuses[n % 3],
                     student=students[i], tutor=tutors[i], course=c)
    mine = [course.id, geometry.id]
    for f in (Filters(student="quinn"), Filters(student="quinn", bucket="completed"),
              Filters(student="quinn", course_id=geometry.id),
              Filters(student="quinn", tutor_id=tutors[2].id),
              Filters(student="quinn", start=NOW - timedelta(hours=60), end=NOW - timedelta(hours=5))):
        plain = list(f.apply(selectors.creator_sessions(creator)).order_by("-scheduled_start", "-pk")
                     .values_list("pk", flat=True))
        assert plain, f
        for limit in (1, 2, 3, 5):
            paged, cursor = [], None
            while True:
                rows, cursor = paging.cut(selectors.history_rows(creator, f, course_ids=mine, cursor=cursor,
                                                                 limit=limit), limit)
                paged += [row.id for row in rows]
                if cursor is None:
                    break
            assert paged == plain, (f, limit)
    with CaptureQueriesContext(connection) as ran:
        selectors.history_rows(creator, Filters(student="quinn"), course_ids=mine, cursor=None, limit=3)
    assert "bound AS" in ran.captured_queries[-1]["sql"]


def test_the_rows_statement_is_planned_once_per_shape_and_is_the_orms(creator, course, tutor, student,
                                                                     make_session):
    """Issue 13 item 6: the history's rows statement is built through the ORM once per shape of its
    arguments (creators.selectors._filtered_rows, with tutoring.prepared.plan); for every
    combination of the filters, a name search (from the pairs), a cursor and the courses named or
    not, it is the statement the ORM builds for those values, SQL and parameters, and a plan was
    found for it (none is rebuilt each time); and it reads the same rows."""
    import itertools

    from creators import selectors
    from creators.selectors import Filters

    geometry = Course.objects.create(creator=creator, title="Geometry")
    for i in range(6):
        make_session(start=NOW - timedelta(days=i), status=(Status.APPROVED, Status.NO_SHOW)[i % 2],
                     course=(course, geometry)[i % 3 == 0])
    mine = [course.id, geometry.id]
    selectors._rows_plan.cache_clear()
    cursor_ = f"{(NOW - timedelta(days=2)).isoformat()}_999999"
    combos = itertools.product(("", "sam", "5%_"), (None, geometry.id), (None, tutor.id), (None, student.id),
                               ("", "completed"), (None, NOW - timedelta(days=4)),
                               (None, NOW - timedelta(days=1)), (False, True), (None, cursor_), (mine, []))
    for name, course_id, tutor_id, student_id, bucket, start, end, low, cursor, ids in combos:
        if name and not ids:
            continue  # a name search without courses reads no pairs (history_rows)
        f = Filters(student=name, course_id=course_id, tutor_id=tutor_id, student_id=student_id,
                    bucket=bucket, start=start, end=end, low_rated=low)
        ids = [course_id] if course_id and ids else ids
        orm = selectors._statement(creator.pk, f, ids, cursor, 3)
        assert selectors._filtered_rows(creator.pk, f, ids, cursor, 3) == orm, f
        assert selectors._rows_plan(selectors._shape(f, cursor, ids, 3)) is not None, f
    info = selectors._rows_plan.cache_info()
    assert info.currsize == info.misses == 2 ** 9 + 2 ** 8, info  # one plan per shape, each made once
    for f in (Filters(course_id=0), Filters(tutor_id=0, student_id=0)):  # as Filters.apply: 0 filters nothing
        orm = selectors._statement(creator.pk, f, mine, None, 3)
        assert selectors._filtered_rows(creator.pk, f, mine, None, 3) == orm, f
    for name in ("sam", "5%_", "a\\b", "O'Brien", '"x"', "Łukasz Żółć", "%", "_", "\\%"):
        assert selectors._named(name) == (selectors._named_sql(), (selectors._like_pattern(name),)), name
    for f in (Filters(bucket="completed"), Filters(student="sam", bucket="completed")):
        rows = selectors.history_rows(creator, f, cursor=None, limit=25)
        plain = f.apply(selectors.creator_sessions(creator)).order_by("-scheduled_start", "-pk")
        assert [r.id for r in rows] == list(plain.values_list("pk", flat=True)), f
        assert rows, f


def test_the_rows_statement_keeps_a_generic_plan_whatever_the_courses(creator, course, make_session):
    """Issue 13 item 6: the history's rows statement does not show the planner the creator's course
    ids (creators.selectors._COURSE_IDS), so its plan is the same for any ids and PostgreSQL keeps
    the prepared statement's generic plan after its five custom ones, instead of planning it for
    every request (with the ids seen, every run was planned: 0 generic plans). Run by the page as
    a creator of two courses and of one, as requests do."""
    from creators import selectors
    from creators.selectors import Filters

    geometry = Course.objects.create(creator=creator, title="Geometry")
    for i in range(4):
        make_session(start=NOW - timedelta(days=i), course=(course, geometry)[i % 2])
    for ids in ([course.id, geometry.id], [geometry.id]) * 8:
        assert selectors.history_rows(creator, Filters(), cursor=None, limit=25, course_ids=ids)
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                       "WHERE NOT from_sql AND strpos(statement, 'CROSS JOIN LATERAL') > 0")
        (generic, custom), = cursor.fetchall()
    assert custom == 5 and generic == 16 - 5 - 5, (generic, custom)  # prepared at the 6th run
