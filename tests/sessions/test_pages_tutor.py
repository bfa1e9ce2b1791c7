"""The tutor's sessions page (/teach/) and the ad-hoc batch form (/teach/adhoc/)."""

from datetime import timedelta

import pytest

from sessions import lifecycle
from sessions.errors import Refused
from sessions.models import Session, SessionEvent, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Enrollment, Match, Role


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def tia(client, tutor):
    client.force_login(tutor)
    return client


def test_it_splits_today_upcoming_and_past(tia, make_session):
    make_session(start=NOW + timedelta(hours=3))
    make_session(start=NOW + timedelta(days=2))
    make_session(start=NOW - timedelta(days=2), status=Status.CANCELLED_BY_PARENT)
    today = tia.get("/teach/").content.decode()
    assert "Mon 16 Nov 13:00 (UTC)" in today and "Wed 18 Nov" not in today
    upcoming = tia.get("/teach/?tab=upcoming").content.decode()
    assert "Wed 18 Nov 10:00 (UTC)" in upcoming and "Mon 16 Nov" not in upcoming
    past = tia.get("/teach/?tab=past").content.decode()
    assert "Sat 14 Nov 10:00 (UTC)" in past and "Cancelled by parent" in past


def test_a_lesson_across_midnight_is_checked_out_from_today(tia, make_session, time_machine):
    """L17: a session checked in at 23:30 is still on Today at 00:20, with its Check out, and not
    under Past until it is checked out."""
    start = NOW.replace(hour=23, minute=30)
    s = make_session(start=start, status=Status.CHECKED_IN, checked_in_at=start)
    time_machine.move_to(start + timedelta(minutes=50), tick=False)
    today = tia.get("/teach/").content.decode()
    assert f"/sessions/{s.id}/check-out/" in today
    assert f"session-{s.id}" not in tia.get("/teach/?tab=past").content.decode()
    lifecycle.check_out(s, by=s.tutor)
    assert f"session-{s.id}" not in tia.get("/teach/").content.decode()
    assert f"session-{s.id}" in tia.get("/teach/?tab=past").content.decode()


def test_it_says_when_check_in_opens(tia, make_session):
    """L13: the missing check-in button is explained with the exact minutes."""
    s = make_session(start=NOW + timedelta(minutes=42))
    body = tia.get("/teach/").content.decode()
    assert "Check-in opens in 12 minutes." in body
    assert f"/sessions/{s.id}/check-in/" not in body


def test_it_offers_check_in_from_30_minutes_before(tia, make_session):
    """L11: 30 minutes before the start the button is there."""
    s = make_session(start=NOW + timedelta(minutes=30))
    assert f"/sessions/{s.id}/check-in/" in tia.get("/teach/").content.decode()


def test_check_in_then_check_out_leads_to_the_notes_form(tia, make_session):
    """L12, L17, L20: check in, check out, then straight on to the notes (placeholder)."""
    s = make_session(start=NOW - timedelta(minutes=40))
    r = tia.post(f"/sessions/{s.id}/check-in/", {"next": "/teach/"})
    assert r.status_code == 303 and r["Location"] == f"/teach/#session-{s.id}"
    s.refresh_from_db()
    assert s.status == Status.CHECKED_IN and s.checked_in_at == NOW
    body = tia.get("/teach/").content.decode()
    assert f"/sessions/{s.id}/check-out/" in body and "Student did not attend" in body
    r = tia.post(f"/sessions/{s.id}/check-out/", {"next": "/teach/"})
    assert r.status_code == 303 and r["Location"] == f"/sessions/{s.id}/notes/"
    s.refresh_from_db()
    assert s.status == Status.AWAITING_APPROVAL_PARENT
    assert "Awaiting acknowledgement" in tia.get("/teach/").content.decode()
    assert tia.get(r["Location"]).status_code == 200


def test_check_out_with_student_absent_records_a_no_show(tia, make_session):
    s = make_session(start=NOW - timedelta(minutes=50), status=Status.CHECKED_IN, checked_in_at=NOW)
    tia.post(f"/sessions/{s.id}/check-out/", {"student_absent": "1"})
    s.refresh_from_db()
    assert s.status == Status.NO_SHOW and s.no_show_party == "student"


def test_the_cancel_panel_shows_the_tutors_reasons_penalty_and_waiver(tia, make_session, reasons, policies,
                                                                      settings):
    """L31, L36, L37: the tutor's reason picker, the current penalty band and the waiver reminder."""
    session = make_session(start=NOW + timedelta(hours=30))
    body = tia.get(f"/sessions/{session.id}/cancel/?as_role=tutor").content.decode()
    assert "Reliability strike" in body and "Late cancellations count against you." in body
    assert settings.COORDINATOR_WAIVER_REMINDER in body
    assert f'<option value="{reasons[("tutor", "cancel")].id}">' in body
    assert f'<option value="{reasons[("parent", "cancel")].id}">' not in body
    assert f'name="policy_id" value="{policies["tutor_late"].id}"' in body
    assert 'name="confirm"' in body


