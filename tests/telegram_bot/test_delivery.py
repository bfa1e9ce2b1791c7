"""Updates arriving on the webhook (secret token, validation, each update_id once, the work in
the Celery task) and notifications going out on the Telegram channel (once; a blocked bot
unlinks the chat and tells the tutor in the app)."""

import json
from datetime import timedelta

import pytest
from django.urls import reverse

from notifications import dispatch
from notifications.models import Delivery, Notification
from sessions import lifecycle
from telegram_bot.models import ProcessedUpdate, TelegramLink
from tests.conftest import NOW
from tests.telegram_bot.conftest import CHAT, SECRET, message

pytestmark = pytest.mark.django_db
URL = "/telegram/webhook/"


def post(client, payload, secret=SECRET, **extra):
    headers = {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": secret} if secret is not None else {}
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(URL, body, content_type="application/json", **headers, **extra)


def test_the_webhook_url_is_the_named_one():
    assert reverse("telegram-webhook") == URL


def test_a_good_update_is_handled_once_even_when_telegram_retries(client, linked, tg, frozen):
    update = message(CHAT, "/help")
    assert post(client, update).status_code == 200
    assert len(tg.calls("sendMessage")) == 1
    assert ProcessedUpdate.objects.filter(update_id=update["update_id"]).exists()
    assert post(client, update).status_code == 200  # Telegram sends it again
    assert len(tg.calls("sendMessage")) == 1


def test_the_task_drops_a_replayed_update(linked, tg, frozen):
    """Two copies queued before either ran (a retry racing the first): the second does nothing."""
    from telegram_bot.tasks import handle_update

    update = message(CHAT, "/help")
    assert handle_update(update) is True
    assert handle_update(update) is False
    assert len(tg.calls("sendMessage")) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_bad_secrets_are_refused_and_nothing_happens(client, linked, tg, frozen, secret):
    response = post(client, message(CHAT, "/help"), secret=secret)
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid secret token."}
    assert tg.requests == []
    assert not ProcessedUpdate.objects.exists()


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'{"update_id": "7", "message": {}}', b'{"update_id": 7}',
    b'{"update_id": -1, "message": {}}', b'{"update_id": 7, "message": "text"}', b"\xff\xfe",
    b'{"update_id": 1e3, "message": {}}', b'{"update_id": true, "message": {}}',
    b"[" * 100_000 + b"]" * 100_000,  # json.loads raised RecursionError: a 500
])
def test_payloads_that_are_not_updates_are_refused(client, linked, tg, body):
    response = post(client, body)
    assert response.status_code == 400
    assert tg.requests == []
    assert not ProcessedUpdate.objects.exists()


