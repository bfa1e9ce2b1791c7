"""Resend's signed delivery webhooks (Svix signatures) and the one-click unsubscribe (RFC 8058)."""

import json
import time
from datetime import timedelta

import pytest
from django.core import mail

from notifications.email import unsubscribe_token
from notifications.models import Delivery, DeliveryStatus, Preference, SuppressedAddress, WebhookReceipt
from sessions import lifecycle
from tests.conftest import NOW
from tests.fakes.resend_server import new_webhook_secret, svix_headers

from .conftest import emails_to, inbox, sweep

URL = "/notifications/webhooks/resend/"


def post_webhook(client, secret, event: dict, **sign):
    body = json.dumps(event)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in svix_headers(secret, body, **sign).items()}
    return client.post(URL, body, content_type="application/json", **headers)


def bounce(address, email_id="e-1", type_="Permanent"):
    return {"type": "email.bounced", "created_at": "2026-11-16T10:00:00.000Z",
            "data": {"email_id": email_id, "from": "Tutoring <no-reply@tutoring.example.com>", "to": [address],
                     "subject": "Reminder", "created_at": "2026-11-16T09:59:00.000Z",
                     "bounce": {"type": type_, "subType": "General",
                                "message": "The recipient's mail server permanently rejected the email."}}}


def test_a_permanent_bounce_stops_email_and_tells_the_person_in_the_app(client, webhook_secret, parent, tutor,
                                                                       make_session, time_machine):
    response = post_webhook(client, webhook_secret, bounce("PAT@example.test"))
    assert response.status_code == 204
    stop = SuppressedAddress.objects.get()
    assert (stop.email, stop.reason) == ("pat@example.test", "bounce")
    sweep()
    note = inbox(parent)[0]
    assert note.title == "We stopped emailing you"
    assert note.text.startswith("Email to PAT@example.test could not be delivered (it bounced: The recipient's "
                                "mail server permanently rejected the email.)")
    assert note.url == "/notifications/preferences/"
    assert not emails_to(parent)  # that notice is in the app only
    # from now on the parent's email deliveries are not even written; the tutor's still go
    time_machine.move_to(NOW, tick=False)
    make_session(start=NOW + timedelta(hours=1))
    sweep(NOW)
    assert not Delivery.objects.filter(recipient=parent, channel="email", kind="reminder_1h").exists()
    assert inbox(parent)[-1].kind == "reminder_1h" and len(emails_to(tutor)) == 1


def test_the_delivery_a_bounce_concerns_is_marked_failed(client, webhook_secret, awaiting, parent, coordinator,
                                                         creator, fake_resend):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    sweep(NOW)
    email = Delivery.objects.get(recipient=coordinator, channel="email")
    post_webhook(client, webhook_secret, bounce(coordinator.email, email_id=email.provider_id))
    email.refresh_from_db()
    assert email.status == DeliveryStatus.FAILED
    assert email.last_error.startswith("Delivered to no one: it bounced")


def test_a_planned_email_to_an_address_that_bounced_meanwhile_is_not_sent(client, webhook_secret, awaiting, parent,
                                                                         coordinator, creator):
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    from notifications import outbox

    outbox.relay(now=NOW)  # written, not sent yet
    post_webhook(client, webhook_secret, bounce(coordinator.email))
    sweep(NOW)
    skipped = Delivery.objects.get(recipient=coordinator, channel="email", kind="dispute")
    assert skipped.status == DeliveryStatus.SKIPPED
    assert skipped.last_error == "email to this address is stopped (it bounced or was marked as spam)"


def test_a_complaint_stops_email_too_but_a_temporary_bounce_does_not(client, webhook_secret, parent):
    post_webhook(client, webhook_secret, bounce(parent.email, type_="Temporary"))
    assert not SuppressedAddress.objects.exists()
    complaint = {"type": "email.complained", "created_at": "2026-11-16T10:00:00.000Z",
                 "data": {"email_id": "e-2", "to": [parent.email], "subject": "x", "from": "a@b.c",
                          "created_at": "2026-11-16T10:00:00.000Z"}}
    assert post_webhook(client, webhook_secret, complaint).status_code == 204
    assert SuppressedAddress.objects.get().reason == "complaint"


