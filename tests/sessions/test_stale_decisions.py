"""A coordinator settles the session they saw: the admin's pages carry the status they showed
(seen-<id>), the API takes it as `seen_status`, and the lifecycle refuses a session that changed
since (rules.require_unchanged), in words, changing nothing. The dispute goes through the parent's
own page; the clock is frozen at conftest.NOW."""

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from notifications.models import Delivery, Notification
from sessions import lifecycle
from sessions.admin import APPLY
from sessions.errors import Refused
from sessions.models import Channel, PackageDeduction, Session, SessionEvent, Status
from tests.conftest import NOW, post_json

DISPUTED_MEANWHILE = "The parent disputed this session after you opened it: review the dispute first."
REASON = "The tutor left after twenty minutes."


@pytest.fixture
def coco(client, coordinator, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(coordinator)
    return client


@pytest.fixture
def family(parent):
    """The parent, on a browser of their own."""
    browser = Client()
    browser.force_login(parent)
    return browser


def change_url(session) -> str:
    return reverse("admin:tutoring_sessions_session_change", args=[session.pk])


def hidden_inputs(response) -> dict:
    """What a page's form posts back unseen: its hidden seen-<id> inputs."""
    return dict(re.findall(r'<input type="hidden" name="(seen-\d+)" value="([^"]*)">', response.content.decode()))


def dispute_on_the_parents_page(family, session):
    response = family.post(f"/sessions/{session.pk}/dispute/", {"reason": REASON})
    assert response.status_code in (200, 303), response.content
    assert Session.objects.get(pk=session.pk).status == Status.DISPUTED


def state_of(session) -> tuple:
    """Everything a settling action would write: the row, its events (the outbox), credits, notices."""
    return (Session.objects.values().get(pk=session.pk),
            list(SessionEvent.objects.filter(session=session).order_by("id").values()),
            PackageDeduction.objects.count(), Delivery.objects.count(), Notification.objects.count())


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_verify_of_a_session_disputed_after_its_page_was_opened_is_refused(coco, family, awaiting, package):
    """L07, L28: the parent disputes while the coordinator's verify form is open: the stale verify
    is refused in words, nothing changes (status, events, credits, notices); a fresh form works."""
    url = change_url(awaiting)
    base = {"CHANGE_FORM-action": "verify_sessions", "_selected_action": [awaiting.pk]}
    opened = coco.get(url)
    assert hidden_inputs(opened) == {f"seen-{awaiting.pk}": Status.AWAITING_APPROVAL_PARENT}
    form = coco.post(url, base | hidden_inputs(opened))
    assert b"Reason for the override" in form.content
    assert hidden_inputs(form) == {f"seen-{awaiting.pk}": Status.AWAITING_APPROVAL_PARENT}

    dispute_on_the_parents_page(family, awaiting)
    before = state_of(awaiting)
    refused = coco.post(url, base | hidden_inputs(form) | {"reason": "Confirmed by phone.", APPLY: "go"},
                        follow=True)

    assert messages_of(refused) == [f"Session {awaiting.pk}: {DISPUTED_MEANWHILE} Nothing was changed."]
    assert DISPUTED_MEANWHILE in unescape(refused.content.decode())
    assert state_of(awaiting) == before

    fresh = coco.post(url, base | hidden_inputs(coco.get(url)))
    assert hidden_inputs(fresh) == {f"seen-{awaiting.pk}": Status.DISPUTED}
    done = coco.post(url, base | hidden_inputs(fresh) | {"reason": "Reviewed the dispute: it took place.",
                                                         APPLY: "go"}, follow=True)
    assert messages_of(done) == ["Verified 1 session."]
    assert Session.objects.get(pk=awaiting.pk).status == Status.APPROVED
    assert [e.kind for e in SessionEvent.objects.filter(session=awaiting).order_by("id")] == ["dispute", "verify"]


def test_a_dispute_before_the_form_was_shown_still_counts_from_the_page_opened(coco, family, awaiting, package):
    """L07, L28: opened while awaiting, disputed before the action's form came up: the form keeps
    what the session's page showed, so the verify is refused even though its table says Disputed."""
    url = change_url(awaiting)
    base = {"CHANGE_FORM-action": "verify_sessions", "_selected_action": [awaiting.pk]}
    opened = coco.get(url)
    dispute_on_the_parents_page(family, awaiting)
    form = coco.post(url, base | hidden_inputs(opened))
    assert b"Disputed" in form.content
    before = state_of(awaiting)

    refused = coco.post(url, base | hidden_inputs(form) | {"reason": "Confirmed by phone.", APPLY: "go"},
                        follow=True)

    assert messages_of(refused) == [f"Session {awaiting.pk}: {DISPUTED_MEANWHILE} Nothing was changed."]
    assert state_of(awaiting) == before


def test_the_changelists_form_carries_the_status_it_shows(coco, family, awaiting, package):
    """L28: verify picked on the session list: its form keeps the status each session showed."""
    changelist = reverse("admin:tutoring_sessions_session_changelist")
    base = {"action": "verify_sessions", "_selected_action": [awaiting.pk]}
    form = coco.post(changelist, base | {"index": 0})
    assert hidden_inputs(form) == {f"seen-{awaiting.pk}": Status.AWAITING_APPROVAL_PARENT}
    dispute_on_the_parents_page(family, awaiting)
    before = state_of(awaiting)

    refused = coco.post(changelist, base | hidden_inputs(form) | {"reason": "Confirmed by phone.", APPLY: "go"},
                        follow=True)

    assert messages_of(refused) == [f"Session {awaiting.pk}: {DISPUTED_MEANWHILE} Nothing was changed."]
    assert state_of(awaiting) == before


def test_a_no_show_of_a_session_the_tutor_checked_in_to_meanwhile_is_refused(coco, make_session, tutor):
    """L04, L15: the coordinator opens a started session with no check-in to mark the tutor absent;
    the tutor checks in meanwhile: the no-show is refused, saying what the session is now."""
    started = make_session(start=NOW)
    url = change_url(started)
    base = {"CHANGE_FORM-action": "mark_no_shows", "_selected_action": [started.pk]}
    form = coco.post(url, base | hidden_inputs(coco.get(url)))
    lifecycle.check_in(started, by=tutor, now=NOW)
    before = state_of(started)

    refused = coco.post(url, base | hidden_inputs(form) | {"party": "tutor", "reason": "No check-in.", APPLY: "go"},
                        follow=True)

    assert messages_of(refused) == [f"Session {started.pk}: This session changed after you opened it: it is now "
                                    "checked in. Look at it again before you decide. Nothing was changed."]
    assert state_of(started) == before


def test_the_api_refuses_a_verify_of_a_session_disputed_since_it_was_read(client, coordinator, family, awaiting,
                                                                         package):
    """L07, L28: the API's verify with the status the coordinator read: 409 `changed` in words,
    nothing changes; with the status as it is now it verifies."""
    client.force_login(coordinator)
    seen = client.get(f"/api/sessions/{awaiting.pk}").json()["status"]
    dispute_on_the_parents_page(family, awaiting)
    before = state_of(awaiting)

    refused = post_json(client, f"/api/sessions/{awaiting.pk}/verify",
                        {"reason": "Confirmed by phone.", "seen_status": seen})

    assert refused.status_code == 409
    assert (refused.json()["detail"], refused.json()["code"]) == (DISPUTED_MEANWHILE, "changed")
    assert state_of(awaiting) == before
    done = post_json(client, f"/api/sessions/{awaiting.pk}/verify",
                     {"reason": "Reviewed the dispute: it took place.", "seen_status": Status.DISPUTED})
    assert done.status_code == 200 and done.json()["status"] == Status.APPROVED


def test_a_malformed_seen_status_is_named_and_changes_nothing(client, coordinator, awaiting):
    client.force_login(coordinator)
    before = state_of(awaiting)

    response = post_json(client, f"/api/sessions/{awaiting.pk}/verify", {"reason": "Fine.", "seen_status": "done"})

    assert response.status_code == 422 and "seen_status" in response.content.decode()
    assert state_of(awaiting) == before


def test_who_may_act_is_judged_before_what_changed(awaiting, parent, tutor):
    """A tutor's verify is not allowed, whatever the page they had showed."""
    lifecycle.dispute(awaiting, by=parent, reason=REASON, now=NOW)
    with pytest.raises(Refused) as refused:
        lifecycle.verify(awaiting, by=tutor, reason="Mine.", seen_status=Status.AWAITING_APPROVAL_PARENT, now=NOW,
                         channel=Channel.ADMIN)
    assert refused.value.code == "not_allowed"