def test_the_tutor_cancels_after_confirming(tia, make_session, reasons, policies):
    """L08, L36, L37: cancelled_by_tutor with the reason, once the terms shown are confirmed."""
    session = make_session(start=NOW + timedelta(hours=30))
    r = tia.post(f"/sessions/{session.id}/cancel/", {
        "reason_id": reasons[("tutor", "cancel")].id, "policy_id": policies["tutor_late"].id, "confirm": "1",
        "as_role": "tutor", "next": "/teach/?tab=upcoming"})
    assert r.status_code == 303 and r["Location"] == f"/teach/?tab=upcoming#session-{session.id}"
    session.refresh_from_db()
    assert session.status == Status.CANCELLED_BY_TUTOR
    assert SessionEvent.objects.get(session=session, kind="cancel").channel == "web"


def test_the_tutor_requests_a_reschedule_and_the_end_is_derived(tia, session, reasons):
    """L35, L36: a new start and a reason; the server keeps the hour."""
    r = tia.post(f"/sessions/{session.id}/reschedule/", {
        "proposed_start": "2026-11-19T15:30", "reason_id": reasons[("tutor", "reschedule")].id,
        "as_role": "tutor"})
    assert r.status_code == 303
    proposal = session.reschedule_threads.get().proposals.get()
    assert proposal.proposed_start.isoformat() == "2026-11-19T15:30:00+00:00"
    assert proposal.proposed_end - proposal.proposed_start == timedelta(hours=1)
    body = tia.get("/teach/?tab=upcoming").content.decode()
    assert "Proposed by you on Mon 16 Nov: Thu 19 Nov 15:30–16:30" in body
    assert "Waiting for the parent&#x27;s answer." in body
    assert f"/sessions/{session.id}/reschedule/withdraw/" in body
    assert f"/sessions/{session.id}/reschedule/accept/" not in body


