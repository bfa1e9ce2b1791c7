"""The session actions from the web pages: every refusal shown as is at the action, outsiders get
404 and change nothing, htmx gets the card back, double submissions change the session once."""

from datetime import timedelta
from html import unescape

import pytest

from sessions import lifecycle
from sessions.models import RescheduleThread, Session, SessionEvent, Status
from tests.conftest import NOW

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def _as(client, user):
    client.force_login(user)
    return client


def _alert(response) -> str:
    body = response.content.decode()
    start = body.index('role="alert"')
    return unescape(body[body.index(">", start) + 1: body.index("</p>", start)])


def _answer(client, session, verb, proposal, **data):
    return client.post(f"/sessions/{session.id}/reschedule/{verb}/", {"proposal_id": proposal.id} | data)


def _unchanged(session, status=Status.SCHEDULED):
    session.refresh_from_db()
    assert session.status == status
    assert not SessionEvent.objects.filter(session=session).exists()


# --- outsiders ---------------------------------------------------------------------------------

ACTION_URLS = ["check-in/", "check-out/", "acknowledge/", "dispute/", "cancel/", "reschedule/",
               "reschedule/accept/", "reschedule/reject/", "reschedule/counter/", "reschedule/withdraw/"]


@pytest.mark.parametrize("url", ACTION_URLS)
def test_an_outsider_gets_404_and_nothing_changes(client, outsider, session, url):
    r = _as(client, outsider).post(f"/sessions/{session.id}/{url}", {"reason": "x", "proposal_id": "1"})
    assert r.status_code == 404
    _unchanged(session)


@pytest.mark.parametrize("url", ["", "cancel/", "notes/"])
def test_an_outsider_cannot_read_a_session(client, outsider, session, url):
    assert _as(client, outsider).get(f"/sessions/{session.id}/{url}").status_code == 404


def test_an_unknown_session_is_404(client, parent, db):
    assert _as(client, parent).post("/sessions/999999/acknowledge/").status_code == 404


