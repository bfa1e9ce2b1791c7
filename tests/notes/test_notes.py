"""Adding notes and reading them: the service, the web pages and the attachment links.

The local storage (a folder per test, see tests/conftest.py) stands in for R2 here; the same
contract against a real S3 server is in test_s3_notes.py."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from notes import services
from notes.models import Attachment, Note, Summary, SummaryStatus, TranscriptStatus
from notifications import dispatch
from notifications.kinds import NOTES_SETTLE
from notifications.models import Notification
from sessions.errors import Refused
from sessions.models import SessionEvent, Status
from tests.conftest import NOW, stored_files
from tests.notes.files import sample


def upload(ext_or_kind: str, name: str | None = None) -> SimpleUploadedFile:
    filename, data, content_type = sample(ext_or_kind)
    return SimpleUploadedFile(name or filename, data, content_type=content_type)


def add(session, tutor, text="Worked on fractions. Sam was engaged.", files=(), now=None):
    return services.add_notes(session, by=tutor, text=text, files=list(files), now=now or NOW)


# --- adding notes -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_tutor_adds_text_photo_document_and_audio(awaiting, tutor, parent, notes_storage,
                                                  django_capture_on_commit_callbacks):
    """L20, L21, L22: after check-out the tutor's notes carry text, a photo, a document and a voice
    memo; the files are stored under generated names, linked to the session; the parents hear."""
    with django_capture_on_commit_callbacks(execute=True):
        result = add(awaiting, tutor, files=[upload(".jpg", "board.jpg"), upload(".pdf", "worksheet.pdf"),
                                             upload(".m4a", "memo.m4a")])
    note = Note.objects.get(session=awaiting)
    assert note.text == "Worked on fractions. Sam was engaged."
    kinds = {a.original_name: a.kind for a in note.attachments.all()}
    assert kinds == {"board.jpg": "photo", "worksheet.pdf": "document", "memo.m4a": "audio"}
    assert result.refusals == []
    files = stored_files(notes_storage)
    assert len(files) == 3
    for a in note.attachments.all():
        assert a.storage_name in files
        assert a.original_name.rsplit(".", 1)[0] not in a.storage_name  # generated, not the user's name
        assert a.storage_name.startswith(f"notes/{awaiting.id}/")
    event = SessionEvent.objects.get(session=awaiting, kind="notes_added")
    assert event.data == {"attachments": 3, "chars": len(note.text)}
    # the parents hear once the tutor has added no notes for a while (NOTES_SETTLE)
    assert not Notification.objects.filter(recipient=parent, kind="notes_added").exists()
    dispatch.dispatch(now=timezone.now() + NOTES_SETTLE)
    assert Notification.objects.filter(recipient=parent, kind="notes_added").exists()
    # no OpenAI key here: the local extract is made at once, and the memo waits for no transcript
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source, summary.version, summary.summarized_version) == (
        SummaryStatus.READY, "local", 1, 1)
    assert "Sam was engaged." in summary.data["engagement"]
    assert note.attachments.get(kind="audio").transcript_status == TranscriptStatus.UNAVAILABLE


@pytest.mark.django_db
def test_a_bad_attachment_keeps_the_text_and_the_good_files(awaiting, tutor, notes_storage):
    """A note with one bad attachment keeps its text and good files; the refusal names the file."""
    result = add(awaiting, tutor, files=[upload(".exe", "voice-memo.exe"), upload(".pdf", "plan.pdf")])
    assert [str(r) for r in result.refusals] == ["voice-memo.exe: this file type is not accepted"]
    note = Note.objects.get(session=awaiting)
    assert [a.original_name for a in note.attachments.all()] == ["plan.pdf"]
    assert len(stored_files(notes_storage)) == 1


@pytest.mark.django_db
def test_only_bad_files_and_no_text_saves_nothing(awaiting, tutor, notes_storage):
    with pytest.raises(Refused) as refused:
        add(awaiting, tutor, text="  ", files=[upload(".exe", "voice-memo.exe")])
    assert refused.value.status == 422
    assert refused.value.message == "Nothing was saved: voice-memo.exe: this file type is not accepted"
    assert refused.value.errors == [{"field": "files", "file": "voice-memo.exe",
                                     "detail": "voice-memo.exe: this file type is not accepted"}]
    assert not Note.objects.exists() and stored_files(notes_storage) == []
    assert not SessionEvent.objects.filter(kind="notes_added").exists()


@pytest.mark.django_db
def test_empty_and_oversized_text_are_refused(awaiting, tutor):
    with pytest.raises(Refused, match="Write a note or attach a file."):
        add(awaiting, tutor, text=" \n ")
    with pytest.raises(Refused, match="at most 20,000 characters"):
        add(awaiting, tutor, text="x" * 20_001)
    assert not Note.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.CHECKED_IN, Status.APPROVED, Status.DISPUTED,
                                    Status.NO_SHOW, Status.CANCELLED_BY_PARENT])
def test_notes_only_between_check_out_and_acknowledgement(make_session, tutor, status, notes_storage):
    """The tutor can add to the notes until the parent acknowledges, not before check-out."""
    session = make_session(start=NOW - timedelta(days=1), status=status)
    with pytest.raises(Refused) as refused:
        add(session, tutor, files=[upload(".pdf")])
    assert refused.value.code == "notes_closed"
    assert refused.value.message == "Notes can be added after check-out, until the parent acknowledges the session."
    assert not Note.objects.exists() and stored_files(notes_storage) == []


@pytest.mark.django_db
def test_only_the_tutor_writes_notes(awaiting, parent, coordinator, creator, notes_storage):
    for someone in (parent, coordinator, creator):
        with pytest.raises(Refused) as refused:
            add(awaiting, someone, files=[upload(".pdf")])
        assert refused.value.status == 403
        assert refused.value.message == "Only the session's tutor can write its notes."
    assert not Note.objects.exists() and stored_files(notes_storage) == []


@pytest.mark.django_db
def test_acknowledged_meanwhile_removes_the_stored_files(awaiting, tutor, notes_storage):
    """The parent acknowledges while the tutor's upload is being stored: the lifecycle's guard under
    the lock refuses, and the files already stored are removed again."""
    stale = type(awaiting).objects.get(pk=awaiting.pk)  # the tutor's view of it, before the parent acts
    type(awaiting).objects.filter(pk=awaiting.pk).update(status=Status.APPROVED)
    with pytest.raises(Refused, match="until the parent acknowledges"):
        add(stale, tutor, files=[upload(".jpg"), upload(".pdf")])
    assert not Note.objects.exists()
    assert stored_files(notes_storage) == []


@pytest.mark.django_db
def test_adding_again_bumps_the_version_and_the_summary_covers_both(awaiting, tutor,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        add(awaiting, tutor, text="Sam was focused on algebra.")
    with django_capture_on_commit_callbacks(execute=True):
        add(awaiting, tutor, text="Next time we will review homework on equations.",
            now=NOW + timedelta(minutes=5))
    summary = Summary.objects.get(session=awaiting)
    assert (summary.version, summary.summarized_version, summary.status) == (2, 2, SummaryStatus.READY)
    assert any("review homework" in step for step in summary.data["next_steps"])
    assert "focused" in summary.data["engagement"]


@pytest.mark.django_db
def test_summarize_is_idempotent_and_never_overwrites_newer_notes(awaiting, tutor):
    """Idempotent per notes version: a second run does nothing; a run for an old version is dropped."""
    add(awaiting, tutor, text="Sam was focused.")
    assert services.summarize(awaiting.id, 1) == SummaryStatus.READY
    assert services.summarize(awaiting.id, 1) == "already"
    add(awaiting, tutor, text="Sam was distracted later.")  # version 2, its task not run yet
    assert services.summarize(awaiting.id, 1) == "superseded"
    summary = Summary.objects.get(session=awaiting)
    assert (summary.version, summary.summarized_version, summary.status) == (2, 1, SummaryStatus.PENDING)
    assert summary.is_stale
    assert services.summarize(awaiting.id, 2) == SummaryStatus.READY


# --- the web pages ----------------------------------------------------------------------------


def notes_url(session):
    return reverse("session-notes", args=[session.id])


@pytest.mark.django_db
def test_tutor_posts_notes_with_files_from_the_form(client, awaiting, tutor, notes_storage):
    """L20: the notes form (multipart, no JavaScript): saved, then back to the notes with a message."""
    client.force_login(tutor)
    response = client.post(notes_url(awaiting), {
        "text": "Fractions.", "files": [upload(".png", "board.png"), upload(".exe", "voice-memo.exe")]})
    assert response.status_code == 303 and response["Location"] == notes_url(awaiting)
    page = client.get(notes_url(awaiting)).content.decode()
    assert "Notes saved with 1 attachment." in page
    assert "Not attached: voice-memo.exe: this file type is not accepted" in page
    assert "board.png" in page and "Fractions." in page
    assert len(stored_files(notes_storage)) == 1


@pytest.mark.django_db
def test_htmx_post_answers_with_the_panel(client, awaiting, tutor):
    client.force_login(tutor)
    response = client.post(notes_url(awaiting), {"text": "Fractions.", "files": [upload(".pdf", "w.pdf")]},
                           headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="notes-panel">')
    assert "Notes saved with 1 attachment." in body and "w.pdf" in body


@pytest.mark.django_db
def test_refused_post_keeps_the_text(client, awaiting, tutor):
    client.force_login(tutor)
    response = client.post(notes_url(awaiting), {"text": "", "files": [upload(".exe", "voice-memo.exe")]})
    assert response.status_code == 422
    assert "Nothing was saved: voice-memo.exe: this file type is not accepted" in response.content.decode()
    response = client.post(notes_url(awaiting), {"text": "x" * 20_001})
    assert response.status_code == 422 and "x" * 100 in response.content.decode()
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_readers_see_the_notes_and_only_the_tutor_gets_the_form(client, awaiting, tutor, parent, coordinator,
                                                                creator, course):
    """L23, L25, H14: the parent, coordinators and the course's creator read the notes and summary."""
    add(awaiting, tutor, text="Sam was engaged and confident.", files=[upload(".pdf", "plan.pdf")])
    for user, form in ((tutor, True), (parent, False), (coordinator, False), (creator, False)):
        client.force_login(user)
        page = client.get(notes_url(awaiting)).content.decode()
        assert "Sam was engaged and confident." in page and "plan.pdf" in page, user
        assert "Summary" in page
        assert ('name="files"' in page) is form, user


