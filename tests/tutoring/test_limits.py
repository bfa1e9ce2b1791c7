"""Issue 18 item 4: uploads are rate-limited per user (tutoring.limits.UploadLimitMiddleware):
every multipart request (the notes form, its htmx post, the notes API, the room's resources) and
every part of a browser recording. Over the limit: 429 with Retry-After and a sentence saying when,
the body is never read and nothing is stored; the next minute it works again."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from notes.models import Attachment, Note
from tests.conftest import NOW
from tests.notes.files import sample
from tutoring import limits

pytestmark = pytest.mark.django_db


def png(name="board.png"):
    filename, data, content_type = sample(".png")
    return SimpleUploadedFile(name, data, content_type=content_type)


def notes_url(session):
    return reverse("session-notes", args=[session.id])


def test_count_says_how_many_and_how_long():
    limit = limits.Limit("test-count", limit=2, window=60)
    start = 1_800_000_000 - 1_800_000_000 % 60  # the start of a window
    assert limits.count(limit, "k", now=start + 10) == (1, 0)
    assert limits.count(limit, "k", now=start + 20) == (2, 0)
    assert limits.count(limit, "k", now=start + 30) == (3, 30)
    assert limits.count(limit, "k", now=start + 60) == (1, 0)


def test_notes_uploads_are_limited_per_user_and_the_limit_lifts(client, settings, awaiting, tutor, notes_storage):
    settings.UPLOADS_PER_MINUTE = 2
    client.force_login(tutor)
    with time_machine.travel(NOW + timedelta(seconds=15), tick=False) as clock:
        for n in range(2):
            assert client.post(notes_url(awaiting), {"text": f"Note {n}", "files": [png()]}).status_code == 303
        page = client.post(notes_url(awaiting), {"text": "One too many", "files": [png()]})
        assert page.status_code == 429 and page["Retry-After"] == "45"
        assert "Too many uploads: try again in 1 minute." in page.content.decode()

        htmx = client.post(notes_url(awaiting), {"text": "Again", "files": [png()]}, headers={"HX-Request": "true"})
        assert htmx.status_code == 429 and htmx["HX-Retarget"] == "#main" and htmx["HX-Reswap"] == "afterbegin"
        assert htmx.content.decode().strip() == ('<div class="messages"><p class="message error" role="alert">'
                                                 'Too many uploads: try again in 1 minute.</p></div>')

        api = client.post(f"/api/sessions/{awaiting.id}/notes", {"text": "Via the API", "files": [png()]})
        assert api.status_code == 429 and api["Retry-After"] == "45"
        assert api.json() == {"detail": "Too many uploads: try again in 1 minute.", "code": "rate_limited"}
        assert Note.objects.count() == 2 and Attachment.objects.count() == 2  # nothing more was stored

        # reading is not limited
        assert client.get(notes_url(awaiting)).status_code == 200

        clock.shift(timedelta(seconds=45))  # the next minute
        assert client.post(notes_url(awaiting), {"text": "Later", "files": [png()]}).status_code == 303
    assert Note.objects.count() == 3


def test_each_user_has_a_count_of_their_own(client, settings, awaiting, tutor, parent):
    settings.UPLOADS_PER_MINUTE = 1
    with time_machine.travel(NOW, tick=False):
        client.force_login(tutor)
        assert client.post(notes_url(awaiting), {"text": "Mine", "files": [png()]}).status_code == 303
        assert client.post(notes_url(awaiting), {"text": "Mine", "files": [png()]}).status_code == 429
        client.force_login(parent)  # the view refuses the parent; the limiter does not
        assert client.post(notes_url(awaiting), {"text": "Theirs", "files": [png()]}).status_code != 429


def test_anonymous_posts_are_left_to_the_view(client, settings, awaiting):
    settings.UPLOADS_PER_MINUTE = 1
    for _ in range(3):
        response = client.post(notes_url(awaiting), {"text": "x", "files": [png()]})
        assert response.status_code == 302  # to the sign-in page
    assert not Note.objects.exists()


def test_room_resources_count_as_uploads(client, settings, make_session, tutor):
    settings.UPLOADS_PER_MINUTE = 1
    session = make_session(start=NOW + timedelta(minutes=5))
    url = reverse("room-resources", args=[session.id])
    with time_machine.travel(NOW, tick=False):
        client.force_login(tutor)
        assert client.post(url, {"files": [png()]}).status_code != 429
        response = client.post(url, {"files": [png()]})
        assert response.status_code == 429 and "Too many uploads" in response.content.decode()
        assert session.resources.count() <= 1


def test_recording_parts_are_limited_on_their_own(client, settings, make_session, tutor):
    settings.RECORDING_PARTS_PER_MINUTE = 2
    settings.UPLOADS_PER_MINUTE = 1
    session = make_session(start=NOW + timedelta(minutes=5))
    url = reverse("room-recording-part", args=[session.id, 999, 1])
    with time_machine.travel(NOW + timedelta(seconds=50), tick=False) as clock:
        client.force_login(tutor)
        codes = [client.put(url, b"x" * 10, content_type="application/octet-stream").status_code for _ in range(3)]
        assert 429 not in codes[:2] and codes[2] == 429
        response = client.put(url, b"x" * 10, content_type="application/octet-stream")
        assert response["Retry-After"] == "10"
        assert response.json() == {"detail": "Too many recording parts: try again in 1 minute.", "code": "rate_limited"}
        # the parts' count is not the uploads'
        assert client.post(reverse("room-resources", args=[session.id]), {"files": [png()]}).status_code != 429
        clock.shift(timedelta(seconds=10))
        assert client.put(url, b"x" * 10, content_type="application/octet-stream").status_code != 429