def test_the_tutor_answers_the_parents_proposal_first(tia, session, parent, reasons):
    """L39: a parent's proposal is under Needs your answer with accept, decline and counter."""
    proposal = lifecycle.propose_reschedule(session, by=parent, proposed_start=NOW + timedelta(days=3),
                                            reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    body = tia.get("/teach/").content.decode()
    assert "Needs your answer" in body and "Proposed by Pat on Mon 16 Nov" in body
    r = tia.post(f"/sessions/{session.id}/reschedule/accept/", {"proposal_id": proposal.id})
    assert r.status_code == 303
    session.refresh_from_db()
    assert session.scheduled_start == NOW + timedelta(days=3)


def test_it_shows_the_lockout_within_4_hours(tia, make_session):
    """L32: no cancel or reschedule within 4 hours, and the reason is on the card."""
    s = make_session(start=NOW + timedelta(hours=4))
    body = tia.get("/teach/").content.decode()
    assert "Online changes close 4 hours before the start: message your coordinator." in body
    assert f"/sessions/{s.id}/cancel/" not in body


def test_an_open_request_explains_the_blocked_check_in(tia, make_session, parent, reasons, time_machine):
    """L16: check-in is blocked while a reschedule request is open, and the card says so once
    check-in would otherwise be open (not before: then the card says when it opens)."""
    s = make_session(start=NOW + timedelta(hours=5))
    lifecycle.propose_reschedule(s, by=parent, proposed_start=NOW + timedelta(days=3),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    blocked = "Check-in is blocked while a reschedule request is open"
    assert blocked not in tia.get("/teach/").content.decode()  # 5 hours before: check-in is not open yet
    time_machine.move_to(s.scheduled_start - timedelta(minutes=20), tick=False)
    body = tia.get("/teach/").content.decode()
    assert blocked in body
    assert f"/sessions/{s.id}/check-in/" not in body


# --- ad-hoc -----------------------------------------------------------------------------------


def _rows(*rows, total=3):
    data = {"form-TOTAL_FORMS": str(total), "form-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        data |= {f"form-{i}-{k}": v for k, v in row.items()}
    return data


@pytest.fixture
def course_match(tutor, student, course):
    """Tia teaches Sam in Algebra I (besides the match without a course that `tutor` makes)."""
    return Match.objects.create(tutor=tutor, student=student, course=course)


def test_the_adhoc_form_lists_matched_students(tia, student, course, course_match):
    body = tia.get("/teach/adhoc/").content.decode()
    assert f'<option value="{student.id}">Sam</option>' in body and "Algebra I" in body
    assert body.count("<fieldset") == 3
    assert tia.get("/teach/adhoc/?rows=6").content.decode().count("<fieldset") == 6


@pytest.mark.parametrize("rows, shown", [("0", 1), ("99", 50), ("-4", 3), (" 5", 3), ("\u0663", 3), ("1e999", 3),
                                         ("9" * 5000, 3), ("", 3)])
def test_the_adhoc_forms_row_count_is_read_as_a_number_and_bounded(tia, rows, shown):
    """?rows= is read as tutoring.input reads numbers (ASCII digits only: not " 5", an Arabic-Indic
    three, an exponent or 5,000 digits) and kept within 1..50; anything else shows the 3 rows."""
    response = tia.get("/teach/adhoc/", {"rows": rows})
    assert response.status_code == 200
    assert response.content.decode().count("<fieldset") == shown


def test_it_logs_several_adhoc_sessions_at_once(tia, student, course, course_match):
    """L30: each row becomes an add-on session waiting for the parent; empty rows are skipped."""
    r = tia.post("/teach/adhoc/", _rows(
        {"student": student.id, "course": course.id, "start": "2026-11-14T09:00", "end": "2026-11-14T10:00"},
        {"student": student.id, "start": "2026-11-15T09:00", "end": "2026-11-15T10:30", "note": "Exam prep"},
    ))
    assert r.status_code == 303 and r["Location"] == "/teach/?tab=past"
    logged = Session.objects.filter(billed_as_addon=True).order_by("scheduled_start")
    assert [s.status for s in logged] == [Status.AWAITING_APPROVAL_PARENT] * 2
    assert logged[0].course_id == course.id and logged[1].course_id is None


def test_a_bad_row_saves_nothing_and_keeps_every_rows_input(tia, student):
    """L30: per-row errors; the valid rows keep their input; all or none."""
    r = tia.post("/teach/adhoc/", _rows(
        {"student": student.id, "start": "2026-11-14T09:00", "end": "2026-11-14T10:00", "note": "Keep me"},
        {"student": student.id, "start": "2026-11-17T09:00", "end": "2026-11-17T10:00"},
    ))
    assert r.status_code == 422
    body = r.content.decode()
    assert "Log a session after it has ended." in body and 'id="row-2-error"' in body
    assert 'id="row-1-error"' not in body
    assert 'value="2026-11-14T09:00"' in body and 'value="Keep me"' in body
    assert 'value="2026-11-17T09:00"' in body
    assert not Session.objects.exists()


def test_a_malformed_row_is_flagged_before_anything_is_saved(tia, student):
    r = tia.post("/teach/adhoc/", _rows({"student": student.id, "start": "yesterday", "end": ""}))
    assert r.status_code == 422
    body = r.content.decode()
    assert "Enter a date and time" in body and "Required." in body
    assert not Session.objects.exists()


def test_an_unmatched_student_cannot_be_chosen(tia, sibling):
    r = tia.post("/teach/adhoc/", _rows(
        {"student": sibling.id, "start": "2026-11-14T09:00", "end": "2026-11-14T10:00"}))
    assert r.status_code == 422 and not Session.objects.exists()


def test_the_adhoc_form_offers_only_the_courses_of_the_tutors_own_active_matches(tia, tutor, student, course,
                                                                                   course_match):
    """Issue 11.1: another creator's course the student is enrolled in is not offered, nor a course
    of a match that ended; posting it anyway is refused at the row and saves nothing."""
    elsewhere = Course.objects.create(creator=make_user("other-creator", Role.CREATOR), title="Geometry II")
    Enrollment.objects.create(course=elsewhere, student=student)
    ended = Course.objects.create(creator=course.creator, title="Physics")
    Enrollment.objects.create(course=ended, student=student)
    Match.objects.create(tutor=tutor, student=student, course=ended, active=False)
    body = tia.get("/teach/adhoc/").content.decode()
    assert "Algebra I" in body and "Geometry II" not in body and "Physics" not in body
    for foreign in (elsewhere, ended):
        r = tia.post("/teach/adhoc/", _rows({"student": student.id, "course": foreign.id, "start": "2026-11-14T09:00",
                                             "end": "2026-11-14T10:00"}))
        assert r.status_code == 422 and not Session.objects.exists()


def test_a_tutor_matched_only_in_courses_must_choose_one(tia, tutor, student, course, course_match):
    """Issue 11.1: with no match without a course, "No course" is not offered and a row without a
    course is flagged at the field; a student matched in two courses is listed once."""
    Match.objects.filter(tutor=tutor, course__isnull=True).delete()
    second = Course.objects.create(creator=course.creator, title="Algebra II")
    Enrollment.objects.create(course=second, student=student)
    Match.objects.create(tutor=tutor, student=student, course=second)
    body = tia.get("/teach/adhoc/").content.decode()
    assert "No course" not in body and body.count(f'<option value="{student.id}">Sam</option>') == 3  # 3 rows
    assert "Algebra I<" in body and "Algebra II<" in body
    r = tia.post("/teach/adhoc/", _rows({"student": student.id, "start": "2026-11-14T09:00", "end": "2026-11-14T10:00"}))
    assert r.status_code == 422 and not Session.objects.exists()
    with pytest.raises(Refused) as exc:
        lifecycle.log_adhoc_sessions(by=tutor, rows=[{"student_id": student.id, "start": NOW - timedelta(hours=3),
                                                      "end": NOW - timedelta(hours=2)}], now=NOW)
    assert exc.value.errors[0]["code"] == "course_required"
    r = tia.post("/teach/adhoc/", _rows({"student": student.id, "course": second.id, "start": "2026-11-14T09:00",
                                         "end": "2026-11-14T10:00"}))
    assert r.status_code == 303 and Session.objects.get().course_id == second.id


def test_a_non_tutor_is_refused_adhoc_logging(client, parent, student):
    client.force_login(parent)
    r = client.post("/teach/adhoc/", _rows({"student": student.id, "start": "2026-11-14T09:00",
                                            "end": "2026-11-14T10:00"}))
    assert r.status_code == 403 and not Session.objects.exists()  # the role guard: "This page is for tutors"
    assert "This page is for tutors" in r.content.decode()


@pytest.mark.parametrize("n", [5, 500])
def test_it_runs_the_same_number_of_queries_for_5_or_500_sessions(tia, n, tutor, student, course, parent,
                                                                     reasons, django_assert_max_num_queries):
    """The tutor's tabs query a fixed number of times, whatever the number of sessions."""
    rows = []
    for i in range(n):
        start = NOW + timedelta(minutes=300 + 70 * i) if i % 2 else NOW - timedelta(hours=2 + 2 * i)
        rows.append(Session(tutor=tutor, student=student, course=course, scheduled_start=start,
                            scheduled_end=start + timedelta(hours=1)))
    Session.objects.bulk_create(rows)
    later = Session.objects.filter(scheduled_start__gt=NOW).order_by("scheduled_start").first()
    lifecycle.propose_reschedule(later, by=parent, proposed_start=later.scheduled_start + timedelta(days=400),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    # 12, the notes of each list of cards, the bell; the outcomes and the parents to message (issue 10)
    for tab in ("today", "upcoming", "past"):
        with django_assert_max_num_queries(19):
            assert tia.get(f"/teach/?tab={tab}").status_code == 200
    with django_assert_max_num_queries(8):
        assert tia.get("/teach/adhoc/").status_code == 200


def test_add_a_row_keeps_every_rows_input_and_saves_nothing(tia, student):
    """Works without JavaScript: the form comes back with one more empty row, nothing validated."""
    data = _rows({"student": student.id, "start": "2026-11-14T09:00", "end": "2026-11-14T10:00", "note": "Keep me"})
    r = tia.post("/teach/adhoc/", data | {"add_row": "1"})
    body = r.content.decode()
    assert r.status_code == 200 and body.count("<fieldset") == int(data["form-TOTAL_FORMS"]) + 1
    assert 'value="2026-11-14T09:00"' in body and 'value="Keep me"' in body
    assert f'<option value="{student.id}" selected>Sam</option>' in body
    assert 'role="alert"' not in body and not Session.objects.exists()


def test_with_htmx_check_out_goes_straight_to_the_notes_form(tia, make_session):
    """L20: after check-out the tutor is prompted for notes, with JavaScript too (HX-Redirect)."""
    s = make_session(start=NOW - timedelta(minutes=50), status=Status.CHECKED_IN, checked_in_at=NOW)
    r = tia.post(f"/sessions/{s.id}/check-out/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r["HX-Redirect"] == f"/sessions/{s.id}/notes/"


def test_a_student_absent_check_out_stays_on_the_page(tia, make_session):
    s = make_session(start=NOW - timedelta(minutes=50), status=Status.CHECKED_IN, checked_in_at=NOW)
    r = tia.post(f"/sessions/{s.id}/check-out/", {"student_absent": "1", "next": "/teach/"})
    assert r.status_code == 303 and r["Location"] == f"/teach/#session-{s.id}"