@pytest.mark.django_db
def test_outsiders_and_the_student_get_404_and_change_nothing(client, awaiting, tutor, student, outsider,
                                                             notes_storage):
    add(awaiting, tutor, text="Private notes.", files=[upload(".pdf", "plan.pdf")])
    attachment = Attachment.objects.get()
    before = (Note.objects.count(), stored_files(notes_storage))
    for user in (outsider, student):
        client.force_login(user)
        assert client.get(notes_url(awaiting)).status_code == 404
        assert client.post(notes_url(awaiting), {"text": "mine", "files": [upload(".pdf")]}).status_code == 404
        assert client.get(reverse("notes-attachment", args=[attachment.id])).status_code == 404
        assert client.get(f"/api/sessions/{awaiting.id}/notes").status_code == 404
        assert client.get(f"/api/sessions/{awaiting.id}/notes/summary").status_code == 404
        assert client.post(f"/api/sessions/{awaiting.id}/notes", {"text": "mine"}).status_code == 404
    client.logout()
    assert client.get(notes_url(awaiting)).status_code == 302  # to sign-in
    assert client.get(reverse("notes-attachment", args=[attachment.id])).status_code == 302
    assert (Note.objects.count(), stored_files(notes_storage)) == before


@pytest.mark.django_db
def test_parent_posting_notes_is_refused(client, awaiting, parent):
    client.force_login(parent)
    response = client.post(notes_url(awaiting), {"text": "I write too"})
    assert response.status_code == 403
    assert "Only the session&#x27;s tutor can write its notes." in response.content.decode()
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_attachment_link_serves_the_file_under_its_name_and_expires(client, awaiting, tutor, parent):
    """Every read is a link valid for at most 5 minutes; a tampered or expired link is refused."""
    filename, data, _ = sample(".pdf")
    add(awaiting, tutor, files=[SimpleUploadedFile('work "sheet"\n.pdf', data)])
    attachment = Attachment.objects.get()
    client.force_login(parent)
    with time_machine.travel(NOW, tick=False):
        redirect = client.get(reverse("notes-attachment", args=[attachment.id]))
        assert redirect.status_code == 302 and redirect["Cache-Control"] == "private, no-store"
        link = redirect["Location"]
        client.logout()  # the link itself is the permission, like a presigned URL
        response = client.get(link)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == data
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "\n" not in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"].startswith("sandbox")
        token = link.rstrip("/").rsplit("/", 1)[1]
        tampered = link.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
        assert client.get(tampered).status_code == 403
    with time_machine.travel(NOW + timedelta(seconds=299), tick=False):
        assert client.get(link).status_code == 200
    with time_machine.travel(NOW + timedelta(seconds=301), tick=False):
        expired = client.get(link)
        assert expired.status_code == 403
        assert expired.content == b"This link has expired. Open the attachment again from the notes."


