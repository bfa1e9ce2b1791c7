"""`manage.py runbot`: off without a token; the polling Application handles each update_id once
and keeps working when the database drops its connection."""

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.core.management import call_command
from django.db import connection
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


def terminate_the_other_connections(spare: int) -> int:
    """What a database restart does to the poller: every other backend of this database but the
    test's own (`spare`, which the test's teardown still uses) ends (pg_terminate_backend, from a
    connection of another thread)."""
    ended = []

    def terminate():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> %s) AS t",
                               [spare])
                ended.append(cursor.fetchone()[0])
        finally:
            connection.close()

    thread = threading.Thread(target=terminate)
    thread.start()
    thread.join(timeout=60)
    return ended[0]


def test_the_poller_keeps_working_after_the_database_dropped_its_connection(linked, tg, frozen):
    """The poller's connection is ended between two updates: the next update is answered."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        test_connection = cursor.fetchone()[0]

    async def poll():
        application = bot.poller()
        async with application:
            await application.process_update(Update.de_json(message(CHAT, "/help"), application.bot))
            assert await sync_to_async(terminate_the_other_connections)(test_connection) >= 1
            await application.process_update(Update.de_json(message(CHAT, "/sessions"), application.bot))
        return application.bot_data.get("errors")

    assert in_a_thread_of_its_own(poll) is None
    assert [m["text"] for m in tg.calls("sendMessage")][1:] == ["You have no sessions today or coming up."]
