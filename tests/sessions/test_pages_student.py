"""The student's page (/learn/): upcoming lessons with a Join link to the room, then past ones."""

from datetime import timedelta

import pytest

from sessions.models import Session, Status
from tests.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def sam(client, student):
    client.force_login(student)
    return client


def test_a_lesson_whose_room_is_open_has_a_join_link(sam, make_session):
    """R02: Join appears from 15 minutes before the start."""
    s = make_session(start=NOW + timedelta(minutes=15))
    body = sam.get("/learn/").content.decode()
    assert f'href="/session/{s.id}"' in body and ">Join Session<" in body


def test_a_later_lesson_says_when_its_room_opens_instead(sam, make_session):
    """R02: before the room opens, "Opens at 09:45" in the viewer's zone, not a link."""
    s = make_session(start=NOW + timedelta(days=1))
    body = sam.get("/learn/").content.decode()
    assert f'href="/session/{s.id}"' not in body and "Opens at 09:45" in body
    assert "Tue 17 Nov 10:00 (UTC)" in body


def test_a_lesson_in_progress_can_still_be_joined(sam, make_session):
    s = make_session(start=NOW - timedelta(minutes=10), status=Status.CHECKED_IN, checked_in_at=NOW)
    assert f'href="/session/{s.id}"' in sam.get("/learn/").content.decode()


def test_past_and_cancelled_lessons_have_no_join_link(sam, make_session, awaiting):
    cancelled = make_session(start=NOW + timedelta(days=3), status=Status.CANCELLED_BY_PARENT)
    body = sam.get("/learn/").content.decode()
    past = body[body.index('id="past-title"'):]
    assert f'id="session-{awaiting.id}"' in past and f'id="session-{cancelled.id}"' in past
    assert f'href="/session/{awaiting.id}"' not in body and f'href="/session/{cancelled.id}"' not in body


def test_the_student_gets_no_change_controls(sam, session):
    body = sam.get("/learn/").content.decode()
    for action in ("cancel", "reschedule", "check-in", "acknowledge"):
        assert f"/sessions/{session.id}/{action}/" not in body


def test_the_student_sees_only_their_own_lessons(sam, make_session, sibling):
    make_session(start=NOW + timedelta(days=1), student=sibling)
    body = sam.get("/learn/").content.decode()
    assert "Sue with Tia" not in body and "No upcoming lessons." in body


def test_the_student_can_open_a_session_card(sam, make_session):
    session = make_session(start=NOW + timedelta(minutes=5))
    r = sam.get(f"/sessions/{session.id}/")
    assert r.status_code == 200 and f'href="/session/{session.id}"' in r.content.decode()


@pytest.mark.parametrize("n", [5, 500])
def test_it_runs_the_same_number_of_queries_for_5_or_500_sessions(sam, n, tutor, student, course,
                                                                     django_assert_max_num_queries):
    rows = []
    for i in range(n):
        start = NOW + timedelta(hours=1 + 2 * i) if i % 2 else NOW - timedelta(hours=2 + 2 * i)
        rows.append(Session(tutor=tutor, student=student, course=course, scheduled_start=start,
                            scheduled_end=start + timedelta(hours=1),
                            status=Status.SCHEDULED if i % 2 else Status.APPROVED))
    Session.objects.bulk_create(rows)
    with django_assert_max_num_queries(11):  # 9, and the outcomes of each list of cards (issue 10)
        assert sam.get("/learn/").status_code == 200