def test_the_webhook_is_off_without_a_token(client, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    assert post(client, message(CHAT, "/help")).status_code == 404


def test_only_post(client, tg):
    assert client.get(URL, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET).status_code == 405


def test_group_chats_are_ignored(client, linked, tg, frozen):
    update = message(CHAT, "/sessions")
    update["message"]["chat"] = {"id": -100, "type": "group", "title": "Staff room"}
    assert post(client, update).status_code == 200
    assert tg.calls("sendMessage") == []


# --- the notifications channel ---------------------------------------------------------------


def test_a_cancellation_reaches_the_tutors_chat_once(linked, session, parent, reasons, policies, tg, frozen,
                                                     django_capture_on_commit_callbacks):
    guidance = lifecycle.cancellation_guidance(session, by=parent, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id,
                         policy_id=guidance["policy_id"], now=NOW)
    delivery = Delivery.objects.get(channel="telegram", recipient=linked.user)
    assert (delivery.kind, delivery.status) == ("cancel", "sent")
    [call] = tg.calls("sendMessage")
    assert "cancelled" in call["text"].lower()
    assert "http" in call["text"]  # the link to the rest
    dispatch.dispatch(now=NOW + timedelta(minutes=5))  # the beat's dispatcher sends nothing twice
    assert len(tg.calls("sendMessage")) == 1


def test_people_without_a_chat_get_no_telegram_delivery(session, parent, reasons, policies, tg, frozen, tutor,
                                                        django_capture_on_commit_callbacks):
    guidance = lifecycle.cancellation_guidance(session, by=parent, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id,
                         policy_id=guidance["policy_id"], now=NOW)
    assert not Delivery.objects.filter(channel="telegram").exists()
    assert Delivery.objects.filter(channel="in_app", recipient=tutor).exists()
    assert tg.requests == []


def test_a_tutor_who_blocked_the_bot_is_unlinked_and_told_on_the_web(linked, session, parent, reasons, policies,
                                                                     tg, frozen, tutor,
                                                                     django_capture_on_commit_callbacks):
    tg.blocked.add(CHAT)
    guidance = lifecycle.cancellation_guidance(session, by=parent, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id,
                         policy_id=guidance["policy_id"], now=NOW)
    delivery = Delivery.objects.get(channel="telegram", recipient=tutor)
    assert delivery.status == "failed"
    assert "bot was blocked by the user" in delivery.last_error
    assert not TelegramLink.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.dispatch(now=NOW)
    notice = Notification.objects.get(recipient=tutor, kind="telegram_unlinked")
    assert notice.url == "/telegram/"


def test_reminders_reach_a_linked_tutor_on_telegram(linked, session, tg, frozen, tutor):
    """The set-based reminder sweep finds the linked chat (the channel's reachable_sql)."""
    from notifications import planning

    moment = session.scheduled_start - timedelta(hours=1)
    made = planning.plan(now=moment)
    telegram = Delivery.objects.filter(pk__in=made, channel="telegram")
    assert list(telegram.values_list("recipient_id", flat=True)) == [tutor.id]
    dispatch.dispatch(now=moment)
    [call] = tg.calls("sendMessage")
    assert call["chat_id"] in (CHAT, str(CHAT))
    assert telegram.get().status == "sent"


def test_update_ids_are_forgotten_after_two_days(frozen):
    from telegram_bot.tasks import prune_updates

    ProcessedUpdate.objects.create(update_id=1, received_at=NOW - timedelta(days=2, seconds=1))
    ProcessedUpdate.objects.create(update_id=2, received_at=NOW - timedelta(days=1))
    assert prune_updates(now=NOW) == 1
    assert list(ProcessedUpdate.objects.values_list("update_id", flat=True)) == [2]


def test_a_dispute_reaches_the_tutors_chat(linked, awaiting, parent, coordinator, tg, frozen, settings,
                                           django_capture_on_commit_callbacks):
    """Issue 15: the tutor is told of a dispute on their session by the bot too (what was disputed,
    what happens next, the session's card: never the coordinators' admin)."""
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.dispute(awaiting, by=parent, reason="The tutor left after 20 minutes.", now=NOW)
    delivery = Delivery.objects.get(channel="telegram", recipient=linked.user)
    assert (delivery.kind, delivery.status) == ("dispute", "sent")
    [call] = tg.calls("sendMessage")
    assert call["chat_id"] in (CHAT, str(CHAT))
    assert call["text"].startswith("Disputed: your session with Sam on Sun 15 Nov\n\nPat disputed your session")
    assert "A coordinator will review it" in call["text"]
    assert "“The tutor left after 20 minutes.”" in call["text"]
    assert call["text"].endswith(f"View the session: {settings.SITE_URL.rstrip('/')}/sessions/{awaiting.id}/")
    assert "/admin/" not in call["text"]


# python-telegram-bot warns (PTBDeprecationWarning) on an int retry_after, when it builds the RetryAfter and
# when it is read: this test fails on that warning (TelegramBotConfig opts in to the timedelta ones)
@pytest.mark.filterwarnings("error::telegram.warnings.PTBDeprecationWarning")
def test_telegram_flood_and_gateway_errors_are_retried_then_sent_once(linked, session, parent, reasons, policies,
                                                                      tg, frozen,
                                                                      django_capture_on_commit_callbacks):
    """sendMessage answers 429 (retry after 300 s) and then 502: the delivery stays pending, not
    before Telegram's retry_after, then after the backoff; the third try sends it, once."""
    from tests.fakes.telegram_server import BAD_GATEWAY, flood

    tg.queue(tg.path("sendMessage"), flood(300), BAD_GATEWAY)
    guidance = lifecycle.cancellation_guidance(session, by=parent, now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id,
                         policy_id=guidance["policy_id"], now=NOW)
    delivery = Delivery.objects.get(channel="telegram", recipient=linked.user)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.next_attempt_at == NOW + timedelta(seconds=300)  # retry_after beats the 1-minute backoff
    assert delivery.last_error == "Telegram: Flood control exceeded. Retry in 300 seconds"
    sends = [r for r in tg.requests if r.path == tg.path("sendMessage")]
    assert len(sends) == 1

    dispatch.dispatch(now=NOW + timedelta(seconds=299))  # not due yet
    assert len([r for r in tg.requests if r.path == tg.path("sendMessage")]) == 1

    second = NOW + timedelta(seconds=300)
    dispatch.dispatch(now=second)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    assert delivery.next_attempt_at == second + timedelta(minutes=2)  # the backoff doubles
    assert "Bad Gateway" in delivery.last_error

    dispatch.dispatch(now=second + timedelta(minutes=2) - timedelta(seconds=1))
    assert len([r for r in tg.requests if r.path == tg.path("sendMessage")]) == 2
    dispatch.dispatch(now=second + timedelta(minutes=2))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    [sent] = tg.calls("sendMessage")  # the one that Telegram took
    assert delivery.provider_id == f"{CHAT}:{tg.messages_of(CHAT)[-1]}"
    assert "cancelled" in sent["text"].lower()
    dispatch.dispatch(now=second + timedelta(hours=1))
    assert len([r for r in tg.requests if r.path == tg.path("sendMessage")]) == 3
