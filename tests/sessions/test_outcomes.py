"""Issue 10 item 5: outcomes are visible to the people they concern. A coordinator's dispute
decision shows on the parent's card with who decided and why; a declined reschedule shows its
answer and reason; an override approval is labelled as one; the cancellation confirmation restates
the charge that applied."""

from datetime import timedelta
from html import unescape

import pytest

from sessions import lifecycle
from sessions.models import Status
from tests.conftest import NOW

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def page(client, user, url) -> str:
    client.force_login(user)
    return unescape(client.get(url).content.decode())


@pytest.mark.parametrize(("decision", "label", "said"), [
    ("void", "Not Completed", "Dispute voided: the session does not count."),
    ("approve", "Approved after review", "Dispute approved: the session counts."),
])
def test_a_dispute_decision_shows_who_decided_and_why(client, parent, coordinator, awaiting, decision, label,
                                                      said):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left after twenty minutes.", now=NOW)
    lifecycle.resolve_dispute(awaiting, by=coordinator, decision=decision,
                              reason="Checked the room log: it matches the parent's account.", now=NOW)
    for url in ("/family/?tab=past", f"/sessions/{awaiting.id}/"):
        body = page(client, parent, url)
        assert f">{label}</span>" in body
        assert "Disputed by you on Mon 16 Nov: “The tutor left after twenty minutes.”" in body
        assert (f"{said} Decided by Coco on Mon 16 Nov: “Checked the room log: it matches the parent's account.”"
                in body)


def test_an_override_approval_is_labelled_as_one(client, parent, tutor, coordinator, awaiting):
    lifecycle.verify(awaiting, by=coordinator, reason="Confirmed by phone with the family.", now=NOW)
    for user in (parent, tutor):
        body = page(client, user, f"/sessions/{awaiting.id}/")
        assert ">Approved by coordinator</span>" in body and ">Acknowledged</span>" not in body
        assert "Approved by a coordinator's override (Coco, Mon 16 Nov): “Confirmed by phone with the family.”" in body


def test_a_plain_acknowledgement_keeps_its_label(client, parent, awaiting):
    lifecycle.acknowledge(awaiting, by=parent, now=NOW)
    body = page(client, parent, f"/sessions/{awaiting.id}/")
    assert ">Acknowledged</span>" in body and "What was decided" not in body


def test_a_declined_reschedule_shows_the_answer_and_its_reason_to_the_proposer(client, parent, tutor, session,
                                                                               reasons):
    proposal = lifecycle.propose_reschedule(session, by=parent, proposed_start=session.scheduled_start + timedelta(
        days=1), reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    lifecycle.reject_reschedule(session, proposal.id, by=tutor, reason="I teach another class then.", now=NOW)
    body = page(client, parent, "/family/")
    assert "Tia declined the new time for Thu 19 Nov 10:00 on Mon 16 Nov: “I teach another class then.”" in body
    body = page(client, tutor, f"/sessions/{session.id}/")
    assert "You declined the new time for Thu 19 Nov 10:00" in body


def test_the_student_reads_no_dispute(client, parent, student, coordinator, awaiting):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left after twenty minutes.", now=NOW)
    body = page(client, student, "/learn/")
    assert "twenty minutes" not in body


def test_the_cancellation_confirmation_restates_the_charge(client, parent, make_session, reasons, policies):
    s = make_session(start=NOW + timedelta(hours=30))
    client.force_login(parent)
    r = client.post(f"/sessions/{s.id}/cancel/", {"reason_id": reasons[("parent", "cancel")].id,
                                                  "policy_id": policies["parent_half"].id, "confirm": "1",
                                                  "as_role": "parent"}, **HTMX)
    body = unescape(r.content.decode())
    charge = "Charge: 50% of the lesson: 0.5 of a credit, invoiced separately, no credit deducted from the package."
    assert f"Session cancelled. {charge}" in body
    assert f"Cancelled by you on Mon 16 Nov (Schedule conflict). {charge}" in body
    free = make_session(start=NOW + timedelta(days=5))
    r = client.post(f"/sessions/{free.id}/cancel/", {"reason_id": reasons[("parent", "cancel")].id,
                                                     "policy_id": policies["parent_free"].id, "confirm": "1",
                                                     "as_role": "parent"}, follow=True)
    assert "Session cancelled. Charge: No charge." in unescape(r.content.decode())
