"""A course's page for its student (/learn/courses/{id}/) and its tutor (/teach/courses/{id}/):
where the Session Room's "Back to Course" leads (spec 002 Outgoing CCNT, R03). The course's title,
its creator and the viewer's own sessions in it (upcoming with Join Session once the room opens,
past with their status), in the viewer's time zone; everyone else gets 404."""

from datetime import timedelta

import pytest

from sessions.models import Session, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Enrollment, Match, Role


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def other_course(creator, student):
    return Course.objects.create(creator=creator, title="Geometry")


def page(client, user, path):
    client.force_login(user)
    response = client.get(path)
    return response, response.content.decode()


def test_the_student_sees_the_course_and_their_sessions_in_it(client, student, course, make_session,
                                                                other_course, sibling):
    """R03: the course content "Back to Course" returns to, in the student's zone."""
    student.time_zone = "America/New_York"
    student.save()
    open_now = make_session(start=NOW + timedelta(minutes=10))
    later = make_session(start=NOW + timedelta(days=1))
    done = make_session(start=NOW - timedelta(days=2), status=Status.APPROVED)
    elsewhere = make_session(start=NOW + timedelta(hours=3), course=other_course)
    not_mine = make_session(start=NOW + timedelta(days=2), student=sibling)
    response, body = page(client, student, f"/learn/courses/{course.id}/")
    assert response.status_code == 200
    assert "<h1>Algebra I</h1>" in body and "Course by Cleo" in body and "times in America/New_York" in body
    split = body.index('id="past-title"')
    upcoming, past = body[body.index('id="upcoming-title"'):split], body[split:]
    assert f'id="session-{open_now.id}"' in upcoming and f'href="/session/{open_now.id}"' in upcoming
    assert ">Join Session<" in upcoming
    assert f'id="session-{later.id}"' in upcoming and f'href="/session/{later.id}"' not in body
    assert "Tue 17 Nov 05:00 (America/New_York)" in upcoming and "Opens at 04:45" in upcoming
    assert f'id="session-{done.id}"' in past and "Acknowledged" in past
    assert f'id="session-{elsewhere.id}"' not in body and f'id="session-{not_mine.id}"' not in body
    assert 'href="/learn/"' in body


def test_the_tutor_sees_the_course_and_their_sessions_in_it(client, tutor, course, make_session,
                                                            other_course):
    """R03: the tutor's way back to the course, with Join Session when the room is open."""
    open_now = make_session(start=NOW + timedelta(minutes=10))
    elsewhere = make_session(start=NOW + timedelta(hours=3), course=other_course)
    someone_elses = make_session(start=NOW + timedelta(days=1), tutor=make_user("tom", Role.TUTOR))
    response, body = page(client, tutor, f"/teach/courses/{course.id}/")
    assert response.status_code == 200 and "<h1>Algebra I</h1>" in body and "Course by Cleo" in body
    assert f'id="session-{open_now.id}"' in body and f'href="/session/{open_now.id}"' in body
    assert f'id="session-{elsewhere.id}"' not in body and f'id="session-{someone_elses.id}"' not in body
    assert "No past sessions in this course yet." in body and 'href="/teach/"' in body


def test_the_tutors_cards_keep_their_actions_and_come_back_here(client, tutor, course, make_session, reasons):
    """The tutor's cards work as on /teach/: Cancel and Reschedule, returning to this page."""
    far = make_session(start=NOW + timedelta(days=3))
    response, body = page(client, tutor, f"/teach/courses/{course.id}/")
    assert f"/sessions/{far.id}/cancel/?as_role=tutor&amp;next=/teach/courses/{course.id}/" in body
    assert f'action="/sessions/{far.id}/reschedule/"' in body


def test_a_tutor_matched_in_the_course_sees_it_before_any_session(client, tutor, student, other_course):
    Match.objects.create(tutor=tutor, student=student, course=other_course)
    response, body = page(client, tutor, f"/teach/courses/{other_course.id}/")
    assert response.status_code == 200 and "No upcoming sessions in this course." in body


def test_an_enrolled_student_sees_it_before_any_session(client, student, other_course):
    Enrollment.objects.create(course=other_course, student=student)
    response, body = page(client, student, f"/learn/courses/{other_course.id}/")
    assert response.status_code == 200 and "<h1>Geometry</h1>" in body
    assert "No upcoming sessions in this course." in body


@pytest.mark.parametrize(("who", "path", "status"), [
    ("outsider", "/teach/courses/{id}/", 404),   # a tutor with nothing in the course
    ("sibling", "/learn/courses/{id}/", 404),    # a student not enrolled, no session in it
    ("student", "/learn/courses/999999/", 404),  # no such course
    ("tutor", "/teach/courses/999999/", 404),
    ("ended_match", "/teach/courses/{id}/", 404),  # a match no longer active, no session
    ("creator", "/learn/courses/{id}/", 403),    # not a student: the role guard's page
    ("parent", "/teach/courses/{id}/", 403),
    ("tutor", "/learn/courses/{id}/", 403),
])
def test_everyone_else_is_refused(client, request, course, session, who, path, status, sibling, outsider):
    if who == "ended_match":
        user = make_user("ted", Role.TUTOR)
        student = request.getfixturevalue("student")
        Match.objects.create(tutor=user, student=student, course=course, active=False)
    else:
        user = request.getfixturevalue(who)
    response, body = page(client, user, path.format(id=course.id))
    assert response.status_code == status and "Algebra I" not in body


def test_a_visitor_who_is_not_signed_in_goes_to_sign_in(client, course):
    for path in (f"/learn/courses/{course.id}/", f"/teach/courses/{course.id}/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("n", [5, 300])
@pytest.mark.parametrize("who", ["student", "tutor"])
def test_it_runs_the_same_number_of_queries_for_5_or_300_sessions(client, request, who, n, tutor, student,
                                                                    course, django_assert_num_queries):
    rows = []
    for i in range(n):
        start = NOW + timedelta(hours=1 + 2 * i) if i % 2 else NOW - timedelta(hours=2 + 2 * i)
        rows.append(Session(tutor=tutor, student=student, course=course, scheduled_start=start,
                            scheduled_end=start + timedelta(hours=1),
                            status=Status.SCHEDULED if i % 2 else Status.APPROVED))
    Session.objects.bulk_create(rows)
    user = request.getfixturevalue(who)
    client.force_login(user)
    path = f"/learn/courses/{course.id}/" if who == "student" else f"/teach/courses/{course.id}/"
    with django_assert_num_queries(QUERIES[who]):
        assert client.get(path).status_code == 200


# the same for any number of sessions: the cards of /learn/ and /teach/, the course and its guard
QUERIES = {"student": 12, "tutor": 18}