def test_actions_need_sign_in(client, session):
    r = client.post(f"/sessions/{session.id}/cancel/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    _unchanged(session)


def test_actions_only_accept_post(client, tutor, session):
    assert _as(client, tutor).get(f"/sessions/{session.id}/check-in/").status_code == 405


# --- refusals, shown at the action -------------------------------------------------------------


def test_a_too_early_check_in_names_the_minutes(client, tutor, make_session):
    """L13: "Check-in opens in 12 minutes." inline at the action, nothing changes."""
    s = make_session(start=NOW + timedelta(minutes=42))
    r = _as(client, tutor).post(f"/sessions/{s.id}/check-in/")
    assert r.status_code == 409 and _alert(r) == "Check-in opens in 12 minutes."
    _unchanged(s)


def test_a_refusal_in_htmx_comes_back_in_the_card(client, tutor, make_session):
    """L13: htmx gets only the card, with the refusal at the check-in button."""
    s = make_session(start=NOW + timedelta(minutes=42))
    r = _as(client, tutor).post(f"/sessions/{s.id}/check-in/", **HTMX)
    body = r.content.decode()
    assert r.status_code == 200 and body.lstrip().startswith("<article") and "<html" not in body
    assert f'id="err-{s.id}-check_in"' in body and _alert(r) == "Check-in opens in 12 minutes."


def test_check_in_on_a_cancelled_session_is_refused(client, tutor, make_session):
    """L15: only scheduled sessions."""
    s = make_session(start=NOW + timedelta(minutes=10), status=Status.CANCELLED_BY_PARENT)
    r = _as(client, tutor).post(f"/sessions/{s.id}/check-in/")
    assert r.status_code == 409 and _alert(r) == "Only a scheduled session can be checked into."


def test_check_in_is_refused_while_a_request_is_open(client, tutor, parent, make_session, reasons):
    """L16: the open reschedule request blocks check-in."""
    s = make_session(start=NOW + timedelta(minutes=10))
    lifecycle.propose_reschedule(s, by=parent, proposed_start=NOW + timedelta(days=2),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW - timedelta(days=1))
    r = _as(client, tutor).post(f"/sessions/{s.id}/check-in/")
    assert r.status_code == 409
    assert _alert(r).startswith("Check-in is blocked while a reschedule request is open")


def test_the_parent_cannot_check_in(client, parent, make_session):
    s = make_session(start=NOW + timedelta(minutes=10))
    r = _as(client, parent).post(f"/sessions/{s.id}/check-in/")
    assert r.status_code == 403 and _alert(r) == "Only the session's tutor can check in."
    _unchanged(s)


def test_check_out_before_check_in_is_refused(client, tutor, make_session):
    """L18."""
    s = make_session(start=NOW - timedelta(minutes=45))
    r = _as(client, tutor).post(f"/sessions/{s.id}/check-out/")
    assert r.status_code == 409 and _alert(r) == "You can only check out of a session you have checked into."


def test_an_early_check_out_names_the_minutes(client, tutor, make_session):
    """L19."""
    s = make_session(start=NOW - timedelta(minutes=10), status=Status.CHECKED_IN, checked_in_at=NOW)
    r = _as(client, tutor).post(f"/sessions/{s.id}/check-out/", {"student_absent": "1"})
    assert r.status_code == 409 and _alert(r) == "Check-out opens in 20 minutes."
    assert 'name="student_absent" value="1" checked' in r.content.decode()


def test_the_parent_acknowledges_once_and_a_second_click_shows_the_current_state(client, parent, awaiting):
    """L26, double submission: the second attempt changes nothing and shows Acknowledged."""
    c = _as(client, parent)
    r = c.post(f"/sessions/{awaiting.id}/acknowledge/", {"next": "/family/?tab=past"})
    assert r.status_code == 303 and r["Location"] == f"/family/?tab=past#session-{awaiting.id}"
    again = c.post(f"/sessions/{awaiting.id}/acknowledge/", {"next": "/family/?tab=past"})
    assert again.status_code == 409
    assert _alert(again) == "Only a session awaiting your acknowledgement can be acknowledged."
    assert "Acknowledged" in again.content.decode()
    assert SessionEvent.objects.filter(session=awaiting, kind="acknowledge").count() == 1


def test_a_double_click_in_htmx_swaps_in_the_current_card(client, parent, awaiting):
    c = _as(client, parent)
    first = c.post(f"/sessions/{awaiting.id}/acknowledge/", **HTMX)
    assert first.status_code == 200 and "Session acknowledged." in first.content.decode()
    assert ">Acknowledged<" in first.content.decode()
    second = c.post(f"/sessions/{awaiting.id}/acknowledge/", **HTMX)
    assert second.status_code == 200 and ">Acknowledged<" in second.content.decode()
    assert _alert(second) == "Only a session awaiting your acknowledgement can be acknowledged."
    assert SessionEvent.objects.filter(session=awaiting, kind="acknowledge").count() == 1


def test_the_tutor_cannot_acknowledge(client, tutor, awaiting):
    r = _as(client, tutor).post(f"/sessions/{awaiting.id}/acknowledge/")
    assert r.status_code == 403 and _alert(r) == "Only the student's parent can acknowledge this session."
    _unchanged(awaiting, Status.AWAITING_APPROVAL_PARENT)


def test_acknowledging_without_attendance_is_refused(client, parent, make_session):
    """L26: native sessions need both attendance times."""
    s = make_session(start=NOW - timedelta(days=1), status=Status.AWAITING_APPROVAL_PARENT)
    r = _as(client, parent).post(f"/sessions/{s.id}/acknowledge/")
    assert r.status_code == 409 and "no check-in and check-out on record" in _alert(r)


def test_a_dispute_needs_a_reason(client, parent, awaiting):
    """L25, L27."""
    r = _as(client, parent).post(f"/sessions/{awaiting.id}/dispute/", {"reason": "  "})
    assert r.status_code == 422 and _alert(r) == "Please give a reason for the dispute."
    _unchanged(awaiting, Status.AWAITING_APPROVAL_PARENT)


def test_a_dispute_with_a_reason_goes_to_review(client, parent, awaiting):
    """L27."""
    r = _as(client, parent).post(f"/sessions/{awaiting.id}/dispute/", {"reason": "Tutor left early"}, **HTMX)
    assert r.status_code == 200 and "Disputed: under review" in r.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.status == Status.DISPUTED


def test_a_refused_dispute_keeps_the_text(client, parent, session):
    r = _as(client, parent).post(f"/sessions/{session.id}/dispute/", {"reason": "My long explanation"})
    assert r.status_code == 409 and "My long explanation" in r.content.decode()


# --- cancel ------------------------------------------------------------------------------------


@pytest.fixture
def in_30h(make_session):
    return make_session(start=NOW + timedelta(hours=30))


def _cancel(client, session, reasons, policy, role="parent", **extra):
    data = {"reason_id": reasons[(role, "cancel")].id, "policy_id": policy.id if policy else "",
            "confirm": "1", "as_role": role} | extra
    return client.post(f"/sessions/{session.id}/cancel/", data)


def test_the_parent_cancels_with_guidance_confirmed(client, parent, in_30h, reasons, policies, settings):
    """L09, L36, L37: the panel shows the band and the waiver reminder; confirming cancels."""
    c = _as(client, parent)
    panel = c.get(f"/sessions/{in_30h.id}/cancel/?as_role=parent", **HTMX)
    body = panel.content.decode()
    assert body.lstrip().startswith("<article")
    assert "50% of the lesson" in body and settings.COORDINATOR_WAIVER_REMINDER in body
    r = _cancel(c, in_30h, reasons, policies["parent_half"])
    assert r.status_code == 303
    in_30h.refresh_from_db()
    assert in_30h.status == Status.CANCELLED_BY_PARENT


def test_cancel_without_confirmation_is_refused_and_keeps_the_input(client, parent, in_30h, reasons,
                                                                     policies):
    """L37: an explicit confirmation is needed."""
    r = _cancel(_as(client, parent), in_30h, reasons, policies["parent_half"], confirm="", note="kept note")
    assert r.status_code == 422 and _alert(r) == "Tick the box to confirm the cancellation."
    body = r.content.decode()
    assert 'value="kept note"' in body
    assert f'<option value="{reasons[("parent", "cancel")].id}" selected>' in body
    _unchanged(in_30h)


def test_cancel_without_a_reason_is_refused(client, parent, in_30h, reasons, policies):
    """L36."""
    r = _cancel(_as(client, parent), in_30h, reasons, policies["parent_half"], reason_id="")
    assert r.status_code == 422 and _alert(r) == "Please choose a reason for the cancel."
    _unchanged(in_30h)


def test_other_needs_a_note(client, parent, in_30h, reasons, policies):
    """L36."""
    r = _cancel(_as(client, parent), in_30h, reasons, policies["parent_half"],
                reason_id=reasons[("parent", "cancel", "other")].id)
    assert r.status_code == 422 and _alert(r) == "Please say more about “Other”."


def test_the_tutors_reason_is_refused_on_the_parents_cancel(client, parent, in_30h, reasons, policies):
    """L36: role-specific pickers."""
    r = _cancel(_as(client, parent), in_30h, reasons, policies["parent_half"],
                reason_id=reasons[("tutor", "cancel")].id)
    assert r.status_code == 422 and _alert(r) == "Choose one of the parent's cancel reasons."


def test_cancel_is_refused_when_the_terms_changed(client, parent, in_30h, reasons, policies):
    """L37: the band shown is no longer the band that applies."""
    r = _cancel(_as(client, parent), in_30h, reasons, policies["parent_free"])
    assert r.status_code == 409 and _alert(r).startswith("The cancellation terms have changed")
    assert "50% of the lesson" in r.content.decode()
    _unchanged(in_30h)


def test_cancel_within_4_hours_is_refused(client, parent, make_session, reasons, policies):
    """L32."""
    s = make_session(start=NOW + timedelta(hours=3))
    panel = _as(client, parent).get(f"/sessions/{s.id}/cancel/")
    assert "Online changes close 4 hours before the start: message your coordinator." in panel.content.decode()
    r = _cancel(client, s, reasons, policies["parent_full"])
    assert r.status_code == 409 and _alert(r) == "Online changes close 4 hours before the start: message your coordinator."
    _unchanged(s)


def test_cancel_twice_changes_once(client, parent, in_30h, reasons, policies):
    c = _as(client, parent)
    assert _cancel(c, in_30h, reasons, policies["parent_half"]).status_code == 303
    r = _cancel(c, in_30h, reasons, policies["parent_half"])
    assert r.status_code == 409 and _alert(r) == "Only a scheduled session can be cancelled."
    assert "Cancelled by you" in r.content.decode()
    assert SessionEvent.objects.filter(session=in_30h, kind="cancel").count() == 1


def test_cancelling_closes_an_open_request(client, parent, tutor, in_30h, reasons, policies):
    """L41."""
    lifecycle.propose_reschedule(in_30h, by=tutor, proposed_start=NOW + timedelta(days=5),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    assert _cancel(_as(client, parent), in_30h, reasons, policies["parent_half"]).status_code == 303
    assert RescheduleThread.objects.get().status == "closed"


# --- reschedule ---------------------------------------------------------------------------------


def _propose(client, session, reasons, start="2026-11-20T15:00", role="parent", **extra):
    data = {"proposed_start": start, "reason_id": reasons[(role, "reschedule")].id, "as_role": role} | extra
    return client.post(f"/sessions/{session.id}/reschedule/", data)


def test_the_parent_proposes_in_their_own_zone(client, parent, session, reasons):
    """L35: the start is read in Europe/London; the hour is kept."""
    assert _propose(_as(client, parent), session, reasons, start="2026-11-20T15:00").status_code == 303
    p = RescheduleThread.objects.get().proposals.get()
    assert p.proposed_start.isoformat() == "2026-11-20T15:00:00+00:00"  # London is UTC in November
    assert p.proposed_end - p.proposed_start == timedelta(hours=1)


def test_a_proposal_in_the_past_is_refused_and_keeps_the_input(client, parent, session, reasons):
    """L38."""
    r = _propose(_as(client, parent), session, reasons, start="2026-11-15T15:00", note="my note")
    assert r.status_code == 422 and _alert(r) == "The proposed time must be in the future."
    assert 'value="2026-11-15T15:00"' in r.content.decode() and 'value="my note"' in r.content.decode()
    assert not RescheduleThread.objects.exists()


def test_a_malformed_start_is_refused(client, parent, session, reasons):
    r = _propose(_as(client, parent), session, reasons, start="soon")
    assert r.status_code == 422 and _alert(r).startswith("Enter a date and time")


def test_a_second_request_is_refused_while_one_is_open(client, parent, session, reasons):
    """L34."""
    c = _as(client, parent)
    assert _propose(c, session, reasons).status_code == 303
    r = _propose(c, session, reasons, start="2026-11-21T15:00")
    assert r.status_code == 409
    assert _alert(r) == "A reschedule request is already open for this session: answer it first."


def test_a_reschedule_within_4_hours_is_refused(client, tutor, make_session, reasons):
    """L32."""
    s = make_session(start=NOW + timedelta(hours=2))
    r = _propose(_as(client, tutor), s, reasons, role="tutor")
    assert r.status_code == 409 and _alert(r) == "Online changes close 4 hours before the start: message your coordinator."


@pytest.fixture
def tutor_proposal(session, tutor, reasons):
    return lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=3),
                                        reason_id=reasons[("tutor", "reschedule")].id, now=NOW)


