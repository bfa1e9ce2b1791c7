"""Bad input through the bot gets a clear message and changes nothing."""

import pytest

from sessions.models import SessionEvent, Status
from tests.telegram_bot.conftest import CHAT, last_text, message, press, send

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("data", ["", "a", "a:ci", "a:ci:1:2:3", "r:", "r:abc", "y", "n", "x" * 64, "a:ci:-1",
                                  "a:ci:99999999999999999999"])
def test_forged_button_data_does_nothing(data, linked, session, tg, frozen):
    send(press(data))
    text = tg.calls("editMessageText")[-1]["text"]
    assert text in ("That step is over. Send /sessions to see where things stand.", "Session not found.")
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED
    assert not SessionEvent.objects.exists()


def test_a_reason_from_another_picker_is_refused(linked, session, reasons, tg, frozen):
    send(message(CHAT, "/cancel"))
    send(press(f"r:{reasons[('parent', 'cancel')].id}"))  # a parent's reason, forged
    assert tg.calls("editMessageText")[-1]["text"] == "Choose one of the tutor's cancel reasons."
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED


def test_an_overlong_or_broken_note_is_refused(linked, session, reasons, tg, frozen):
    send(message(CHAT, "/cancel"))
    send(press(f"r:{reasons[('tutor', 'cancel', 'other')].id}"))
    send(message(CHAT, "x" * 2001))
    assert "2000" in last_text(tg) or "2,000" in last_text(tg)
    send(message(CHAT, "bad \x00 byte"))
    assert "Penalty" not in last_text(tg)
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED
    assert not SessionEvent.objects.exists()


def test_an_overlong_notes_text_is_refused(linked, awaiting, tg, frozen):
    from notes.models import Note

    send(press(f"a:nt:{awaiting.id}"))
    send(message(CHAT, "y" * 20_001))
    assert "20000" in last_text(tg) or "20,000" in last_text(tg)
    assert not Note.objects.exists()


@pytest.mark.parametrize("data", ["r:²", "r:١٢", "r:99999999999999999999", "r:-1", "r:0"])
def test_a_forged_reason_button_in_a_conversation_is_refused(data, linked, session, reasons, tg, frozen):
    """A reason button's number that is no reason ("²" is a digit to str.isdigit, not to int) is
    the picker's own refusal, and the conversation stays where it was."""
    send(message(CHAT, "/cancel"))
    send(press(data))
    assert tg.calls("editMessageText")[-1]["text"] == "Choose one of the tutor's cancel reasons."
    send(press(f"r:{reasons[('tutor', 'cancel')].id}"))  # the real one still works
    assert "Cancel" in tg.calls("editMessageText")[-1]["text"]
    session.refresh_from_db()
    assert session.status == Status.SCHEDULED
    assert not SessionEvent.objects.exists()


@pytest.mark.parametrize("text", ["9999-12-31 23:59", "0001-01-01 00:00", "1999-12-31 23:59", "2101-01-01 00:00"])
def test_a_new_time_outside_the_shared_range_is_refused(text, linked, session, reasons, tg, frozen):
    """A reschedule time outside 2000..2100 says so (the year 9999 overflowed when its length was
    added) and asks again; nothing is proposed."""
    from sessions.models import RescheduleProposal

    send(message(CHAT, "/reschedule"))
    send(press(f"r:{reasons[('tutor', 'reschedule')].id}"))
    send(message(CHAT, text))
    assert last_text(tg).startswith("Choose a date between the years 2000 and 2100. Send the new start as")
    send(press("y:1"))  # a forged confirmation of the refused time
    assert not RescheduleProposal.objects.exists()
    assert not SessionEvent.objects.exists()
