"""Linking a chat from the web (one-time, 10-minute deep link), /start <code>, unlinking."""

from datetime import timedelta

import pytest
from django.urls import reverse

from telegram_bot.models import LinkCode, TelegramLink
from tests.conftest import NOW
from tests.telegram_bot.conftest import CHAT, OTHER_CHAT, last_text, message, send

pytestmark = pytest.mark.django_db


def deep_link_code(client, tutor) -> str:
    client.force_login(tutor)
    response = client.post(reverse("telegram-link"), {"action": "link"})
    assert response.status_code == 200
    link = response.context["deep_link"]
    assert link.startswith("https://t.me/tutoring_test_bot?start=")
    return link.split("start=")[1]


def test_the_settings_page_offers_the_link_to_tutors(client, tutor, parent, tg):
    client.force_login(tutor)
    page = client.get(reverse("notifications-preferences")).content.decode()
    assert reverse("telegram-link") in page
    client.force_login(parent)
    assert reverse("telegram-link") not in client.get(reverse("notifications-preferences")).content.decode()


def test_start_with_the_code_links_the_chat_once(client, tutor, tg, frozen):
    code = deep_link_code(client, tutor)
    send(message(CHAT, f"/start {code}"))
    assert TelegramLink.objects.get(user=tutor).chat_id == CHAT
    assert last_text(tg).startswith("Linked: this chat now belongs to Tia.")
    # the code works once: another chat cannot take the account with it
    send(message(OTHER_CHAT, f"/start {code}"))
    assert "expired or was already used" in last_text(tg)
    assert TelegramLink.objects.get(user=tutor).chat_id == CHAT
    # the page now says it is linked and offers to unlink
    assert "Unlink Telegram" in client.get(reverse("telegram-link")).content.decode()


def test_a_code_expires_after_ten_minutes(client, tutor, tg, frozen):
    code = deep_link_code(client, tutor)
    assert LinkCode.objects.get(code=code).expires_at == NOW + timedelta(minutes=10)
    frozen.shift(timedelta(minutes=10))
    send(message(CHAT, f"/start {code}"))
    assert "expired or was already used" in last_text(tg)
    assert not TelegramLink.objects.exists()


def test_a_made_up_code_links_nothing(tutor, tg, frozen):
    send(message(CHAT, "/start not-a-real-code"))
    assert "expired or was already used" in last_text(tg)
    assert not TelegramLink.objects.exists()


def test_an_unlinked_chat_is_told_politely_and_nothing_else(tutor, session, tg, frozen):
    for update in (message(CHAT, "/sessions"), message(CHAT, "/checkin"), message(CHAT, "hello"),
                   message(CHAT, "/start")):
        send(update)
    texts = tg.texts()
    assert len(texts) == 4
    assert all(t.startswith("Hello! This chat is not linked") for t in texts)
    assert all(not c.get("reply_markup") for c in tg.calls("sendMessage"))


def test_unlink_from_the_chat_and_from_the_web(client, tutor, linked, tg, frozen):
    send(message(CHAT, "/unlink"))
    assert "This chat is unlinked" in last_text(tg)
    assert not TelegramLink.objects.exists()
    send(message(CHAT, "/sessions"))
    assert last_text(tg).startswith("Hello! This chat is not linked")

    TelegramLink.objects.create(user=tutor, chat_id=CHAT, linked_at=NOW)
    client.force_login(tutor)
    response = client.post(reverse("telegram-link"), {"action": "unlink"}, follow=True)
    assert response.status_code == 200
    assert not TelegramLink.objects.exists()


def test_the_page_says_when_the_bot_is_not_configured(client, tutor, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    client.force_login(tutor)
    response = client.post(reverse("telegram-link"), {"action": "link"})
    assert "not set up on this site" in response.content.decode()
    assert not LinkCode.objects.exists()


def test_the_telegram_column_appears_in_the_settings_once_linked(client, tutor, tg):
    client.force_login(tutor)
    assert 'value="changes:telegram"' not in client.get(reverse("notifications-preferences")).content.decode()
    TelegramLink.objects.create(user=tutor, chat_id=CHAT, linked_at=NOW)
    page = client.get(reverse("notifications-preferences")).content.decode()
    assert 'value="changes:telegram"' in page
    # switched off there, a cancellation is not sent on Telegram
    client.post(reverse("notifications-preferences"), {"on": ["changes:in_app", "changes:email"]})
    from notifications.models import Preference

    assert not Preference.objects.get(user=tutor, topic="changes", channel="telegram").enabled