def test_the_proposer_cannot_accept_their_own_proposal(client, tutor, session, tutor_proposal):
    """L39: only the counterparty answers."""
    r = _answer(_as(client, tutor), session, "accept", tutor_proposal)
    assert r.status_code == 403 and _alert(r) == "Only the other side can answer this proposal."
    session.refresh_from_db()
    assert session.scheduled_start == NOW + timedelta(days=2)


def test_the_parent_accepts_once(client, parent, session, tutor_proposal):
    """L39, double submission: two tabs accepting the same proposal move the session once."""
    c = _as(client, parent)
    assert _answer(c, session, "accept", tutor_proposal).status_code == 303
    r = _answer(c, session, "accept", tutor_proposal)
    assert r.status_code == 409 and _alert(r) == "There is no open reschedule request on this session."
    session.refresh_from_db()
    assert session.scheduled_start == NOW + timedelta(days=3)


def test_declining_needs_a_reason(client, parent, session, tutor_proposal):
    r = _answer(_as(client, parent), session, "reject", tutor_proposal)
    assert r.status_code == 422 and _alert(r) == "Please give a reason for declining."
    r = client.post(f"/sessions/{session.id}/reschedule/reject/", {"proposal_id": tutor_proposal.id,
                                                                     "reason": "Exams that week"})
    assert r.status_code == 303 and RescheduleThread.objects.get().status == "rejected"


