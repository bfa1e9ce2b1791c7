"""The coordinator's API for issue 17's desk walk: POST /api/sessions/{id}/move, and the answers
to an open reschedule request for the side that must answer (`on_behalf` with a reason)."""

from datetime import timedelta

import pytest

from sessions import lifecycle
from sessions.models import Session, ThreadStatus
from tests.conftest import NOW, post_json as post

NEW = NOW + timedelta(days=5, hours=3)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def proposal(session, tutor, reasons):
    return lifecycle.propose_reschedule(session, by=tutor, proposed_start=NEW,
                                        reason_id=reasons[("tutor", "reschedule")].id, now=NOW)


def state(session):
    s = Session.objects.get(pk=session.pk)
    return s.scheduled_start, s.events.count(), list(s.reschedule_threads.values_list("status", flat=True))


def test_a_coordinator_moves_a_session(client, coordinator, session):
    client.force_login(coordinator)
    r = post(client, f"/api/sessions/{session.pk}/move", {"start": NEW.isoformat(), "reason": "Tutor is ill"})
    assert r.status_code == 200, r.content
    assert r.json()["scheduled_start"] == NEW.isoformat().replace("+00:00", "Z")
    assert session.events.get(kind="moved").actor == coordinator


def test_allowed_actions_offer_the_move_to_coordinators_only(client, coordinator, tutor, session):
    client.force_login(coordinator)
    assert "move" in client.get(f"/api/sessions/{session.pk}").json()["allowed_actions"]
    client.force_login(tutor)
    assert "move" not in client.get(f"/api/sessions/{session.pk}").json()["allowed_actions"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"start": (NOW - timedelta(hours=1)).isoformat(), "reason": "x"}, 422, "start_in_past"),
    ({"start": NEW.isoformat()}, 422, None),
    ({"start": "2026-11-21T08:00", "reason": "x"}, 422, None),  # no offset
])
def test_bad_moves_change_nothing(client, coordinator, session, body, status, code):
    client.force_login(coordinator)
    before = state(session)
    r = post(client, f"/api/sessions/{session.pk}/move", body)
    assert r.status_code == status and (code is None or r.json()["code"] == code)
    assert state(session) == before


def test_a_clash_answers_409_with_the_other_session(client, coordinator, session, make_session, sibling):
    clash = make_session(start=NEW, student=sibling)
    client.force_login(coordinator)
    r = post(client, f"/api/sessions/{session.pk}/move", {"start": NEW.isoformat(), "reason": "x"})
    assert r.status_code == 409 and r.json()["errors"][0]["session_id"] == clash.pk
    assert r.json()["session"]["scheduled_start"] == session.scheduled_start.isoformat().replace("+00:00", "Z")


def test_others_cannot_move(client, tutor, parent, outsider, session):
    before = state(session)
    for who, status in ((tutor, 403), (parent, 403), (outsider, 404)):
        client.force_login(who)
        r = post(client, f"/api/sessions/{session.pk}/move", {"start": NEW.isoformat(), "reason": "x"})
        assert r.status_code == status
    assert state(session) == before


def test_a_coordinator_accepts_rejects_and_withdraws_on_behalf(client, coordinator, session, proposal, tutor,
                                                                reasons):
    client.force_login(coordinator)
    url = f"/api/sessions/{session.pk}/reschedule/{proposal.pk}"
    r = post(client, f"{url}/withdraw", {"on_behalf": True})
    assert r.status_code == 422 and r.json()["code"] == "reason_required"
    r = post(client, f"{url}/accept", {"on_behalf": True, "reason": "Parent agreed by phone"})
    assert r.status_code == 200 and session.events.get(kind="reschedule_accepted").data["on_behalf_of"] == "parent"
    p = lifecycle.propose_reschedule(session, by=tutor, proposed_start=NEW + timedelta(days=1),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    r = post(client, f"/api/sessions/{session.pk}/reschedule/{p.pk}/reject", {"reason": "No", "on_behalf": True})
    assert r.status_code == 200 and session.reschedule_threads.get(pk=p.thread_id).status == ThreadStatus.REJECTED


def test_a_parent_cannot_answer_on_behalf(client, parent, session, proposal):
    client.force_login(parent)
    before = state(session)
    r = post(client, f"/api/sessions/{session.pk}/reschedule/{proposal.pk}/accept", {"on_behalf": True,
                                                                                     "reason": "x"})
    assert r.status_code == 403 and state(session) == before