@pytest.mark.django_db
def test_photos_and_audio_open_inline_documents_download(client, awaiting, tutor, parent):
    add(awaiting, tutor, files=[upload(".jpg", "board.jpg"), upload(".pdf", "plan.pdf")])
    client.force_login(parent)
    photo, document = Attachment.objects.order_by("id")
    inline = client.get(reverse("notes-attachment", args=[photo.id]) + "?inline=1")["Location"]
    assert client.get(inline)["Content-Disposition"].startswith("inline;")
    forced = client.get(reverse("notes-attachment", args=[document.id]) + "?inline=1")["Location"]
    assert client.get(forced)["Content-Disposition"].startswith("attachment;")


@pytest.mark.django_db
def test_parent_card_shows_notes_attachments_and_summary(client, awaiting, tutor, parent, student,
                                                         django_capture_on_commit_callbacks):
    """L25: the parent reviews the tutor's notes on the session card before acknowledging."""
    with django_capture_on_commit_callbacks(execute=True):
        add(awaiting, tutor, text="Sam was engaged. Next we practise equations.",
            files=[upload(".jpg", "board.jpg"), upload(".m4a", "memo.m4a")])
    client.force_login(parent)
    for url in ("/family/?tab=past", f"/sessions/{awaiting.id}/"):
        page = client.get(url).content.decode()
        assert "Session notes" in page and "Sam was engaged." in page
        assert 'alt="Photo: board.jpg"' in page and "<audio" in page
        assert "automatic extract of the notes, not AI" in page
        assert "Next we practise equations." in page
    client.force_login(student)
    assert "Sam was engaged." not in client.get("/learn/").content.decode()


