"""Issue 18 item 4: the bot webhook is rate-limited as Telegram expects it. A flood from one
Telegram user is acknowledged (200: Telegram would otherwise retry the update and hold up every
other user's) and dropped, and the sender is told once, in the webhook's reply; guessing the
secret token is limited per client address (429 with Retry-After). Both reset with the window."""

from datetime import timedelta

import pytest

from telegram_bot.models import ProcessedUpdate
from tests.telegram_bot.conftest import CHAT, OTHER_CHAT, message, press
from tests.telegram_bot.test_delivery import post

pytestmark = pytest.mark.django_db


def test_a_flood_from_one_telegram_user_is_dropped_told_once_and_lifts(client, settings, linked, tg, frozen):
    settings.TELEGRAM_UPDATES_PER_MINUTE = 3
    for _ in range(3):
        assert post(client, message(CHAT, "/help")).status_code == 200
    assert len(tg.calls("sendMessage")) == 3

    over = post(client, press("whatever"))  # a button press counts too
    assert over.status_code == 200  # acknowledged: Telegram must not retry it
    assert over.json() == {"method": "sendMessage", "chat_id": CHAT,
                           "text": "Too many messages: I will read yours again in 1 minute."}
    again = post(client, message(CHAT, "/help"))
    assert again.status_code == 200 and again.content == b""  # told once per window
    assert len(tg.calls("sendMessage")) == 3  # neither was handled
    assert ProcessedUpdate.objects.count() == 3

    assert post(client, message(OTHER_CHAT, "/help")).status_code == 200  # another user has a count of their own
    assert len(tg.calls("sendMessage")) == 4

    frozen.shift(timedelta(seconds=60))  # the next minute
    assert post(client, message(CHAT, "/help")).status_code == 200
    assert len(tg.calls("sendMessage")) == 5


def test_wrong_secrets_from_one_address_are_limited_and_the_limit_lifts(client, settings, linked, tg, frozen):
    settings.TELEGRAM_BAD_SECRET_PER_MINUTE = 2
    frozen.shift(timedelta(seconds=15))
    assert [post(client, message(CHAT, "/help"), secret="guess").status_code for _ in range(2)] == [403, 403]
    limited = post(client, message(CHAT, "/help"), secret="guess")
    assert limited.status_code == 429 and limited["Retry-After"] == "45"
    assert limited.json() == {"detail": "Too many requests with a wrong secret token: try again in 1 minute."}
    # Telegram itself (the right secret) is never held up by someone else's guesses
    assert post(client, message(CHAT, "/help")).status_code == 200
    assert post(client, message(CHAT, "/help"), secret="guess", REMOTE_ADDR="10.9.9.9").status_code == 403

    frozen.shift(timedelta(seconds=45))
    assert post(client, message(CHAT, "/help"), secret="guess").status_code == 403
    assert len(tg.calls("sendMessage")) == 1
