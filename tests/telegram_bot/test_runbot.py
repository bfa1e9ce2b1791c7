"""`manage.py runbot`: off without a token; the polling Application handles each update_id once."""

import io

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from telegram import Update

from telegram_bot import bot
from tests.telegram_bot.conftest import CHAT, message

pytestmark = pytest.mark.django_db


def test_runbot_without_a_token_says_the_bot_is_off(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    out = io.StringIO()
    call_command("runbot", stdout=out)
    assert out.getvalue().strip() == "TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off."


def test_the_pollers_application_handles_a_repeated_update_once(linked, tg, frozen):
    """A poller that restarts before confirming an offset sees updates again: answered once."""
    update = message(CHAT, "/help")

    async def poll_twice():
        application = bot.build(updater=True)
        application.bot_data["claim"] = True  # as runbot sets it
        async with application:
            for _ in range(2):
                await application.process_update(Update.de_json(update, application.bot))
        assert not application.bot_data.get("errors")

    async_to_sync(poll_twice)()
    assert len(tg.calls("sendMessage")) == 1