def test_each_webhook_message_is_handled_once(client, webhook_secret, parent):
    """Svix sends a message again (same svix-id) until it gets a 2xx: a replay changes nothing."""
    for _ in range(2):
        assert post_webhook(client, webhook_secret, bounce(parent.email), msg_id="msg_same").status_code == 204
    SuppressedAddress.objects.all().delete()  # the person turned email back on meanwhile
    assert post_webhook(client, webhook_secret, bounce(parent.email), msg_id="msg_same").status_code == 204
    assert not SuppressedAddress.objects.exists() and WebhookReceipt.objects.count() == 1
    sweep()
    assert len(inbox(parent)) == 1


@pytest.mark.parametrize("tamper", ["bad_signature", "other_secret", "old", "future", "no_headers", "body_changed"])
def test_unsigned_or_tampered_webhooks_are_refused_and_change_nothing(client, webhook_secret, parent, tamper):
    event = bounce(parent.email)
    body = json.dumps(event)
    if tamper == "other_secret":
        headers = svix_headers(new_webhook_secret(), body)
    elif tamper == "old":
        headers = svix_headers(webhook_secret, body, timestamp=int(time.time()) - 6 * 60)
    elif tamper == "future":
        headers = svix_headers(webhook_secret, body, timestamp=int(time.time()) + 6 * 60)
    else:
        headers = svix_headers(webhook_secret, body)
    if tamper == "bad_signature":
        headers["svix-signature"] = "v1,AAAA" + headers["svix-signature"][7:]
    if tamper == "no_headers":
        headers = {}
    if tamper == "body_changed":
        body = body.replace("Permanent", "Permanent ")
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    response = client.post(URL, body, content_type="application/json", **meta)
    assert response.status_code == 400 and response.json() == {"detail": "Invalid signature."}
    assert not SuppressedAddress.objects.exists() and not WebhookReceipt.objects.exists()


def test_the_webhook_is_off_without_a_secret_and_takes_only_post(client, settings, parent):
    settings.RESEND_WEBHOOK_SECRET = ""
    assert client.post(URL, "{}", content_type="application/json").status_code == 404
    settings.RESEND_WEBHOOK_SECRET = new_webhook_secret()
    assert client.get(URL).status_code == 405


def test_a_signed_but_malformed_event_is_refused(client, webhook_secret):
    body = json.dumps(["not", "an", "event"])
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in svix_headers(webhook_secret, body).items()}
    assert client.post(URL, body, content_type="application/json", **meta).status_code == 400


# --- unsubscribe ------------------------------------------------------------------------------


@pytest.fixture
def reminder_email(make_session, tutor, time_machine):
    time_machine.move_to(NOW, tick=False)
    make_session(start=NOW + timedelta(hours=1))
    sweep(NOW)
    return emails_to(tutor)[0]


def test_one_click_unsubscribe_is_honoured(client, reminder_email, tutor, make_session):
    """RFC 8058: the mail client POSTs List-Unsubscribe=One-Click to the header's link, with no
    cookie and no CSRF token; reminders stop by email and still arrive in the app."""
    link = reminder_email.extra_headers["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://127.0.0.1:8000")
    response = client.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Preference.objects.get(user=tutor, topic="reminders", channel="email").enabled is False
    mail.outbox.clear()
    make_session(start=NOW + timedelta(hours=5))
    sweep(NOW + timedelta(hours=4))
    assert not emails_to(tutor)
    assert inbox(tutor)[-1].kind == "reminder_1h"


def test_the_unsubscribe_link_opened_in_a_browser_asks_first(client, reminder_email, tutor):
    path = reminder_email.extra_headers["List-Unsubscribe"].strip("<>").removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    body = page.content.decode()
    assert page.status_code == 200 and "Stop session reminders by email?" in body
    assert not Preference.objects.exists()  # a link scanner following it changes nothing
    done = client.post(path)
    assert "You are unsubscribed" in done.content.decode()


@pytest.mark.parametrize("token", ["garbage", "x" * 300])
def test_a_bad_unsubscribe_token_changes_nothing(client, tutor, token):
    for method in (client.get, client.post):
        response = method(f"/notifications/unsubscribe/{token}/")
        assert response.status_code == 404 and "This link does not work" in response.content.decode()
    assert not Preference.objects.exists()


def test_a_token_cannot_be_moved_to_another_person(client, tutor, parent):
    tutors, parents = unsubscribe_token(tutor.id, "reminders"), unsubscribe_token(parent.id, "reminders")
    forged = parents.rsplit(":", 1)[0] + ":" + tutors.rsplit(":", 1)[1]  # the parent's data, the tutor's signature
    assert forged not in (tutors, parents)
    assert client.post(f"/notifications/unsubscribe/{forged}/").status_code == 404
    assert not Preference.objects.exists()
