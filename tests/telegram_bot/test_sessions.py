"""A session run from Telegram: /sessions, check-in and check-out (commands and buttons), the
lifecycle's own refusals, stale buttons, and a linked chat that is not the session's tutor."""

from datetime import timedelta

import pytest

from sessions.models import SessionEvent, Status
from telegram_bot.models import ChatState, TelegramLink
from tests.conftest import NOW, make_user
from tests.telegram_bot.conftest import CHAT, OTHER_CHAT, buttons, last_text, message, press, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def today(make_session):
    """A one-hour session starting 20 minutes after NOW."""
    return make_session(start=NOW + timedelta(minutes=20))


def test_sessions_lists_today_and_next_with_the_allowed_buttons(linked, today, session, tg, frozen):
    send(message(CHAT, "/sessions"))
    first, second = tg.calls("sendMessage")
    assert first["text"].startswith("Algebra I with Sam, Mon 16 Nov 10:20–11:20 (Scheduled)")
    assert buttons(first) == [f"a:ci:{today.id}"]  # inside 4 hours: no cancel or reschedule
    assert second["text"].startswith("Algebra I with Sam, Wed 18 Nov 10:00–11:00")
    assert buttons(second) == [f"a:cx:{session.id}", f"a:rs:{session.id}"]


def test_checkin_command_refuses_with_the_lifecycles_words_too_early(linked, make_session, tg, frozen):
    """L14, L44: /checkin follows the web's window: 'Check-in opens in 12 minutes.'"""
    s = make_session(start=NOW + timedelta(minutes=42))
    send(message(CHAT, "/checkin"))
    assert last_text(tg).endswith("Check-in opens in 12 minutes.")
    s.refresh_from_db()
    assert s.status == Status.SCHEDULED
    assert not SessionEvent.objects.filter(session=s).exists()


def test_checkin_command_checks_in_the_one_session_that_qualifies(linked, today, tg, frozen):
    """L04, L14: the tutor checks in through Telegram; the event says so."""
    send(message(CHAT, "/checkin"))
    assert last_text(tg).startswith("Checked in.\nAlgebra I with Sam")
    today.refresh_from_db()
    assert today.status == Status.CHECKED_IN and today.checked_in_at == NOW
    assert SessionEvent.objects.get(session=today, kind="check_in").channel == "telegram"



def test_stale_scheduled_sessions_do_not_crowd_out_todays(linked, today, make_session, tg, frozen):
    """L04: 25 sessions left scheduled weeks ago (awaiting the no-show sweep) come first by start,
    but /checkin still finds today's session and checks it in."""
    for week in range(25):
        make_session(start=NOW - timedelta(days=30, hours=week * 3))
    send(message(CHAT, "/checkin"))
    assert last_text(tg).startswith("Checked in.\nAlgebra I with Sam")
    today.refresh_from_db()
    assert today.status == Status.CHECKED_IN

def test_checkin_picker_when_several_qualify(linked, make_session, tg, frozen):
    a = make_session(start=NOW - timedelta(hours=2), minutes=30)  # earlier today, still open
    b = make_session(start=NOW + timedelta(minutes=25), minutes=30)
    send(message(CHAT, "/checkin"))
    call = tg.calls("sendMessage")[-1]
    assert call["text"] == "Which session do you want to check in to?"
    assert buttons(call) == [f"a:ci:{a.id}", f"a:ci:{b.id}"]
    send(press(f"a:ci:{b.id}"))
    b.refresh_from_db()
    a.refresh_from_db()
    assert (a.status, b.status) == (Status.SCHEDULED, Status.CHECKED_IN)
    edit = tg.calls("editMessageText")[-1]
    assert edit["text"].startswith("Checked in.")
    assert tg.calls("answerCallbackQuery")


def test_a_stale_button_answers_with_the_current_state_and_does_nothing(linked, today, tg, frozen):
    """L44: the check-in button pressed again after the session changed."""
    send(press(f"a:ci:{today.id}"))
    events = SessionEvent.objects.filter(session=today).count()
    send(press(f"a:ci:{today.id}"))
    edit = tg.calls("editMessageText")[-1]
    assert edit["text"].startswith("Only a scheduled session can be checked into.\nNow: Algebra I with Sam")
    assert "(Checked in)" in edit["text"]
    assert SessionEvent.objects.filter(session=today).count() == events


