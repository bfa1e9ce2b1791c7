from datetime import timedelta

import pytest
from django.test import Client

from sessions import lifecycle
from sessions.models import RescheduleThread, Session, SessionEvent, Status
from tests.conftest import NOW, post_json as post


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def as_parent(client, parent, student):
    client.force_login(parent)
    return client


@pytest.fixture
def as_tutor(client, tutor):
    client.force_login(tutor)
    return client


def test_me_lists_a_parents_children(as_parent, parent, student, sibling):
    body = as_parent.get("/api/me").json()
    assert body == {"id": parent.id, "name": "Pat", "roles": ["parent"], "time_zone": "Europe/London",
                    "children": [{"id": student.id, "name": "Sam"}, {"id": sibling.id, "name": "Sue"}]}


def test_unauthenticated_calls_get_401_json(client, session):
    r = client.get(f"/api/sessions/{session.pk}")
    assert r.status_code == 401 and r.json() == {"detail": "Sign in first.", "code": "not_authenticated"}


def test_session_detail_has_label_actions_and_the_open_thread(as_parent, session, tutor, reasons):
    """L02: the label for the caller; allowed actions; the open reschedule thread with its versions."""
    lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    body = as_parent.get(f"/api/sessions/{session.pk}").json()
    assert body["status"] == "scheduled" and body["label"] == "Scheduled"
    assert body["course"]["title"] == "Algebra I" and body["duration_minutes"] == 60
    assert body["reschedule"]["proposals"][0]["version"] == 1
    assert body["reschedule"]["opened_by_role"] == "tutor"
    assert {"accept_reschedule", "reject_reschedule", "counter_reschedule", "cancel"} <= set(body["allowed_actions"])
    assert "reschedule" not in body["allowed_actions"]


def test_labels_differ_by_audience(client, make_session, parent, tutor):
    """L02: parent "Awaiting Your Acknowledgement", tutor "Awaiting acknowledgement"."""
    s = make_session(start=NOW - timedelta(hours=3), status=Status.AWAITING_APPROVAL_PARENT,
                     checked_in_at=NOW - timedelta(hours=3), checked_out_at=NOW - timedelta(hours=2))
    client.force_login(parent)
    assert client.get(f"/api/sessions/{s.pk}").json()["label"] == "Awaiting Your Acknowledgement"
    client.force_login(tutor)
    assert client.get(f"/api/sessions/{s.pk}").json()["label"] == "Awaiting acknowledgement"
    s.status = Status.APPROVED
    s.save()
    client.force_login(parent)
    assert client.get(f"/api/sessions/{s.pk}").json()["label"] == "Acknowledged"


def test_the_list_covers_every_role_and_filters(client, make_session, tutor, student, parent, sibling):
    mine = make_session(start=NOW + timedelta(days=1))
    sues = make_session(start=NOW + timedelta(days=3), student=sibling, course=None)
    make_session(start=NOW + timedelta(days=5), status=Status.CANCELLED_BY_TUTOR)
    client.force_login(parent)
    ids = [s["id"] for s in client.get("/api/sessions").json()["items"]]
    assert ids[:2] == [mine.id, sues.id] and len(ids) == 3
    r = client.get("/api/sessions", {"status": "cancelled_by_tutor"}).json()
    assert [s["status"] for s in r["items"]] == ["cancelled_by_tutor"]
    r = client.get("/api/sessions", {"from": (NOW + timedelta(days=2)).isoformat(),
                                     "to": (NOW + timedelta(days=4)).isoformat()}).json()
    assert [s["id"] for s in r["items"]] == [sues.id]
    client.force_login(tutor)
    assert len(client.get("/api/sessions").json()["items"]) == 3  # all three are Tia's


