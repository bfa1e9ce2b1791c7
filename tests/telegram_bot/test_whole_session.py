"""A whole session run from Telegram alone (issue 15's "done when"): the tutor links the chat with
the deep link from /telegram/, lists the sessions, checks in and out with the buttons, sends a
text and a photo as notes and finishes with /done. Every update arrives as Telegram posts it, on
the webhook (secret token, the Celery task, python-telegram-bot's client against the fake Bot
API); the notes are summarized by the pipeline web notes go through (the fake OpenAI server)."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from notes.models import Attachment, Note, Summary, SummaryStatus
from sessions.models import SessionEvent, Status
from telegram_bot.models import ChatState, TelegramLink
from tests.conftest import NOW, stored_files
from tests.fakes.openai_server import CHAT as OPENAI_CHAT
from tests.fakes.openai_server import DEFAULT_SUMMARY
from tests.notes.files import sample
from tests.telegram_bot.conftest import CHAT, SECRET, buttons, last_text, message, photo, press

pytestmark = pytest.mark.django_db


def telegram(update: dict) -> None:
    """Telegram posts the update to the webhook with the secret token."""
    response = Client().post("/telegram/webhook/", json.dumps(update), content_type="application/json",
                             HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET)
    assert response.status_code == 200, response.content


def test_a_whole_session_from_telegram_alone(client, tutor, parent, make_session, tg, frozen, fake_openai,
                                            notes_storage, django_capture_on_commit_callbacks):
    """L04 L14 L19 L20 L22 L23 L44: link, /sessions, check-in, /checkout, notes, /done."""
    session = make_session(start=NOW + timedelta(minutes=20))  # check-in is open (30 minutes before)

    # the web: /telegram/ offers the link; its one-time deep link carries the code
    client.force_login(tutor)
    page = client.get(reverse("telegram-link"))
    assert page.status_code == 200 and "Link Telegram" in page.content.decode()
    deep_link = client.post(reverse("telegram-link"), {"action": "link"}).context["deep_link"]
    code = deep_link.removeprefix("https://t.me/tutoring_test_bot?start=")
    assert code != deep_link

    telegram(message(CHAT, f"/start {code}"))
    assert last_text(tg).startswith("Linked: this chat now belongs to Tia.")
    assert TelegramLink.objects.get(user=tutor).chat_id == CHAT

    telegram(message(CHAT, "/sessions"))
    listed = tg.calls("sendMessage")[-1]
    assert listed["text"].startswith("Algebra I with Sam, Mon 16 Nov 10:20–11:20 (Scheduled)")
    assert buttons(listed) == [f"a:ci:{session.id}"]
    telegram(press(f"a:ci:{session.id}", message_id=tg.messages_of(CHAT)[-1]))
    assert tg.calls("editMessageText")[-1]["text"].startswith("Checked in.")
    session.refresh_from_db()
    assert (session.status, session.checked_in_at) == (Status.CHECKED_IN, NOW)

    frozen.shift(timedelta(minutes=55))  # check-out opens 30 minutes before the end (10:50)
    out_at = NOW + timedelta(minutes=55)
    telegram(message(CHAT, "/checkout"))
    picker = tg.calls("sendMessage")[-1]
    assert buttons(picker) == [f"a:co:{session.id}", f"a:ab:{session.id}"]
    telegram(press(f"a:co:{session.id}", message_id=tg.messages_of(CHAT)[-1]))
    assert last_text(tg).startswith("Send your notes now")
    session.refresh_from_db()
    assert (session.status, session.checked_out_at) == (Status.AWAITING_APPROVAL_PARENT, out_at)

    _, jpg, _ = sample("jpg")
    tg.add_file("board", jpg, "photos/file_7.jpg")
    with django_capture_on_commit_callbacks(execute=True):
        telegram(message(CHAT, "Fractions with unlike denominators; Sam was engaged."))
        assert last_text(tg).startswith("Saved: your text.")
        telegram(photo("board", len(jpg), caption="The board at the end"))
        assert last_text(tg).startswith("Saved: your text, photo.jpg.")
    telegram(message(CHAT, "/done"))
    assert last_text(tg) == "Notes finished. The parent is told once the summary is ready."
    assert not ChatState.objects.filter(chat_id=CHAT).exists()

    # the session, its events, its notes and attachment: all from Telegram
    session.refresh_from_db()
    assert session.status == Status.AWAITING_APPROVAL_PARENT
    events = list(SessionEvent.objects.filter(session=session).order_by("id").values_list("kind", "channel"))
    assert events == [("check_in", "telegram"), ("check_out", "telegram"), ("notes_added", "telegram"),
                      ("notes_added", "telegram")]
    notes = list(Note.objects.filter(session=session).order_by("id").values_list("text", flat=True))
    assert notes == ["Fractions with unlike denominators; Sam was engaged.", "The board at the end"]
    [attachment] = Attachment.objects.filter(note__session=session)
    assert (attachment.original_name, attachment.kind) == ("photo.jpg", "photo")
    assert stored_files(notes_storage) == [attachment.storage_name]
    assert (notes_storage / attachment.storage_name).read_bytes() == jpg  # Telegram's photo, as downloaded
    assert attachment.sha256 == hashlib.sha256(jpg).hexdigest()

    # summarized as a web note is: the summary task, OpenAI's structured summary of the notes
    summary = Summary.objects.get(session=session)
    assert (summary.status, summary.source, summary.data) == (SummaryStatus.READY, "openai", DEFAULT_SUMMARY)
    prompts = [json.dumps(r.body["messages"]) for r in fake_openai.requests if r.path == OPENAI_CHAT]
    assert prompts and "Fractions with unlike denominators; Sam was engaged." in prompts[-1]
    assert not any("Sorry" in t for t in tg.texts())
