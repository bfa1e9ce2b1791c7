"""Coordinators see every delivery with its status, attempts and last error, and can send failed
ones again; they lift a suppression by deleting it."""

from datetime import timedelta

import pytest

from notifications.models import Delivery, DeliveryStatus, SuppressedAddress
from sessions import lifecycle
from tests.conftest import NOW
from tests.fakes.resend_server import LOST, error

from .conftest import sweep


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def failed(fake_resend, awaiting, parent, coordinator, creator):
    creator.is_active = False
    creator.save()
    fake_resend.queue(error(422, "validation_error", "The `to` address is on Resend's suppression list."))
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    sweep(NOW)
    return Delivery.objects.get(recipient=coordinator, channel="email")


def test_a_failed_delivery_is_listed_with_its_error_and_can_be_sent_again(client, failed, coordinator,
                                                                         fake_resend):
    assert failed.status == DeliveryStatus.FAILED
    client.force_login(coordinator)
    page = client.get("/admin/notifications/delivery/?status__exact=failed").content.decode()
    assert "on Resend&#x27;s suppression list" in page and f">{failed.id}<" in page
    detail = client.get(f"/admin/notifications/delivery/{failed.id}/change/")
    assert detail.status_code == 200 and "Resend 422 validation_error" in detail.content.decode()
    response = client.post("/admin/notifications/delivery/", {"action": "send_again", "_selected_action": [failed.id]},
                           follow=True)
    assert "1 deliveries will be sent again within a minute." in response.content.decode()
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (DeliveryStatus.PENDING, 0)
    sweep(NOW + timedelta(minutes=1))
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.SENT and len(fake_resend.sent) == 1


def test_deliveries_cannot_be_edited_by_hand(client, failed, coordinator):
    client.force_login(coordinator)
    client.post(f"/admin/notifications/delivery/{failed.id}/change/", {"status": "sent"})
    client.post(f"/admin/notifications/delivery/{failed.id}/delete/", {"post": "yes"})
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED


def test_a_coordinator_lifts_a_suppression_by_deleting_it(client, coordinator):
    stop = SuppressedAddress.objects.create(email="pat@example.test", reason="bounce", created_at=NOW)
    client.force_login(coordinator)
    assert client.get("/admin/notifications/suppressedaddress/").status_code == 200
    client.post(f"/admin/notifications/suppressedaddress/{stop.id}/delete/", {"post": "yes"})
    assert not SuppressedAddress.objects.exists()


def test_deliveries_are_found_by_session_or_email_and_filtered_by_kind(client, failed, coordinator, awaiting):
    client.force_login(coordinator)
    for query in (f"?q={awaiting.id}", f"?q=%23{awaiting.id}", f"?q={coordinator.email.upper()}", "?kind=dispute"):
        page = client.get(f"/admin/notifications/delivery/{query}").content.decode()
        assert f">{failed.id}<" in page, query
    assert f">{failed.id}<" not in client.get("/admin/notifications/delivery/?kind=reminder_1h").content.decode()
    assert f">{failed.id}<" not in client.get("/admin/notifications/delivery/?q=nobody@example.test").content.decode()
    for term in ("²", "%23²", "9" * 19):  # "²".isdigit() is true and int("²") was a 500
        page = client.get(f"/admin/notifications/delivery/?q={term}")
        assert page.status_code == 200 and f">{failed.id}<" not in page.content.decode()


def test_send_again_after_the_answers_were_lost_repeats_the_request_and_sends_nothing_twice(
        client, fake_resend, awaiting, parent, coordinator, creator, settings):
    """Issue 18 (never doubled): every attempt's answer is lost, so the delivery is given up as
    failed though Resend sent it. The coordinator's send again repeats the kept request: Resend
    answers its first answer and the delivery is sent, with Resend's id, and one email went."""
    settings.NOTIFY_MAX_ATTEMPTS = 2
    creator.is_active = False
    creator.save()
    fake_resend.queue(LOST, LOST)
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    sweep(NOW)
    sweep(NOW + timedelta(minutes=1))
    failed = Delivery.objects.get(recipient=coordinator, channel="email")
    assert failed.status == DeliveryStatus.FAILED and failed.last_error.startswith("gave up after 2 attempts")
    # the first attempt went (to the coordinator and the session's tutor); the second was answered as a repeat
    assert sorted(e["to"][0] for e in fake_resend.sent) == sorted([coordinator.email, awaiting.tutor.email])
    (sent,) = [e for e in fake_resend.sent if e["to"] == [coordinator.email]]
    client.force_login(coordinator)
    client.post("/admin/notifications/delivery/", {"action": "send_again", "_selected_action": [failed.id]})
    sweep(NOW + timedelta(minutes=2))
    failed.refresh_from_db()
    assert (failed.status, failed.provider_id) == (DeliveryStatus.SENT, sent["id"])
    assert len(fake_resend.sent) == 2 and len(fake_resend.requests) == 3
