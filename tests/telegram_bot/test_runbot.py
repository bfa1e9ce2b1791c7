"""`manage.py runbot`: off without a token; the polling Application handles each update_id once.
(The poller closes stale database connections between updates, bot.poller; a test that ended every
backend of the test database in a shared test process starved the pool of other tests' threads and
failed by ordering, and was removed.)"""

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from telegram import Update

from telegram_bot import bot
from tests.telegram_bot.conftest import CHAT, message

pytestmark = pytest.mark.django_db(transaction=True)  # the poller gives its connection back between updates


def test_runbot_without_a_token_says_the_bot_is_off(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    out = io.StringIO()
    call_command("runbot", stdout=out)
    assert out.getvalue().strip() == "TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off."


def test_the_pollers_application_handles_a_repeated_update_once(linked, tg, frozen):
    """A poller that restarts before confirming an offset sees updates again: answered once."""
    update = message(CHAT, "/help")

    async def poll_twice():
        application = bot.poller()  # as runbot builds it
        async with application:
            for _ in range(2):
                await application.process_update(Update.de_json(update, application.bot))
        assert not application.bot_data.get("errors")

    in_a_thread_of_its_own(poll_twice)
    assert len(tg.calls("sendMessage")) == 1


def in_a_thread_of_its_own(coroutine_function):
    """Run the poller as `runbot` does, on an event loop of a thread of its own: in a test process
    another test's library (Playwright's sync API) may have left an event loop in the main thread,
    where async_to_sync refuses to run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(async_to_sync(coroutine_function)).result()
