"""Each update at least once, its effect once (telegram_bot.bot.handle_once): the work and the
update's record are one transaction, so a failure in the middle leaves the update to its
redelivery; a redelivery of a done update does nothing again, except send an answer that never
went out; two deliveries at once give one effect."""

import threading
import time
from datetime import timedelta
from functools import partial

import pytest
from django.db import DatabaseError, connection, transaction
from telegram.error import NetworkError

from sessions.models import Session, SessionEvent, Status
from telegram_bot import bot, core
from telegram_bot.models import ProcessedUpdate
from tests.conftest import NOW
from tests.fakes.fakeserver import Reply
from tests.telegram_bot.conftest import CHAT, message, press, send

pytestmark = pytest.mark.django_db


def check_ins(session) -> int:
    return SessionEvent.objects.filter(session=session, kind="check_in").count()


def test_a_database_error_in_the_middle_leaves_the_update_to_its_redelivery(linked, make_session, tg, frozen):
    """L14: the check-in fails half-way (the session is already marked checked in when the database
    refuses its event): nothing of it stays, not even the update's record, so Telegram's (or the
    task's) redelivery does the work, once; a third copy does nothing."""
    session = make_session(start=NOW + timedelta(minutes=10))
    update = press(f"a:ci:{session.id}")
    table = SessionEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'injected failure'; END $$")
        cursor.execute(f"CREATE TRIGGER refuse_event BEFORE INSERT ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION refuse_event()")
    with pytest.raises(DatabaseError, match="injected failure"):
        send(update)
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED
    assert not ProcessedUpdate.objects.filter(update_id=update["update_id"]).exists()
    assert tg.texts() == ["Sorry, something went wrong. Please try again in a moment."]

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER refuse_event ON {table}")
    assert bot.process(update) is True  # the redelivery
    session.refresh_from_db()
    assert session.status == Status.CHECKED_IN and check_ins(session) == 1
    assert tg.calls("editMessageText")[-1]["text"].startswith("Checked in.")
    assert bot.process(update) is False  # once more: nothing
    assert check_ins(session) == 1 and len(tg.calls("editMessageText")) == 1


def test_an_answer_that_did_not_go_out_is_sent_by_the_redelivery_without_doing_the_work_again(
        linked, make_session, tg, frozen):
    """The check-in is done and committed, then Telegram fails the answer (500): the redelivery
    sends the stored answer and does not check in again; after that, a copy sends nothing."""
    session = make_session(start=NOW + timedelta(minutes=10))
    update = press(f"a:ci:{session.id}")
    tg.queue(f"/bot{tg.token}/editMessageText",
             Reply(500, b'{"ok": false, "error_code": 500, "description": "Internal Server Error"}'))
    with pytest.raises(NetworkError):
        send(update)
    session.refresh_from_db()
    assert session.status == Status.CHECKED_IN and check_ins(session) == 1
    assert tg.calls("editMessageText") == []  # the failed one is not logged by the fake
    record = ProcessedUpdate.objects.get(update_id=update["update_id"])
    assert record.answered_at is None and record.answering_since is None  # free for the next delivery

    assert bot.process(update) is False  # the redelivery: no work, the answer
    [edit] = tg.calls("editMessageText")
    assert edit["text"].startswith("Checked in.")
    assert check_ins(session) == 1
    assert ProcessedUpdate.objects.get(update_id=update["update_id"]).answered_at == NOW
    bot.process(update)
    assert len(tg.calls("editMessageText")) == 1 and check_ins(session) == 1


def test_an_answer_whose_sender_died_is_sent_once_its_claim_is_stale(linked, tg, frozen):
    """A worker did the work and died before answering (its claim stays): a redelivery soon after
    leaves the answer to it, one after ANSWER_CLAIM sends it."""
    update = message(CHAT, "/help")
    inp = core.Input(chat_id=CHAT, kind="command", command="help")
    assert bot.handle_once(update["update_id"], partial(core.handle, inp)) == [core.Out(core.HELP)]
    assert bot.process(update) is False
    assert tg.calls("sendMessage") == []
    frozen.shift(bot.ANSWER_CLAIM + timedelta(seconds=1))
    assert bot.process(update) is False
    assert [m["text"] for m in tg.calls("sendMessage")] == [core.HELP]
    bot.process(update)
    assert len(tg.calls("sendMessage")) == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_update_delivered_twice_at_once_is_done_once(linked, make_session, tg, frozen):
    """Two workers take the same update at the same moment (a retry racing the first): the first
    checks in, the second's record waits for the first's transaction, finds it done and sends
    nothing: one check-in, one answer."""
    session = make_session(start=NOW + timedelta(minutes=10))
    update = press(f"a:ci:{session.id}")
    results, errors = [], []

    def deliver():
        try:
            results.append(bot.process(update))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=deliver) for _ in range(2)]
    with transaction.atomic():
        Session.objects.select_for_update().get(pk=session.pk)  # the check-in waits here, inside its transaction
        for worker in workers:
            worker.start()
        waiting = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until one waits for the session and the other for the first's record
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND wait_event_type = 'Lock'")
                waiting = cursor.fetchone()[0]
            if waiting == 2:
                break
        assert waiting == 2, errors
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []
    assert sorted(results) == [False, True]
    session.refresh_from_db()
    assert session.status == Status.CHECKED_IN and check_ins(session) == 1
    assert len(tg.calls("editMessageText")) == 1