def test_the_list_pages_with_a_cursor(as_parent, make_session):
    made = [make_session(start=NOW + timedelta(days=1, hours=2 * i)).id for i in range(5)]
    first = as_parent.get("/api/sessions", {"limit": 2}).json()
    second = as_parent.get("/api/sessions", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = as_parent.get("/api/sessions", {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [s["id"] for s in first["items"] + second["items"] + third["items"]] == made
    assert third["next_cursor"] is None


def test_the_list_runs_a_constant_number_of_queries(as_parent, make_session, tutor, reasons,
                                                    django_assert_max_num_queries):
    def add(i):
        s = make_session(start=NOW + timedelta(days=1, hours=2 * i))
        lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=30, hours=2 * i),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)

    add(0)
    with django_assert_max_num_queries(8) as small:
        as_parent.get("/api/sessions")
    for i in range(1, 40):
        add(i)
    for i in range(40, 45):
        make_session(start=NOW + timedelta(days=1, hours=2 * i))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(as_parent.get("/api/sessions").json()["items"]) == 45


@pytest.mark.parametrize("query", [{"status": "done"}, {"from": "yesterday"}, {"limit": 0}, {"cursor": "x"},
                                   {"from": "2026-11-16T10:00:00"}])
def test_bad_filters_are_422_with_a_message(as_parent, query):
    r = as_parent.get("/api/sessions", query)
    assert r.status_code == 422 and r.json()["detail"] and r.json()["code"] == "invalid"


def test_check_in_through_the_api_and_refusals(client, make_session, tutor, student, time_machine):
    """L14: check-in via the web/API; 409 with the minutes and the session as it is now (issue 18
    item 1: a client that lost a race sees the state without asking again); 403 for the student."""
    s = make_session(start=NOW + timedelta(hours=1))
    time_machine.move_to(NOW, tick=False)
    client.force_login(tutor)
    r = post(client, f"/api/sessions/{s.pk}/check-in")
    assert r.status_code == 409
    body = r.json()
    assert {k: body[k] for k in ("detail", "code")} == {"detail": "Check-in opens in 30 minutes.", "code": "too_early"}
    assert body["session"]["id"] == s.pk and body["session"]["status"] == "scheduled"
    assert body["session"] == client.get(f"/api/sessions/{s.pk}").json()  # the same shape as a GET
    client.force_login(student)
    assert post(client, f"/api/sessions/{s.pk}/check-in").status_code == 403
    time_machine.move_to(NOW + timedelta(minutes=45), tick=False)
    client.force_login(tutor)
    r = post(client, f"/api/sessions/{s.pk}/check-in")
    assert r.status_code == 200 and r.json()["status"] == "checked_in"
    assert SessionEvent.objects.get(session=s, kind="check_in").channel == "api"


def test_the_whole_flow_through_the_api(client, make_session, tutor, parent, package, time_machine):
    s = make_session(start=NOW)
    client.force_login(tutor)
    time_machine.move_to(NOW, tick=False)
    assert post(client, f"/api/sessions/{s.pk}/check-in").status_code == 200
    time_machine.move_to(NOW + timedelta(hours=1), tick=False)
    assert post(client, f"/api/sessions/{s.pk}/check-out", {"student_absent": False}).json()["status"] == \
        "awaiting_approval_parent"
    client.force_login(parent)
    r = post(client, f"/api/sessions/{s.pk}/acknowledge")
    assert r.json()["label"] == "Acknowledged"
    events = client.get(f"/api/sessions/{s.pk}/events").json()
    assert [e["kind"] for e in events] == ["check_in", "check_out", "acknowledge"]


def test_cancel_through_the_api_with_guidance(as_parent, session, reasons, policies, time_machine):
    """L36 L37: the reason list per role, the guidance, then the confirmed cancel."""
    time_machine.move_to(NOW, tick=False)
    picker = as_parent.get("/api/cancellation-reasons", {"role": "parent"}).json()
    assert [r["label"] for r in picker] == ["Schedule conflict", "Other"]
    g = as_parent.get(f"/api/sessions/{session.pk}/cancellation-guidance").json()
    assert g["allowed"] and g["penalty"] == "No charge" and g["waiver_reminder"]
    r = post(as_parent, f"/api/sessions/{session.pk}/cancel", {"reason_id": picker[0]["id"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "policy_id"  # confirm what was shown
    r = post(as_parent, f"/api/sessions/{session.pk}/cancel", {"reason_id": picker[0]["id"],
                                                                "policy_id": policies["parent_full"].id})
    assert r.status_code == 409 and r.json()["code"] == "guidance_changed"
    r = post(as_parent, f"/api/sessions/{session.pk}/cancel", {"reason_id": picker[0]["id"],
                                                                "policy_id": g["policy_id"]})
    assert r.status_code == 200 and r.json()["status"] == "cancelled_by_parent"


def test_reschedule_flow_through_the_api(client, session, tutor, parent, reasons, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(tutor)
    r = post(client, f"/api/sessions/{session.pk}/reschedule", {
        "proposed_start": (NOW + timedelta(days=4)).isoformat(), "reason_id": reasons[("tutor", "reschedule")].id})
    assert r.status_code == 201
    v1 = r.json()["reschedule"]["proposals"][0]["id"]
    client.force_login(parent)
    r = post(client, f"/api/sessions/{session.pk}/reschedule/{v1}/counter",
             {"proposed_start": (NOW + timedelta(days=5)).isoformat(), "note": "Friday?"})
    assert r.status_code == 201 and [p["status"] for p in r.json()["reschedule"]["proposals"]] == ["countered", "open"]
    v2 = r.json()["reschedule"]["proposals"][1]["id"]
    client.force_login(tutor)
    r = post(client, f"/api/sessions/{session.pk}/reschedule/{v2}/accept")
    assert r.status_code == 200 and r.json()["scheduled_start"].startswith("2026-11-21T10:00")
    assert r.json()["reschedule"] is None


def test_a_naive_proposed_time_is_refused(as_parent, session, reasons):
    r = post(as_parent, f"/api/sessions/{session.pk}/reschedule",
             {"proposed_start": "2026-12-01T10:00:00", "reason_id": reasons[("parent", "reschedule")].id})
    assert r.status_code == 422 and r.json()["code"] == "invalid"


@pytest.mark.parametrize("body", ["{not json", "[]", '{"reason": 5}', '{"reason": null}'])
def test_malformed_bodies_are_4xx_not_500(as_parent, make_session, body):
    s = make_session(start=NOW - timedelta(hours=2), status=Status.AWAITING_APPROVAL_PARENT)
    r = as_parent.post(f"/api/sessions/{s.pk}/dispute", data=body, content_type="application/json")
    assert r.status_code in (400, 422) and set(r.json()) >= {"detail", "code"}
    s.refresh_from_db()
    assert s.status == Status.AWAITING_APPROVAL_PARENT


def test_csrf_is_enforced_for_session_auth(parent, session):
    client = Client(enforce_csrf_checks=True)
    client.force_login(parent)
    r = post(client, f"/api/sessions/{session.pk}/cancel", {"reason_id": 1})
    assert r.status_code == 403
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED


def test_coordinator_creates_sessions_and_others_cannot(client, coordinator, tutor, student, course, parent,
                                                       time_machine):
    time_machine.move_to(NOW, tick=False)
    body = {"tutor_id": tutor.id, "student_id": student.id, "start": (NOW + timedelta(days=1)).isoformat(),
            "end": (NOW + timedelta(days=1, hours=1)).isoformat(), "course_id": course.id, "is_trial": True}
    client.force_login(parent)
    assert post(client, "/api/sessions", body).status_code == 403
    client.force_login(coordinator)
    r = post(client, "/api/sessions", body)
    assert r.status_code == 201 and r.json()["is_trial"] and r.json()["status"] == "scheduled"
    r = post(client, "/api/sessions", body)
    assert r.status_code == 409 and r.json()["detail"] == "The tutor already has a session at that time."
    r = post(client, "/api/sessions", body | {"end": body["start"]})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "end", "detail": "The end must be after the start."}]
    assert Session.objects.count() == 1


def test_the_openapi_document_lists_every_path(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for path in ["/api/me", "/api/sessions", "/api/sessions/adhoc", "/api/sessions/{session_id}",
                 "/api/sessions/{session_id}/events", "/api/cancellation-reasons",
                 "/api/sessions/{session_id}/cancellation-guidance"] + [
        f"/api/sessions/{{session_id}}/{a}" for a in
            ["check-in", "check-out", "acknowledge", "dispute", "verify", "resolve-dispute", "cancel", "reschedule"]
    ] + [f"/api/sessions/{{session_id}}/reschedule/{{proposal_id}}/{a}" for a in ["accept", "reject", "counter"]]:
        assert path in paths, path


OUTSIDER_CALLS = [
    ("get", ""), ("get", "/events"), ("get", "/cancellation-guidance"),
    ("post", "/check-in"), ("post", "/check-out"), ("post", "/acknowledge"), ("post", "/dispute"),
    ("post", "/verify"), ("post", "/resolve-dispute"), ("post", "/cancel"), ("post", "/reschedule"),
    ("post", "/reschedule/{p}/accept"), ("post", "/reschedule/{p}/reject"), ("post", "/reschedule/{p}/counter"),
    ("post", "/reschedule/{p}/withdraw"),
]


@pytest.mark.parametrize(("method", "suffix"), OUTSIDER_CALLS)
def test_an_outsider_gets_404_everywhere_and_nothing_changes(client, outsider, session, tutor, reasons, method,
                                                             suffix):
    p = lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    before = (Session.objects.values().get(pk=session.pk), SessionEvent.objects.count(),
              list(RescheduleThread.objects.values()))
    client.force_login(outsider)
    url = f"/api/sessions/{session.pk}{suffix.format(p=p.id)}"
    body = {"reason": "The tutor never came online.", "reason_id": reasons[("parent", "cancel")].id,
            "policy_id": None, "decision": "void", "proposed_start": (NOW + timedelta(days=9)).isoformat()}
    r = client.get(url) if method == "get" else post(client, url, body)
    assert r.status_code == 404 and r.json() == {"detail": "Session not found.", "code": "not_found"}
    assert before == (Session.objects.values().get(pk=session.pk), SessionEvent.objects.count(),
                      list(RescheduleThread.objects.values()))


def test_an_unknown_session_is_404(as_parent):
    assert as_parent.get("/api/sessions/999999").status_code == 404


def test_the_creator_reads_but_may_not_act_or_read_the_trail(client, creator, session):
    client.force_login(creator)
    assert client.get(f"/api/sessions/{session.pk}").status_code == 200
    assert client.get(f"/api/sessions/{session.pk}/events").status_code == 403
    assert post(client, f"/api/sessions/{session.pk}/check-in").status_code == 403


def test_check_out_without_a_body_and_with_student_absent(client, make_session, tutor, time_machine):
    a = make_session(start=NOW - timedelta(hours=1), status=Status.CHECKED_IN, checked_in_at=NOW - timedelta(hours=1))
    b = make_session(start=NOW - timedelta(hours=3), status=Status.CHECKED_IN, checked_in_at=NOW - timedelta(hours=3))
    client.force_login(tutor)
    r = client.post(f"/api/sessions/{a.pk}/check-out")
    assert r.json().get("status") == "awaiting_approval_parent", r.json()
    r = post(client, f"/api/sessions/{b.pk}/check-out", {"student_absent": True})
    assert r.json()["status"] == "no_show" and r.json()["no_show_party"] == "student"


def test_check_out_with_a_bad_body_is_422(client, make_session, tutor):
    a = make_session(start=NOW - timedelta(hours=1), status=Status.CHECKED_IN, checked_in_at=NOW - timedelta(hours=1))
    client.force_login(tutor)
    r = client.post(f"/api/sessions/{a.pk}/check-out", data="{oops", content_type="application/json")
    assert r.status_code == 422 and r.json()["code"] == "invalid"
    a.refresh_from_db()
    assert a.status == Status.CHECKED_IN
