"""GET/POST /api/sessions/{id}/notes and GET /api/sessions/{id}/notes/summary."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from notes import services
from notes.models import Note
from tests.conftest import NOW, stored_files
from tests.notes.files import sample


def upload(ext: str, name: str | None = None) -> SimpleUploadedFile:
    filename, data, content_type = sample(ext)
    return SimpleUploadedFile(name or filename, data, content_type=content_type)


def url(session, tail=""):
    return f"/api/sessions/{session.id}/notes{tail}"


@pytest.mark.django_db
def test_tutor_posts_multipart_notes(client, awaiting, tutor, notes_storage, django_capture_on_commit_callbacks):
    """L20, L22: text plus attachments over the API; a bad file is listed in `rejected`."""
    client.force_login(tutor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(awaiting), {"text": "Sam was engaged.", "files": [
            upload(".jpg", "board.jpg"), upload(".exe", "voice-memo.exe"), upload(".mp3", "memo.mp3")]})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["session_id"] == awaiting.id and body["can_add"] is True
    [note] = body["notes"]
    assert note["text"] == "Sam was engaged." and note["channel"] == "api"
    assert note["author"]["id"] == tutor.id
    assert [(a["name"], a["kind"]) for a in note["attachments"]] == [("board.jpg", "photo"), ("memo.mp3", "audio")]
    assert body["rejected"] == [{"file": "voice-memo.exe", "detail": "voice-memo.exe: this file type is not accepted"}]
    assert body["summary"]["status"] == "pending"  # the task runs after the commit
    summary = client.get(url(awaiting, "/summary")).json()
    assert summary["status"] == "ready" and summary["source"] == "local" and summary["version"] == 1
    assert len(stored_files(notes_storage)) == 2


@pytest.mark.django_db
def test_tutor_posts_json_text(client, awaiting, tutor):
    client.force_login(tutor)
    response = client.post(url(awaiting), {"text": "Just text."}, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["notes"][0]["text"] == "Just text."


@pytest.mark.django_db
@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"data": "{not json", "content_type": "application/json"}, 400, "malformed"),
    ({"data": json.dumps({"text": 5}), "content_type": "application/json"}, 422, "invalid"),
    ({"data": json.dumps(["x"]), "content_type": "application/json"}, 422, "invalid"),
    ({"data": "text=hi", "content_type": "text/plain"}, 422, "unsupported_media_type"),
    ({"data": {"text": ""}}, 422, "empty_note"),
    ({"data": {"text": "y" * 20_001}}, 422, "too_long"),
    ({"data": {"files": [SimpleUploadedFile("voice-memo.exe", b"MZ\x90\x00" * 10)]}}, 422, "invalid_attachment"),
])
def test_bad_input_gets_a_clear_error_and_changes_nothing(client, awaiting, tutor, notes_storage, kwargs, status,
                                                          code):
    client.force_login(tutor)
    response = client.post(url(awaiting), **kwargs)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["detail"]
    assert not Note.objects.exists() and stored_files(notes_storage) == []


@pytest.mark.django_db
def test_notes_closed_after_acknowledgement(client, make_session, tutor):
    session = make_session(start=NOW - timedelta(days=1), status="approved")
    client.force_login(tutor)
    response = client.post(url(session), {"text": "late"})
    assert response.status_code == 409
    assert response.json() == {"detail": "Notes can be added after check-out, until the parent acknowledges "
                                         "the session.", "code": "notes_closed"}


@pytest.mark.django_db
def test_readers_get_notes_with_short_lived_download_links(client, awaiting, tutor, parent, coordinator, creator):
    """L23, H14: parents, coordinators and the course's creator read the notes and the summary."""
    _, data, _ = sample(".pdf")
    services.add_notes(awaiting, by=tutor, text="Sam was confident.", files=[SimpleUploadedFile("plan.pdf", data)],
                       now=NOW)
    for user in (tutor, parent, coordinator, creator):
        client.force_login(user)
        with time_machine.travel(NOW, tick=False):
            body = client.get(url(awaiting)).json()
        [attachment] = body["notes"][0]["attachments"]
        assert attachment["url"] == f"/notes/attachments/{attachment['id']}/"
        assert attachment["download_expires_at"].startswith("2026-11-16T10:05:00")
        assert body["can_add"] is (user == tutor)
        client.logout()
        with time_machine.travel(NOW + timedelta(seconds=60), tick=False):
            assert b"".join(client.get(attachment["download_url"]).streaming_content) == data
        with time_machine.travel(NOW + timedelta(seconds=301), tick=False):
            assert client.get(attachment["download_url"]).status_code == 403


@pytest.mark.django_db
def test_summary_endpoint(client, awaiting, tutor, parent):
    client.force_login(parent)
    missing = client.get(url(awaiting, "/summary"))
    assert missing.status_code == 404 and missing.json()["code"] == "no_notes"
    services.add_notes(awaiting, by=tutor, text="Sam was engaged. Next we will review fractions.", now=NOW)
    pending = client.get(url(awaiting, "/summary")).json()
    assert (pending["status"], pending["status_label"], pending["data"]) == ("pending", "Summary pending", None)
    services.summarize(awaiting.id, 1)
    ready = client.get(url(awaiting, "/summary")).json()
    assert ready["status"] == "ready" and ready["source"] == "local" and ready["stale"] is False
    assert ready["data"]["engagement"] == "Sam was engaged."
    assert ready["data"]["next_steps"] == ["Next we will review fractions."]


@pytest.mark.django_db
def test_unauthenticated_gets_401(client, awaiting):
    assert client.get(url(awaiting)).status_code == 401
    assert client.post(url(awaiting), {"text": "x"}).status_code == 401


@pytest.mark.django_db
def test_openapi_documents_the_notes_endpoints(client, tutor):
    client.force_login(tutor)
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/sessions/{session_id}/notes"])
    assert "multipart/form-data" in paths["/api/sessions/{session_id}/notes"]["post"]["requestBody"]["content"]
    assert "get" in paths["/api/sessions/{session_id}/notes/summary"]


@pytest.mark.django_db
def test_the_creators_detail_panel_carries_the_notes_and_summary(client, awaiting, tutor, creator, outsider):
    """H14: the session notes (and their summary) in the creator's detail panel; another creator: 404."""
    _, data, _ = sample(".pdf")
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", files=[SimpleUploadedFile("plan.pdf", data)],
                       now=NOW)
    services.summarize(awaiting.id, 1)
    client.force_login(creator)
    body = client.get(f"/api/creators/me/sessions/{awaiting.id}").json()
    [note] = body["notes"]
    assert note["text"] == "Sam was engaged." and note["attachments"][0]["name"] == "plan.pdf"
    assert body["summary"]["status"] == "ready" and body["summary"]["data"]["engagement"] == "Sam was engaged."
    client.force_login(outsider)  # a creator too, of other courses
    assert client.get(f"/api/creators/me/sessions/{awaiting.id}").status_code == 404


@pytest.mark.django_db
def test_malformed_multipart_gets_the_json_error_shape(client, awaiting, tutor):
    client.force_login(tutor)
    response = client.generic("POST", url(awaiting), b"--x\r\nnonsense", content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert not Note.objects.exists()