def test_the_parent_counter_proposes_a_new_version(client, parent, session, tutor_proposal):
    """L39: a counter is version 2; the old proposal is countered."""
    r = _as(client, parent).post(f"/sessions/{session.id}/reschedule/counter/", {
        "proposal_id": tutor_proposal.id, "proposed_start": "2026-11-21T09:00", "note": "Saturday?"}, **HTMX)
    assert r.status_code == 200
    body = r.content.decode()
    assert "Proposed by Tia on" in body and "Your counter-proposal: Sat 21 Nov 09:00–10:00" in body
    assert "Waiting for Tia&#x27;s answer." in body
    assert "/reschedule/withdraw/" in body


def test_answering_a_replaced_version_is_refused(client, parent, tutor, session, tutor_proposal):
    """A stale tab answering v1 after v2 exists."""
    lifecycle.counter_reschedule(session, tutor_proposal.id, by=parent,
                                 proposed_start=NOW + timedelta(days=4), now=NOW)
    v2 = RescheduleThread.objects.get().proposals.get(version=2)
    r = _answer(_as(client, tutor), session, "accept", tutor_proposal)
    assert r.status_code == 409 and _alert(r).startswith("This proposal is no longer open")
    assert _answer(client, session, "accept", v2).status_code == 303


def test_a_stale_proposal_cannot_be_accepted(client, parent, make_session, tutor, reasons, time_machine):
    """L38: the proposed start has passed (the session's own start has not)."""
    s = make_session(start=NOW + timedelta(days=5))
    p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(hours=1),
                                     reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    time_machine.move_to(NOW + timedelta(hours=2), tick=False)
    r = _as(client, parent).post(f"/sessions/{s.id}/reschedule/accept/", {"proposal_id": p.id})
    assert r.status_code == 409
    assert _alert(r) == "This proposal's time has already passed: propose a new time instead."
    s.refresh_from_db()
    assert s.scheduled_start == NOW + timedelta(days=5)


