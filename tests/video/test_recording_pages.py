"""Issue 16 "done when": a recording made by PlugNmeet or BigBlueButton reaches storage through the
real path (the provider announces it, video.recordings copies it into the S3 bucket: SeaweedFS
here, R2 in production) and then plays, through a short-lived link to the stored copy and never
the provider's own link, on the creator's Session History and on the room's post-session screen."""

import html
import os
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sessions import lifecycle
from sessions.models import Recording, RecordingStatus
from video.models import CopyStatus, RecordingCopy

from .conftest import recorded_room
from .test_webhooks import BBB_URL, deliver

HISTORY = "/dashboard/teaching/sessions"


def announce(client, provider: str, fake, room_id: str, record_id: str, size: int):
    """The provider tells us the recording is ready, signed as it signs it."""
    if provider == "plugnmeet":
        body = fake.event("recording_proceeded", room_id,
                          recording_info={"record_id": record_id, "recorder_id": "r1", "file_size": float(size)})
        return deliver(client, body, fake.webhook_headers(body))
    return client.post(BBB_URL, fake.recording_ready_form(room_id, record_id))


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def played(client, session_id: int) -> bytes:
    """Follow the page's play link to the stored copy, as the browser's <video> does."""
    answer = client.get(f"/sessions/{session_id}/recording/")
    assert answer.status_code == 302
    link = answer["Location"]
    assert int(parse_qs(urlsplit(link).query)["X-Amz-Expires"][0]) <= 300  # at most 5 minutes
    with httpx.Client(timeout=10) as http:
        stored = http.get(link)
    assert stored.status_code == 200
    return stored.content


@pytest.mark.parametrize("provider", ["plugnmeet", "bbb"])
def test_a_provider_recording_is_copied_and_plays_on_the_history_and_the_post_session_screen(
        client, settings, request, s3_storage, s3_server, live, tutor, student, creator, outsider, provider,
        django_capture_on_commit_callbacks):
    """R15 R09 (US-V005) H13 H14 H23: replicated from the provider to the bucket, then the play icon
    and the player on the creator's Session History and "Watch the recording" after the session,
    each playing the stored copy through a signed link of at most 5 minutes."""
    fake = request.getfixturevalue(provider)
    room = recorded_room(settings, provider, live, tutor)  # the tutor joined the provider's recorded room
    data = os.urandom(40_000)
    fake.add_recording("rec-1", room.room_id, data=data)

    with django_capture_on_commit_callbacks(execute=True):
        assert announce(client, provider, fake, room.room_id, "rec-1", len(data)).status_code == 200

    copy = RecordingCopy.objects.get(recording__session=live)
    assert (copy.provider, copy.status) == (provider, CopyStatus.DONE)
    recording = Recording.objects.get(session=live)
    assert (recording.status, recording.r2_key) == (RecordingStatus.AVAILABLE, copy.storage_key)
    assert s3_server.client().get_object(Bucket=s3_server.bucket, Key=copy.storage_key)["Body"].read() == data
    lifecycle.check_in(live, by=tutor)
    lifecycle.check_out(live, by=tutor, now=live.scheduled_end)  # the session is over

    # the creator's Session History: the play icon in the row, the player in the detail panel
    client.force_login(creator)
    history = page(client, HISTORY)
    assert f'id="row-{live.id}"' in history and 'aria-label="Recording of session' in history
    detail = page(client, f"{HISTORY}/{live.id}/")
    assert '<video class="recording"' in detail and "Recording not available" not in detail
    assert fake.base_url not in history + detail  # the provider's playback link is never shown
    assert played(client, live.id) == data

    # the room's post-session screen, for the tutor and the student
    for person in (tutor, student):
        client.force_login(person)
        screen = page(client, f"/session/{live.id}")
        assert "Session Ended" in screen and "Watch the recording" in screen
        assert f'href="/sessions/{live.id}/recording/"' in screen and fake.base_url not in screen
        assert played(client, live.id) == data

    client.force_login(outsider)
    assert client.get(f"/sessions/{live.id}/recording/").status_code == 404
