"""Notes from Telegram right after check-out (L22): text, photos, documents up to 10 MB and voice
messages, through notes.services; too-large and wrong-type files refused with the web's reasons."""


import pytest

from notes.models import Attachment, Note
from sessions.models import SessionEvent
from tests.conftest import stored_files
from tests.notes.files import sample
from tests.telegram_bot.conftest import CHAT, document, last_text, message, photo, press, send, voice

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


@pytest.fixture
def taking_notes(linked, awaiting, tg, frozen):
    """Tia pressed "Add notes" on yesterday's session, which waits for the parent."""
    send(press(f"a:nt:{awaiting.id}"))
    assert tg.calls("editMessageText")[-1]["text"].startswith("Send your notes now")
    return awaiting


def test_text_photo_document_and_voice_become_notes(taking_notes, tg, notes_storage):
    """L22: free text, a photo (downloaded from Telegram and stored), a PDF and a voice memo."""
    _, jpg, _ = sample("jpg")
    _, pdf, _ = sample("pdf")
    _, ogg, _ = sample("voice")
    tg.add_file("ph1", jpg, "photos/file_1.jpg")
    tg.add_file("doc1", pdf, "documents/file_2.pdf")
    tg.add_file("vo1", ogg, "voice/file_3.oga")
    send(message(CHAT, "Worked on fractions; Sam was engaged."))
    assert last_text(tg).startswith("Saved: your text.")
    send(photo("ph1", len(jpg), caption="The board"))
    assert last_text(tg).startswith("Saved: your text, photo.jpg.")
    send(document("doc1", "worksheet.pdf", len(pdf)))
    assert last_text(tg).startswith("Saved: worksheet.pdf.")
    send(voice("vo1", len(ogg)))
    assert last_text(tg).startswith("Saved: voice.ogg.")
    kinds = sorted(Attachment.objects.filter(note__session=taking_notes).values_list("original_name", "kind"))
    assert kinds == [("photo.jpg", "photo"), ("voice.ogg", "audio"), ("worksheet.pdf", "document")]
    assert len(stored_files(notes_storage)) == 3
    assert Note.objects.filter(session=taking_notes).count() == 4
    assert set(SessionEvent.objects.filter(session=taking_notes, kind="notes_added")
               .values_list("channel", flat=True)) == {"telegram"}
    assert [c["file_id"] for c in tg.calls("getFile")] == ["ph1", "doc1", "vo1"]
    send(message(CHAT, "/done"))
    assert last_text(tg).startswith("Notes finished.")


def test_a_document_over_10_mb_is_refused_before_downloading(taking_notes, tg, notes_storage):
    """L22: Telegram says the size up front: refused with the web's reason, nothing fetched."""
    tg.add_file("big", b"%PDF-1.4", "documents/big.pdf", size=11 * MB)
    send(document("big", "scan.pdf", 11 * MB))
    assert last_text(tg) == "Nothing was saved: scan.pdf: the file is larger than 10 MB"
    assert tg.calls("getFile") == []
    assert not Note.objects.filter(session=taking_notes).exists()
    assert stored_files(notes_storage) == []


def test_a_document_larger_than_it_said_is_refused_after_downloading(taking_notes, tg, notes_storage):
    _, pdf, _ = sample("pdf", size=10 * MB + 1)
    tg.add_file("liar", pdf, "documents/liar.pdf", size=1000)
    send(document("liar", "scan.pdf", 1000))
    assert last_text(tg) == "Nothing was saved: scan.pdf: the file is larger than 10 MB"
    assert not Note.objects.filter(session=taking_notes).exists()
    assert stored_files(notes_storage) == []


def test_a_file_telegram_will_not_hand_out_is_too_big(taking_notes, tg):
    """Bot API getFile stops at 20 MB ("file is too big"): the same refusal."""
    tg.add_file("huge", b"x", "documents/huge.pdf", size=25 * MB)
    document_update = document("huge", "scan.pdf", 1)
    del document_update["message"]["document"]["file_size"]
    send(document_update)
    assert last_text(tg) == "Nothing was saved: scan.pdf: the file is larger than 10 MB"
    assert not Note.objects.filter(session=taking_notes).exists()


@pytest.mark.parametrize("key", ["exe", "exe-as-jpg", "pdf-as-mp3"])
def test_wrong_types_are_refused_with_the_webs_reason(key, taking_notes, tg, notes_storage):
    from tests.notes.files import NASTY

    name, data, mime = sample(key)
    tg.add_file("bad", data, f"documents/{name}")
    send(document("bad", name, len(data), mime=mime))
    assert last_text(tg) == f"Nothing was saved: {NASTY[key]}"
    assert not Note.objects.filter(session=taking_notes).exists()
    assert stored_files(notes_storage) == []


def test_a_sticker_is_not_a_note(taking_notes, tg):
    send(message(CHAT, sticker={"file_id": "st", "file_unique_id": "st", "type": "regular", "width": 512,
                                "height": 512, "is_animated": False, "is_video": False}))
    assert last_text(tg) == "I can keep text, photos, documents and voice messages as notes."
    assert not Note.objects.exists()


def test_files_outside_the_notes_step_are_not_taken(linked, awaiting, tg, frozen):
    _, jpg, _ = sample("jpg")
    tg.add_file("ph1", jpg, "photos/file_1.jpg")
    send(photo("ph1", len(jpg)))
    assert last_text(tg).startswith("Files are kept as notes right after check-out")
    assert tg.calls("getFile") == []
    assert not Note.objects.exists()


def test_notes_close_when_the_parent_acknowledges(taking_notes, tg, parent):
    """L44: the same rule as the web: notes stop once the parent acknowledged."""
    from sessions import lifecycle

    lifecycle.acknowledge(taking_notes, by=parent)
    send(message(CHAT, "One more thing."))
    assert last_text(tg) == "Notes can be added after check-out, until the parent acknowledges the session."
    assert not Note.objects.exists()
