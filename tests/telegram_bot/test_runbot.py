"""`manage.py runbot`: off without a token; the polling loop (bot.poll) against the fake's
getUpdates; the polling Application handles each update_id once.
(The poller closes stale database connections between updates, bot.poller; a test that ended every
backend of the test database in a shared test process starved the pool of other tests' threads and
failed by ordering, and was removed.)"""

import asyncio
import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from telegram import Update

from telegram_bot import bot
from telegram_bot.models import ProcessedUpdate
from tests.telegram_bot.conftest import CHAT, OTHER_CHAT, message

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


class Poller:
    """`runbot`'s loop (bot.poll, as the command runs it) on a thread of its own with its own
    event loop, stopped as Ctrl-C stops it: the application's stop on its loop."""

    def __init__(self):
        self.application = bot.poller()
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="runbot", daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            bot.poll(self.application, signals=False)
        except BaseException as exc:  # seen by stop()
            self.error = exc
        finally:
            self.loop.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.application.stop_running)
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the poller did not stop"
        assert self.error is None, self.error
        assert not self.application.bot_data.get("errors")


def test_runbot_deletes_the_webhook_polls_and_confirms_the_offset_when_it_stops(tg, linked):
    """A webhook left set would make Telegram refuse getUpdates (409): the poller deletes it first.
    Two updates, one answer each; after a stop the last offset is confirmed, so a restarted
    poller is handed only the new update (and each update is answered once in all)."""
    tg.webhook = "https://tutoring.example.com/telegram/webhook/"
    first, second = message(CHAT, "/help"), message(OTHER_CHAT, "/help")
    tg.push(first, second)
    with Poller():
        replies = tg.wait_for("sendMessage", 2)
        assert len(replies) == 2
    assert tg.calls("deleteWebhook") and tg.webhook == ""
    assert {int(r["chat_id"]) for r in replies} == {CHAT, OTHER_CHAT}
    assert tg.pending == []  # confirmed: the stop's last getUpdates carried the next offset
    assert int(tg.calls("getUpdates")[-1]["offset"]) == second["update_id"] + 1
    assert int(tg.calls("getUpdates")[0]["timeout"]) == bot.POLL_TIMEOUT
    seen_before = len(tg.delivered)

    third = message(CHAT, "/help")
    with Poller():
        tg.push(third)
        assert len(tg.wait_for("sendMessage", 3)) == 3
    handed = [i for ids in tg.delivered[seen_before:] for i in ids]
    assert first["update_id"] not in handed and second["update_id"] not in handed
    assert len(tg.calls("sendMessage")) == 3
    assert set(ProcessedUpdate.objects.values_list("update_id", flat=True)) == {
        first["update_id"], second["update_id"], third["update_id"]}