def test_the_proposer_withdraws(client, tutor, session, tutor_proposal):
    r = _answer(_as(client, tutor), session, "withdraw", tutor_proposal)
    assert r.status_code == 303 and RescheduleThread.objects.get().status == "withdrawn"


def test_the_counterparty_cannot_withdraw(client, parent, session, tutor_proposal):
    r = _answer(_as(client, parent), session, "withdraw", tutor_proposal)
    assert r.status_code == 403 and _alert(r) == "Only the side that proposed this time can withdraw it."


def test_a_trial_session_uses_the_same_flow(client, parent, make_session, reasons):
    """L42."""
    s = make_session(is_trial=True)
    assert _propose(_as(client, parent), s, reasons).status_code == 303


# --- the session page ---------------------------------------------------------------------------


def test_the_session_page_shows_one_card(client, parent, session):
    r = _as(client, parent).get(f"/sessions/{session.id}/")
    assert r.status_code == 200 and f'id="session-{session.id}"' in r.content.decode()


def test_the_session_page_reads_without_writing(client, parent, make_session, tutor, reasons):
    """L43: a request past the original start is shown, not expired, by a read."""
    s = make_session(start=NOW + timedelta(days=1))
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + timedelta(days=3),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    Session.objects.filter(pk=s.pk).update(scheduled_start=NOW - timedelta(minutes=5),
                                           scheduled_end=NOW + timedelta(minutes=55))
    _as(client, parent).get(f"/sessions/{s.id}/")
    s.refresh_from_db()
    assert s.status == Status.SCHEDULED and RescheduleThread.objects.get().status == "open"
