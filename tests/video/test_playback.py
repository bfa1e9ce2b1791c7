"""A copied recording plays only through short-lived signed links of the storage, for the session's
participants, the student's parents, coordinators and the course's creator; everyone else gets
"Recording not available". The provider's own links are never handed out."""

import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from video import recordings, services
from video.models import RecordingCopy, VideoRoom

ALLOWED = ["tutor", "student", "parent", "coordinator", "creator"]
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def copied(settings, plugnmeet, live, tutor):
    """A PlugNmeet recording of the live session, copied into the storage in use."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    services.join(live, user=tutor)
    room = VideoRoom.objects.get(session=live)
    plugnmeet.add_recording("rec-play", room.room_id, data=b"\x00\x00\x00\x18ftypmp42 the call")
    copy, _ = services.register_recording(provider="plugnmeet", room_id=room.room_id, recording_id="rec-play")
    assert recordings.copy_recording(copy.pk) == "done"
    return RecordingCopy.objects.select_related("recording").get(pk=copy.pk)


def fetch(url: str) -> bytes:
    with OPENER.open(url, timeout=10) as response:
        return response.read()


@pytest.mark.parametrize("who", ALLOWED)
def test_the_people_of_the_session_play_it_through_a_signed_link(client, s3_storage, s3_server, plugnmeet, copied,
                                                                 who, request):
    """R09 US-V005, H22, H23: a storage link valid at most 5 minutes, never the provider's."""
    client.force_login(request.getfixturevalue(who))

    answer = client.get(f"/api/sessions/{copied.recording.session_id}/recording")

    assert answer.status_code == 200
    link = answer.json()["url"]
    assert link.startswith(f"{s3_server.endpoint_url}/{s3_server.bucket}/{copied.storage_key}?")
    assert plugnmeet.base_url not in link and "rec-play" not in answer.content.decode().replace(copied.storage_key, "")
    assert int(parse_qs(urlsplit(link).query)["X-Amz-Expires"][0]) <= 300
    assert fetch(link) == b"\x00\x00\x00\x18ftypmp42 the call"


@pytest.mark.parametrize("who", ALLOWED)
def test_the_page_link_redirects_the_same_people_to_it(client, copied, who, request):
    client.force_login(request.getfixturevalue(who))

    answer = client.get(f"/sessions/{copied.recording.session_id}/recording/")

    assert answer.status_code == 302 and answer["Cache-Control"] == "private, no-store"
    assert client.get(answer["Location"]).status_code == 200


def test_an_outsider_gets_recording_not_available(client, copied, outsider):
    client.force_login(outsider)

    answer = client.get(f"/api/sessions/{copied.recording.session_id}/recording")

    assert answer.status_code == 404
    assert answer.json() == {"detail": "Recording not available", "code": "no_recording"}
    assert client.get(f"/sessions/{copied.recording.session_id}/recording/").status_code == 404


def test_another_parent_or_a_sibling_gets_nothing(client, copied, sibling):
    client.force_login(sibling)
    assert client.get(f"/api/sessions/{copied.recording.session_id}/recording").status_code == 404


def test_anonymous_gets_401(client, copied):
    assert client.get(f"/api/sessions/{copied.recording.session_id}/recording").status_code == 401


def test_a_recording_still_copying_is_not_available(client, settings, plugnmeet, live, tutor, student):
    settings.VIDEO_PROVIDER = "plugnmeet"
    services.join(live, user=tutor)
    room = VideoRoom.objects.get(session=live)
    plugnmeet.add_recording("rec-later", room.room_id, data=b"abc")
    services.register_recording(provider="plugnmeet", room_id=room.room_id, recording_id="rec-later")
    client.force_login(student)

    answer = client.get(f"/api/sessions/{live.id}/recording")

    assert (answer.status_code, answer.json()["detail"]) == (404, "Recording not available")
