"""Issue 11 (hardening), items 1, 3 and 4, and issue 10 item 7: what a hostile probe of the demo
sent, each answered with a clear 4xx in the API's {"detail", "code"} shape (or the page with the
message at the field), never a 500, and nothing changed."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from sessions import lifecycle, rules
from sessions.errors import Refused
from sessions.models import RescheduleThread, Session, SessionEvent, Status
from tests.conftest import NOW, make_user, post_json as post
from tutoring.models import Course, Enrollment, Match, Role

NUL = "Tutor left\x00 early and never came back"
YEAR_9999 = "9999-12-31T23:00:00+00:00"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def snapshot():
    return (list(Session.objects.order_by("pk").values()), SessionEvent.objects.count(),
            list(RescheduleThread.objects.order_by("pk").values()))


@pytest.fixture
def proposal(session, tutor, reasons):
    return lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4),
                                        reason_id=reasons[("tutor", "reschedule")].id, now=NOW)


@pytest.fixture
def disputed(awaiting, parent):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left after twenty minutes.", now=NOW)
    return awaiting


# --- NUL and other control characters (item 3) -------------------------------------------------


def api_nul_cases(session, awaiting, disputed_id, proposal, reasons, policies):
    """(who, url, body) for every free-text field of the API."""
    s = f"/api/sessions/{session.id}"
    return [
        ("parent", f"/api/sessions/{awaiting.id}/dispute", {"reason": NUL}),
        ("parent", f"{s}/reschedule/{proposal.id}/reject", {"reason": NUL}),
        ("parent", f"{s}/reschedule/{proposal.id}/counter",
         {"proposed_start": (NOW + timedelta(days=5)).isoformat(), "note": NUL}),
        ("coordinator", f"/api/sessions/{awaiting.id}/verify", {"reason": NUL}),
        ("coordinator", f"/api/sessions/{disputed_id}/resolve-dispute", {"decision": "void", "reason": NUL}),
        ("tutor", f"{s}/cancel", {"reason_id": reasons[("tutor", "cancel")].id,
                                  "policy_id": policies["tutor_late"].id, "note": NUL}),
        ("adhoc", "/api/sessions/adhoc", {"sessions": [{
            "student_id": "STUDENT", "start": (NOW - timedelta(hours=3)).isoformat(),
            "end": (NOW - timedelta(hours=2)).isoformat(), "note": NUL}]}),
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_nul_character_in_any_api_text_is_a_422_naming_the_field(case, make_session, session, parent, tutor,
                                                                     coordinator, student, reasons, policies,
                                                                     proposal):
    """Issue 11.3: NUL in a dispute, reject, counter, verify or resolve reason, a cancel or ad-hoc
    note: 422 before anything is looked up, nothing stored (it was a 500 from PostgreSQL)."""
    start = NOW - timedelta(days=1)
    awaiting = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                            checked_out_at=start + timedelta(hours=1))
    other = make_session(start=NOW - timedelta(days=3), status=Status.AWAITING_APPROVAL_PARENT,
                         checked_in_at=NOW - timedelta(days=3), checked_out_at=NOW - timedelta(days=3, hours=-1))
    lifecycle.dispute(other, by=parent, reason="The tutor left after twenty minutes.", now=NOW)
    who, url, body = api_nul_cases(session, awaiting, other.id, proposal, reasons, policies)[case]
    if who == "adhoc":
        body["sessions"][0]["student_id"] = student.id
        who = "tutor"
    user = {"parent": parent, "tutor": tutor, "coordinator": coordinator}[who]
    before = snapshot()
    r = post(as_user(user), url, body)
    assert r.status_code == 422, (url, r.status_code, r.content)
    assert r.json()["code"] == "invalid" and "cannot be saved" in r.json()["detail"]
    assert snapshot() == before


def test_a_proposal_note_with_a_control_character_is_refused_at_its_field(client, session, parent, reasons):
    """Issue 11.3: the reschedule note (API) and the shared rule's other control characters."""
    for bad in ("\x00", "\x1b[31m", "\x7f"):
        r = post(as_user(parent), f"/api/sessions/{session.id}/reschedule", {
            "proposed_start": (NOW + timedelta(days=4)).isoformat(), "reason_id": reasons[("parent", "reschedule")].id,
            "note": f"Can we {bad} move it?"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "note", r.content
    assert not RescheduleThread.objects.exists()


def test_the_creators_web_resolve_form_refuses_nul(client, creator, course, disputed):
    """Issue 11.3: the creator's resolve form posts raw text: a NUL is a message, not a 500."""
    client.force_login(creator)
    before = snapshot()
    r = client.post(f"/dashboard/teaching/sessions/{disputed.id}/resolve/", {"decision": "void", "reason": NUL})
    assert r.status_code == 422 and "cannot be saved" in r.content.decode()
    assert snapshot() == before


def test_the_web_forms_refuse_control_characters_with_a_message(client, parent, awaiting, session, reasons,
                                                                  proposal):
    """Issue 11.3: the session pages' dispute and counter forms, same message as the API."""
    client.force_login(parent)
    before = snapshot()
    r = client.post(f"/sessions/{awaiting.id}/dispute/", {"reason": "Tutor left \x1b early, no lesson"})
    assert r.status_code == 422 and "cannot be saved" in r.content.decode()
    r = client.post(f"/sessions/{session.id}/reschedule/counter/", {
        "proposal_id": proposal.id, "proposed_start": "2026-11-21T09:00", "note": "Sat\x00urday?"})
    assert r.status_code == 422 and "cannot be saved" in r.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("data", [
    {"filter_type": "student", "value": "Sam\x00"},
    {"filter_type": "student", "value": "\x07"},
])
def test_beacon_data_with_control_characters_is_a_422(client, parent, data):
    """Issue 11.3: the JSONB column refuses \\u0000: the beacon says so instead of a 500."""
    from analytics.models import Event

    client.force_login(parent)
    r = post(client, "/analytics/beacon", {"name": "filter_applied", "data": data})
    assert r.status_code == 422 and r.json()["code"] == "invalid_data", r.content
    r = post(client, "/analytics/beacon", {"name": "filter_applied", "page": "/x\x00",
                                           "data": {"filter_type": "st", "value": "1"}})
    assert r.status_code == 422 and r.json()["code"] == "invalid_page"
    assert not Event.objects.exists()


# --- dates out of range (item 3) ----------------------------------------------------------------


def test_a_proposed_start_in_year_9999_is_a_422_through_the_api(session, parent, reasons, proposal):
    """Issue 11.3: OverflowError in rules.validate_proposed_start before; now the shared range."""
    before = snapshot()
    r = post(as_user(parent), f"/api/sessions/{session.id}/reschedule/{proposal.id}/counter",
             {"proposed_start": YEAR_9999})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "proposed_start"
    assert "between the years 2000 and 2100" in r.json()["detail"]
    assert snapshot() == before
    lifecycle.withdraw_reschedule(session, proposal.id, by=proposal.proposed_by, now=NOW)
    before = snapshot()
    r = post(as_user(parent), f"/api/sessions/{session.id}/reschedule", {
        "proposed_start": YEAR_9999, "reason_id": reasons[("parent", "reschedule")].id})
    assert r.status_code == 422 and "between the years 2000 and 2100" in r.json()["detail"]
    assert snapshot() == before


def test_a_proposed_start_in_year_9999_is_refused_by_the_web_forms(client, session, parent, reasons, proposal):
    """Issue 11.3: the web forms for a counter and for a new proposal."""
    client.force_login(parent)
    before = snapshot()
    r = client.post(f"/sessions/{session.id}/reschedule/counter/", {
        "proposal_id": proposal.id, "proposed_start": "9999-12-31T23:00"})
    assert r.status_code == 422 and "between the years 2000 and 2100" in r.content.decode()
    assert snapshot() == before
    lifecycle.withdraw_reschedule(session, proposal.id, by=proposal.proposed_by, now=NOW)
    before = snapshot()
    r = client.post(f"/sessions/{session.id}/reschedule/", {
        "proposed_start": "9999-12-31T23:00", "reason_id": reasons[("parent", "reschedule")].id})
    assert r.status_code == 422 and "between the years 2000 and 2100" in r.content.decode()
    assert snapshot() == before


def test_the_lifecycle_refuses_year_9999_for_every_caller(session, parent, reasons):
    """Issue 11.3: the bot and the admin call the lifecycle directly: the same range holds there."""
    from datetime import UTC, datetime

    with pytest.raises(Refused) as exc:
        lifecycle.propose_reschedule(session, by=parent, proposed_start=datetime(9999, 12, 31, 23, tzinfo=UTC),
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    assert exc.value.status == 422 and exc.value.code == "out_of_range"


# --- deep JSON and huge page numbers (item 3) --------------------------------------------------


def test_50000_deep_json_to_the_notes_api_is_a_400(client, tutor, awaiting):
    """Issue 11.3: RecursionError before; now the JSON is "not valid JSON", in the API's shape."""
    client.force_login(tutor)
    body = "[" * 50_000 + "]" * 50_000
    r = client.generic("POST", f"/api/sessions/{awaiting.id}/notes", body, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed" and "nested too deeply" in r.json()["detail"]
    nested = '{"text": ' + "[" * 50_000 + "]" * 50_000 + "}"
    r = client.generic("POST", f"/api/sessions/{awaiting.id}/cancel", nested, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "malformed"


@pytest.mark.parametrize(("who", "url"), [("parent", "/family/"), ("tutor", "/teach/")])
def test_a_page_number_beyond_bigint_shows_a_page_not_a_500(client, request, who, url, session):
    """Issue 11.3: ?page=99999999999999999999 was "bigint out of range" from the OFFSET."""
    client.force_login(request.getfixturevalue(who))
    for tab in ("", "&tab=past", "&tab=future", "&tab=upcoming"):
        r = client.get(f"{url}?page=99999999999999999999{tab}")
        assert r.status_code == 200, (url, tab)


# --- malformed requests get 422 before any state check (item 4) --------------------------------


def test_an_empty_cancel_names_the_missing_reason_and_policy(session, parent):
    """Issue 11.4: an empty body was 409 "The cancellation terms have changed"."""
    before = snapshot()
    r = as_user(parent).post(f"/api/sessions/{session.id}/cancel", data="", content_type="application/json")
    assert r.status_code == 422 and r.json()["code"] == "invalid", r.content
    fields = [e["field"] for e in r.json()["errors"]]
    assert "reason_id" in fields and "policy_id" in fields
    assert "reason_id" in r.json()["detail"] and "policy_id" in r.json()["detail"]
    r = post(as_user(parent), f"/api/sessions/{session.id}/cancel", {})
    assert r.status_code == 422 and {"reason_id", "policy_id"} <= {e["field"] for e in r.json()["errors"]}
    assert snapshot() == before


def test_malformed_input_is_422_even_when_the_state_would_refuse(parent, make_session, reasons):
    """Issue 11.4: a cancelled session and a missing reason: the input is named first (the
    lifecycle checks input before state, for web and bot as well)."""
    s = make_session(status=Status.CANCELLED_BY_TUTOR)
    r = post(as_user(parent), f"/api/sessions/{s.id}/cancel", {"policy_id": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason_id"
    with pytest.raises(Refused) as exc:
        lifecycle.dispute(s, by=parent, reason="", now=NOW)
    assert exc.value.status == 422
    with pytest.raises(Refused) as exc:
        lifecycle.cancel(s, by=parent, reason_id=reasons[("parent", "cancel")].id, note="\x00", now=NOW)
    assert exc.value.status == 422


def test_an_anonymous_api_post_is_401_not_a_csrf_403(session):
    """Issue 11.4: README promises 401 for "not signed in"; CSRF was checked first."""
    client = Client(enforce_csrf_checks=True)
    for url in (f"/api/sessions/{session.id}/cancel", f"/api/sessions/{session.id}/check-in", "/api/sessions/adhoc"):
        r = post(client, url, {})
        assert r.status_code == 401 and r.json() == {"detail": "Sign in first.", "code": "not_authenticated"}


def test_a_signed_in_post_without_the_csrf_token_is_a_403_in_the_api_shape(session, parent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(parent)
    r = post(client, f"/api/sessions/{session.id}/acknowledge", {})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    assert SessionEvent.objects.count() == 0


def test_in_production_an_api_500_answers_json(settings, client, parent, session):
    """Issue 11.4: a real fault (the sessions table gone) answers {"detail", "code"}, not HTML."""
    from django.db import connection

    settings.DEBUG = False
    client.raise_request_exception = False
    client.force_login(parent)
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT before_fault")
        cursor.execute("ALTER TABLE tutoring_sessions_session RENAME TO gone")
    try:
        r = client.get(f"/api/sessions/{session.id}")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK TO SAVEPOINT before_fault")
    assert r.status_code == 500 and r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "server_error" and r.json()["detail"]


def test_a_500_outside_the_api_handlers_still_answers_json_under_api(rf):
    """The project's handler500: an /api/ path gets the JSON shape, a page Django's plain 500."""
    from tutoring.urls import server_error

    r = server_error(rf.get("/api/sessions"))
    assert r.status_code == 500 and json.loads(r.content)["code"] == "server_error"
    assert server_error(rf.get("/family/")).status_code == 500


# --- ad-hoc sessions (items 1 and 4) -----------------------------------------------------------


@pytest.fixture
def foreign_course(student):
    """Another creator's course that Sam is enrolled in; Tia is not matched with Sam in it."""
    course = Course.objects.create(creator=make_user("cora", Role.CREATOR), title="Chemistry")
    Enrollment.objects.create(course=course, student=student)
    return course


def adhoc_row(student, course=None, hours_ago=3):
    start = NOW - timedelta(hours=hours_ago)
    return {"student_id": student.id, "course_id": course.id if course else None, "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat()}


def test_a_tutor_cannot_log_adhoc_sessions_in_another_creators_course(client, tutor, student, foreign_course):
    """Issue 11.1: was 201 (only the enrolment was checked): billed in that creator's history."""
    before = snapshot()
    r = post(as_user(tutor), "/api/sessions/adhoc", {"sessions": [adhoc_row(student, foreign_course)]})
    assert r.status_code == 422 and r.json()["errors"] == [{
        "row": 0, "code": "course_not_matched",
        "detail": "You are not matched with this student for that course: choose one of your matches' courses."}]
    assert snapshot() == before


def test_only_active_matches_count_for_adhoc_sessions(tutor, student, course):
    """Issue 11.1: a match with the course that ended no longer allows logging in it."""
    match = Match.objects.create(tutor=tutor, student=student, course=course, active=False)
    with pytest.raises(Refused) as exc:
        lifecycle.log_adhoc_sessions(by=tutor, rows=[{"student_id": student.id, "course_id": course.id,
                                                      "start": NOW - timedelta(hours=3),
                                                      "end": NOW - timedelta(hours=2)}], now=NOW)
    assert exc.value.errors[0]["code"] == "course_not_matched"
    match.active = True
    match.save()
    made = lifecycle.log_adhoc_sessions(by=tutor, rows=[{"student_id": student.id, "course_id": course.id,
                                                         "start": NOW - timedelta(hours=3),
                                                         "end": NOW - timedelta(hours=2)}], now=NOW)
    assert made[0].course_id == course.id


def test_a_duplicate_adhoc_slot_answers_422_from_the_pre_check(tutor, student):
    """Issue 11.4: the slot is taken already: 422 with the row's slot_taken."""
    client = as_user(tutor)
    assert post(client, "/api/sessions/adhoc", {"sessions": [adhoc_row(student)]}).status_code == 201
    r = post(client, "/api/sessions/adhoc", {"sessions": [adhoc_row(student)]})
    assert r.status_code == 422 and r.json()["code"] == "invalid_rows"
    assert [(e["row"], e["code"]) for e in r.json()["errors"]] == [(0, "slot_taken")]


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_adhoc_slot_answers_422_when_the_constraint_catches_it(tutor, student):
    """Issue 11.4: a concurrent booking takes the slot after this batch's pre-check: the exclusion
    constraint refuses the INSERT, and the answer is the same 422 as the pre-check's (was 409).
    Deterministic: the other transaction holds its row until this batch is seen waiting on it."""
    import threading

    from django.db import connection, transaction

    start = NOW - timedelta(hours=3)
    inserted, release = threading.Event(), threading.Event()
    holder, outcome = {}, {}

    def book_the_slot():
        try:
            with transaction.atomic():
                Session.objects.create(tutor=tutor, student=student, scheduled_start=start,
                                       scheduled_end=start + timedelta(hours=1), status=Status.APPROVED)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    holder["pid"] = cursor.fetchone()[0]
                inserted.set()
                release.wait(30)
        finally:
            connection.close()

    def log_the_batch():
        try:
            lifecycle.log_adhoc_sessions(by=tutor, rows=[{"student_id": student.id, "start": start,
                                                          "end": start + timedelta(hours=1)}], now=NOW)
        except Refused as exc:
            outcome["refused"] = exc
        finally:
            connection.close()

    booking = threading.Thread(target=book_the_slot)
    booking.start()
    assert inserted.wait(30)
    batch = threading.Thread(target=log_the_batch)
    batch.start()
    with connection.cursor() as cursor:  # until the batch has passed its pre-check and waits on the booking
        while True:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                           [holder["pid"]])
            if cursor.fetchone()[0]:
                break
            assert batch.is_alive(), outcome
    release.set()
    booking.join(30)
    batch.join(30)
    refused = outcome["refused"]
    assert (refused.status, refused.code) == (422, "invalid_rows")
    assert [(e["row"], e["code"]) for e in refused.errors] == [(0, "slot_taken")]
    assert Session.objects.filter(billed_as_addon=True).count() == 0


# --- issue 10 item 7: input checked where it is typed -------------------------------------------


def test_a_dispute_reason_needs_15_characters_on_web_and_api(client, parent, awaiting):
    """Issue 10.7: "x" is no reason a coordinator can act on; the same rule and message everywhere,
    and the field says so before anyone types."""
    message = "Please describe what went wrong in at least 15 characters, so a coordinator can act on it."
    r = post(as_user(parent), f"/api/sessions/{awaiting.id}/dispute", {"reason": "x"})
    assert r.status_code == 422 and r.json()["detail"] == f"reason: {message}"
    client.force_login(parent)
    r = client.post(f"/sessions/{awaiting.id}/dispute/", {"reason": "x"})
    assert r.status_code == 422 and message in r.content.decode()
    with pytest.raises(Refused, match="at least 15 characters"):
        lifecycle.dispute(awaiting, by=parent, reason="  too short  ", now=NOW)
    awaiting.refresh_from_db()
    assert awaiting.status == Status.AWAITING_APPROVAL_PARENT
    page = client.get(f"/sessions/{awaiting.id}/").content.decode()
    assert f'minlength="{rules.MIN_DISPUTE_REASON}"' in page and "At least 15 characters" in page
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]["DisputeIn"]
    assert schema["properties"]["reason"]["minLength"] == 15
    r = post(as_user(parent), f"/api/sessions/{awaiting.id}/dispute", {"reason": "The tutor left after 20 min."})
    assert r.status_code == 200 and r.json()["status"] == "disputed"


def test_a_creator_range_ending_before_it_starts_is_said_at_the_field(client, creator, course):
    """Issue 10.7: from=2026-12-10&to=2026-11-01 was silently ignored, on the page and in the API."""
    client.force_login(creator)
    url = "/dashboard/teaching/sessions"
    for query in ({"from": "2026-12-10", "to": "2026-11-01"}, {"range": "custom", "from": "2026-12-10",
                                                               "to": "2026-11-01"}):
        page = client.get(url, query).content.decode()
        assert "To: The end date is before the start date." in page, query
    page = client.get(url, {"range": "week", "from": "2026-12-10"}).content.decode()
    assert "Choose “Custom range” under Dates to filter by this date." in page
    r = client.get("/api/creators/me/sessions", {"from": "2026-12-10T00:00:00+00:00",
                                                 "to": "2026-11-01T00:00:00+00:00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"
    assert r.json()["detail"] == "to: The end date is before the start date."
    r = client.get("/api/creators/me/sessions/stats", {"from": "2026-12-10T00:00:00+00:00",
                                                       "to": "2026-11-01T00:00:00+00:00"})
    assert r.status_code == 422