def test_checkout_too_early_then_did_not_attend(linked, today, tg, frozen):
    """L19, L44: check-out opens 30 minutes before the end, as on the web; 'student did not attend'."""
    send(press(f"a:ci:{today.id}"))
    send(message(CHAT, "/checkout"))
    assert last_text(tg).endswith("Check-out opens in 50 minutes.")
    send(press(f"a:co:{today.id}"))  # a button from earlier
    assert tg.calls("editMessageText")[-1]["text"].startswith("Check-out opens in 50 minutes.")
    frozen.shift(timedelta(minutes=50))
    send(message(CHAT, "/checkout"))
    assert buttons(tg.calls("sendMessage")[-1]) == [f"a:co:{today.id}", f"a:ab:{today.id}"]
    send(press(f"a:ab:{today.id}"))
    today.refresh_from_db()
    assert (today.status, today.no_show_party) == (Status.NO_SHOW, "student")
    assert tg.calls("editMessageText")[-1]["text"].startswith("Checked out: the student did not attend.")


def test_checkout_closes_24_hours_after_the_end(linked, make_session, tg, frozen):
    """L19: 24 hours after the scheduled end, the lifecycle's refusal, nothing changes."""
    s = make_session(start=NOW - timedelta(hours=26), status=Status.CHECKED_IN, checked_in_at=NOW - timedelta(hours=26))
    send(message(CHAT, "/checkout"))
    assert last_text(tg).endswith("Check-out closed 24 hours after the scheduled end: contact your coordinator.")
    s.refresh_from_db()
    assert s.status == Status.CHECKED_IN


def test_check_out_then_notes_are_asked_for(linked, today, tg, frozen):
    send(press(f"a:ci:{today.id}"))
    frozen.shift(timedelta(minutes=55))
    send(message(CHAT, "/checkout"))
    send(press(f"a:co:{today.id}"))
    today.refresh_from_db()
    assert today.status == Status.AWAITING_APPROVAL_PARENT
    assert last_text(tg).startswith("Send your notes now")
    assert ChatState.objects.get(chat_id=CHAT).data == {"step": "notes", "session": today.id}


def test_a_linked_chat_that_is_not_the_sessions_tutor_can_do_nothing(db, today, tg, frozen, linked):
    """L44: Otto is linked, but not Sam's tutor: every button on Tia's session is 'not found'."""
    otto = make_user("otto", "tutor")
    TelegramLink.objects.create(user=otto, chat_id=OTHER_CHAT, linked_at=NOW)
    for data in (f"a:ci:{today.id}", f"a:cx:{today.id}", f"a:rs:{today.id}", f"a:nt:{today.id}",
                 f"a:ac:{today.id}:1", "a:ci:nonsense", "a:zz:1", "garbage"):
        send(press(data, chat_id=OTHER_CHAT))
    texts = [c["text"] for c in tg.calls("editMessageText")]
    assert texts[:6] == ["Session not found."] * 6
    assert all("Tia" not in t and "Sam" not in t for t in texts)
    send(message(OTHER_CHAT, "/checkin"))
    assert last_text(tg) == "You have no session to check in to now."
    today.refresh_from_db()
    assert today.status == Status.SCHEDULED
    assert not SessionEvent.objects.filter(session=today).exists()


def test_unknown_command_and_help(linked, tg, frozen):
    send(message(CHAT, "/frobnicate"))
    assert last_text(tg).startswith("I do not know /frobnicate.")
    send(message(CHAT, "/help"))
    assert "/checkin" in last_text(tg)


def test_a_double_tapped_stale_button_is_answered_quietly(linked, today, tg, frozen):
    """L44: the check-in button of one message tapped three times: checked in, then the current
    state, then an edit that would change nothing, which Telegram refuses ("message is not
    modified"): the tap is answered, nothing changes, and no "Sorry, something went wrong"."""
    from telegram_bot.models import ProcessedUpdate
    from tests.fakes.telegram_server import NOT_MODIFIED

    send(message(CHAT, "/sessions"))
    listed = tg.calls("sendMessage")[-1]
    assert buttons(listed) == [f"a:ci:{today.id}"]
    shown = tg.messages_of(CHAT)[-1]  # the message with the button
    for _ in range(3):
        send(press(f"a:ci:{today.id}", message_id=shown))
    edits = [c["text"] for c in tg.calls("editMessageText")]
    assert edits[0].startswith("Checked in.")
    assert edits[1] == edits[2] and edits[1].startswith("Only a scheduled session can be checked into.\nNow: ")
    assert tg.refusals == [("editMessageText", NOT_MODIFIED)]
    assert len(tg.calls("answerCallbackQuery")) == 3
    assert not any("Sorry" in t for t in tg.texts())
    assert len(tg.calls("sendMessage")) == 1
    assert not ProcessedUpdate.objects.filter(answered_at__isnull=True).exists()
    assert SessionEvent.objects.filter(session=today).count() == 1