@pytest.mark.django_db
def test_check_out_leads_to_the_notes_form(client, make_session, tutor):
    """L20: after check-out the tutor is prompted for notes."""
    session = make_session(start=NOW - timedelta(minutes=50), status=Status.CHECKED_IN, checked_in_at=NOW)
    client.force_login(tutor)
    with time_machine.travel(NOW, tick=False):
        response = client.post(f"/sessions/{session.id}/check-out/")
        assert response.status_code == 303 and response["Location"] == notes_url(session)
        page = client.get(notes_url(session)).content.decode()
    assert "Write your notes" in page and 'type="file"' in page and "<progress" in page


@pytest.mark.django_db
def test_text_postgresql_cannot_store_is_refused_not_a_500(client, awaiting, tutor):
    """NUL characters (form or API) and lone surrogates (only JSON can carry them) get a 422."""
    client.force_login(tutor)
    response = client.post(notes_url(awaiting), {"text": "hello\x00world"})
    assert response.status_code == 422 and "cannot be saved" in response.content.decode()
    for raw in (b'{"text": "hello\\u0000world"}', b'{"text": "broken \\ud800 surrogate"}'):
        api = client.generic("POST", f"/api/sessions/{awaiting.id}/notes", raw, content_type="application/json")
        assert api.status_code == 422 and api.json()["code"] == "invalid_text", api.content
    assert not Note.objects.exists()


@pytest.mark.django_db
def test_a_storage_outage_keeps_the_text_and_says_which_file_was_not_stored(client, awaiting, tutor, s3_server,
                                                                          settings):
    """The store refuses (here: SeaweedFS with a wrong secret key): the note's text is saved and
    the file is reported, instead of an error page that loses what the tutor wrote."""
    from tutoring.settings import s3_notes_storage

    settings.STORAGES = {**settings.STORAGES, "notes": s3_notes_storage(
        bucket=s3_server.bucket, endpoint_url=s3_server.endpoint_url, access_key=s3_server.access_key,
        secret_key="not-the-secret")}
    client.force_login(tutor)
    response = client.post(notes_url(awaiting), {"text": "Fractions.", "files": [upload(".pdf", "plan.pdf")]})
    assert response.status_code == 303
    note = Note.objects.get()
    assert note.text == "Fractions." and not note.attachments.exists()
    page = client.get(notes_url(awaiting)).content.decode()
    assert "plan.pdf: could not be stored just now: please attach it again in a few minutes" in page
    nothing = client.post(notes_url(awaiting), {"files": [upload(".pdf", "plan.pdf")]})
    assert nothing.status_code == 503 and Note.objects.count() == 1


@pytest.mark.django_db
def test_refused_because_acknowledged_meanwhile_keeps_the_typed_text(client, awaiting, tutor):
    client.force_login(tutor)
    type(awaiting).objects.filter(pk=awaiting.pk).update(status=Status.APPROVED)
    response = client.post(notes_url(awaiting), {"text": "Everything I wrote."})
    page = response.content.decode()
    assert response.status_code == 409 and "until the parent acknowledges" in page
    assert "Your text was not saved" in page and "Everything I wrote." in page
