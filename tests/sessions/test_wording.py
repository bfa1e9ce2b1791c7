"""Issue 10 item 6: words that say what they mean on the session cards."""

from datetime import timedelta
from html import unescape

import pytest

from sessions import lifecycle
from tests.conftest import NOW

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def body_of(client, user, url, **headers) -> str:
    client.force_login(user)
    return unescape(client.get(url, **headers).content.decode())


def test_the_waiver_reminder_shows_only_when_a_penalty_applies(client, parent, make_session, policies, settings):
    charged, free = make_session(start=NOW + timedelta(hours=30)), make_session(start=NOW + timedelta(days=5))
    body = body_of(client, parent, f"/sessions/{charged.id}/cancel/?as_role=parent", **HTMX)
    assert "If you cancel now: 50% of the lesson." in body and settings.COORDINATOR_WAIVER_REMINDER in body
    body = body_of(client, parent, f"/sessions/{free.id}/cancel/?as_role=parent", **HTMX)
    assert "If you cancel now: No charge." in body and settings.COORDINATOR_WAIVER_REMINDER not in body


def test_the_proposer_waits_and_only_the_other_side_is_asked_to_answer(client, parent, tutor, session, reasons):
    lifecycle.propose_reschedule(session, by=parent, proposed_start=session.scheduled_start + timedelta(days=1),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    mine = body_of(client, parent, f"/sessions/{session.id}/")
    assert "Waiting for Tia's answer." in mine and "Withdraw my request" in mine
    assert "answer it first" not in mine
    assert "Proposed by you on Mon 16 Nov: Thu 19 Nov 10:00–11:00 (Europe/London)" in mine
    assert "v1 by" not in mine
    theirs = body_of(client, tutor, f"/sessions/{session.id}/")
    assert "Proposed by Pat on Mon 16 Nov: Thu 19 Nov 10:00–11:00 (UTC)" in theirs
    assert "Accept the new time" in theirs and "Waiting for" not in theirs


def test_the_check_in_lockout_shows_only_when_check_in_would_be_open(client, parent, tutor, make_session,
                                                                       reasons, time_machine):
    s = make_session(start=NOW + timedelta(days=3))
    lifecycle.propose_reschedule(s, by=parent, proposed_start=s.scheduled_start + timedelta(days=1),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    assert "Check-in is blocked" not in body_of(client, tutor, f"/sessions/{s.id}/")
    time_machine.move_to(s.scheduled_start - timedelta(minutes=10), tick=False)
    assert "Check-in is blocked while a reschedule request is open" in body_of(client, tutor, f"/sessions/{s.id}/")


def test_the_4_hour_lockout_says_how_to_reach_the_coordinator(client, parent, coordinator, make_session):
    s = make_session(start=NOW + timedelta(hours=3))
    body = body_of(client, parent, f"/sessions/{s.id}/")
    assert "Online changes close 4 hours before the start: message your coordinator." in body
    assert f'Your coordinator is Coco: <a href="/messages/with/{coordinator.id}/">Message Coco</a>' in body
    assert client.get(f"/messages/with/{coordinator.id}/").status_code == 200  # the link leads somewhere


def test_a_confidence_the_notes_do_not_describe_is_said_plainly(client, parent, awaiting):
    from notes import ai
    from notes.models import Summary, SummaryStatus

    Summary.objects.create(session=awaiting, status=SummaryStatus.READY, source="local",
                           data=ai.local_summary("We covered chapter four.").data)
    body = body_of(client, parent, f"/sessions/{awaiting.id}/")
    assert "<dt>Confidence</dt><dd>Not described in the notes.</dd>" in body
    assert "Developing: Not described" not in body