def test_a_command_picks_by_its_guard_and_explains_what_the_card_would(linked, make_session, tg, frozen):
    """L44, issue 13: a command judges the tutor's live sessions by its entry's guard alone, and
    explains a refusal only as the card does: a checked-in session is not "in the wrong state" to
    /checkin, nor is a session three days out "too early"; /checkout of the checked-in one says
    when it opens."""
    make_session(start=NOW - timedelta(minutes=10), status=Status.CHECKED_IN,
                 checked_in_at=NOW - timedelta(minutes=10))
    later = make_session(start=NOW + timedelta(days=3))
    send(message(CHAT, "/checkin"))
    assert last_text(tg) == "You have no session to check in to now."
    send(message(CHAT, "/checkout"))
    assert last_text(tg).endswith("Check-out opens in 20 minutes.")
    send(message(CHAT, "/cancel"))  # the one session it allows: its conversation starts
    assert "Why do you want to cancel?" in last_text(tg)
    assert ChatState.objects.get(chat_id=CHAT).data == {"step": "cancel_reason", "session": later.id}


def test_the_explanation_looks_at_the_sessions_nearest_now(linked, make_session, tg, frozen):
    """The refusal explained is that of the session nearest now, however many of the tutor's
    sessions from earlier in the day are still scheduled (awaiting the no-show sweep): here 21 of
    them, and the one in progress, checked in 10 minutes ago, says when check-out opens (the
    explanation used to look at the first 20 live sessions by start and said there was none)."""
    for k in range(21):  # hour-long, from 75 minutes to about 23 hours ago
        make_session(start=NOW - timedelta(minutes=75 + 65 * k), status=Status.SCHEDULED)
    make_session(start=NOW - timedelta(minutes=10), status=Status.CHECKED_IN,
                 checked_in_at=NOW - timedelta(minutes=10))
    send(message(CHAT, "/checkout"))
    assert last_text(tg).endswith("Check-out opens in 20 minutes.")


def test_a_button_on_a_message_the_tutor_deleted_is_answered_in_a_new_message(client, linked, today, tg, frozen,
                                                                               caplog):
    """L44: the tutor presses Check in and deletes the message before the bot edits it; Telegram
    refuses the edit ("message to edit not found"): the answer goes out once as a new message (the
    same text and buttons), the update is answered, and there is no "Sorry, something went wrong"
    and no error in the log."""
    from telegram_bot.models import ProcessedUpdate
    from tests.fakes.telegram_server import EDIT_NOT_FOUND
    from tests.telegram_bot.test_delivery import post

    send(message(CHAT, "/sessions"))
    shown = tg.messages_of(CHAT)[-1]  # the message with the Check in button
    update = press(f"a:ci:{today.id}", message_id=shown)
    tg.forget(CHAT, shown)  # the tutor deleted it in their chat
    tg.clear()
    with caplog.at_level("INFO"):
        assert post(client, update).status_code == 200  # the webhook; its Celery task runs eagerly here
    today.refresh_from_db()
    assert today.status == Status.CHECKED_IN
    [edit] = tg.calls("editMessageText")
    assert int(edit["message_id"]) == shown and edit["text"].startswith("Checked in.")
    assert tg.refusals == [("editMessageText", EDIT_NOT_FOUND)]
    [sent] = tg.calls("sendMessage")
    assert (int(sent["chat_id"]), sent["text"], sent.get("reply_markup")) == (CHAT, edit["text"],
                                                                              edit.get("reply_markup"))
    assert not any("Sorry" in t for t in tg.texts())
    assert [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []
    assert ProcessedUpdate.objects.get(update_id=update["update_id"]).answered_at is not None
    assert SessionEvent.objects.filter(session=today).count() == 1
    assert post(client, update).status_code == 200  # Telegram delivers it again: nothing is sent twice
    assert len(tg.calls("sendMessage")) == 1
