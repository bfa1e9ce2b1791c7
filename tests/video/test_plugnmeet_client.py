"""The PlugNmeet client against a fake PlugNmeet that checks API-KEY and HASH-SIGNATURE as
pkg/controllers/auth.go does (tests/fakes/plugnmeet_server.py): rooms, join tokens with roles,
status, end, recordings and download tokens; wrong credentials, errors and timeouts."""

import hashlib
import hmac
import json

import httpx
import pytest

from tests.fakes.fakeserver import HANG, Reply
from tests.fakes.plugnmeet_server import FakePlugNmeet
from video.errors import CredentialsRejected, NotAtProvider, ProviderDown, ProviderRefused
from video.providers import Role, RoomSpec, RoomStatus
from video.providers.plugnmeet import PlugNmeet

SPEC = RoomSpec(room_id="tutoring-7", title="Algebra I: Tia and Sam", record=True, duration_minutes=120,
                webhook_url="https://tutoring.example.com/video/webhooks/plugnmeet", recording_ready_url="")


def client_for(fake: FakePlugNmeet, *, api_key=None, secret=None) -> PlugNmeet:
    return PlugNmeet(url=fake.base_url, api_key=api_key or fake.api_key, secret=secret or fake.secret)


def post(fake: FakePlugNmeet, path: str, body: bytes, headers: dict) -> httpx.Response:
    with httpx.Client(timeout=5) as client:
        return client.post(fake.base_url + path, content=body, headers=headers)


def test_every_request_is_signed_over_the_exact_body_it_sends(plugnmeet):
    """R01: HASH-SIGNATURE is hex HMAC-SHA256 of the raw body with the secret, API-KEY the key."""
    client_for(plugnmeet).create_room(SPEC)

    request = plugnmeet.requests[-1]
    assert request.headers["api-key"] == plugnmeet.api_key
    assert request.headers["hash-signature"] == hmac.new(plugnmeet.secret.encode(), request.body,
                                                         hashlib.sha256).hexdigest()
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.body)
    assert body["room_id"] == "tutoring-7" and body["metadata"]["webhook_url"] == SPEC.webhook_url
    assert body["metadata"]["room_features"]["recording_features"]["enable_auto_cloud_recording"] is True


def test_the_fake_refuses_what_the_real_server_refuses(plugnmeet):
    body = b'{"room_id":"tutoring-7"}'
    good = hmac.new(plugnmeet.secret.encode(), body, hashlib.sha256).hexdigest()

    assert post(plugnmeet, "/auth/room/isRoomActive", body, {"API-KEY": plugnmeet.api_key,
                                                             "HASH-SIGNATURE": good}).status_code == 200
    for headers, code in [
        ({"HASH-SIGNATURE": good}, "MISSING_REQUIRED_PARAMETER"),
        ({"API-KEY": "other", "HASH-SIGNATURE": good}, "INVALID_API_KEY"),
        ({"API-KEY": plugnmeet.api_key}, "MISSING_REQUIRED_PARAMETER"),
        ({"API-KEY": plugnmeet.api_key, "HASH-SIGNATURE": good.upper()}, "INVALID_TOKEN_OR_SIGNATURE"),
        ({"API-KEY": plugnmeet.api_key, "HASH-SIGNATURE": hmac.new(
            plugnmeet.secret.encode(), body + b" ", hashlib.sha256).hexdigest()}, "INVALID_TOKEN_OR_SIGNATURE"),
    ]:
        answer = post(plugnmeet, "/auth/room/isRoomActive", body, headers)
        assert (answer.status_code, answer.json()["status_code"]) == (401, code)


def test_it_creates_a_room_and_creating_it_again_answers_the_same_room(plugnmeet):
    client = client_for(plugnmeet)
    room = client.create_room(SPEC)
    assert room.create_time == plugnmeet.rooms["tutoring-7"].sid
    assert client.create_room(SPEC).create_time == room.create_time
    assert client.room_status("tutoring-7").active is True


def test_the_tutor_gets_an_admin_token_and_the_student_a_participant_token(plugnmeet):
    """R01: the tutor joins as admin, the student as a participant."""
    client = client_for(plugnmeet)
    room = client.create_room(SPEC)

    tutor = client.join(room, user_id="11", name="Tia", role=Role.HOST)
    student = client.join(room, user_id="12", name="Sam", role=Role.GUEST)

    assert plugnmeet.join_tokens[tutor.token]["is_admin"] is True
    assert plugnmeet.join_tokens[student.token]["is_admin"] is False
    assert plugnmeet.join_tokens[student.token]["user_id"] == "12"
    assert tutor.url == f"{plugnmeet.base_url}/?access_token={tutor.token}"


@pytest.mark.parametrize("user_id", ["", "12 ", "tia@example.test"])
def test_the_fake_refuses_a_token_without_a_valid_user_id_as_the_real_server_does(plugnmeet, user_id):
    """plugNmeet-server pkg/models/user_join.go (GetPNMJoinToken): without auto-generated user ids
    the user_id must match ^[a-zA-Z0-9-_]+$, answered as INTERNAL_SERVER_ERROR."""
    client = client_for(plugnmeet)
    room = client.create_room(SPEC)

    with pytest.raises(ProviderDown, match="user_id should only contain"):
        client.join(room, user_id=user_id, name="Sam", role=Role.GUEST)
    assert plugnmeet.join_tokens == {}


def test_a_token_for_a_room_that_is_not_active_is_refused(plugnmeet):
    client = client_for(plugnmeet)
    room = client.create_room(SPEC)
    client.end_room("tutoring-7")

    assert client.room_status("tutoring-7").active is False
    with pytest.raises(NotAtProvider):
        client.join(room, user_id="12", name="Sam", role=Role.GUEST)
    client.end_room("tutoring-7")  # already ended: nothing to do
    assert client.room_status("never-made").active is False


def test_recordings_and_their_download_token(plugnmeet):
    client = client_for(plugnmeet)
    client.create_room(SPEC)
    assert client.recordings("tutoring-7") == []
    plugnmeet.add_recording("rec-1", "tutoring-7", data=b"x" * 2048)

    found = client.recordings("tutoring-7")
    download = client.download(found[0])

    assert [(r.recording_id, r.room_id, r.size) for r in found] == [("rec-1", "tutoring-7", 2048)]
    token = download.url.rsplit("/", 1)[1]
    assert plugnmeet.download_tokens[token] == "rec-1"
    with httpx.Client() as http:
        assert http.get(download.url).content == b"x" * 2048
    with pytest.raises(NotAtProvider):
        client.download(found[0].__class__(recording_id="gone", room_id="tutoring-7"))


@pytest.mark.parametrize("wrong", ["api_key", "secret"])
def test_wrong_credentials_are_refused_as_bad_credentials(plugnmeet, wrong):
    with pytest.raises(CredentialsRejected) as refused:
        client_for(plugnmeet, **{wrong: "not-it"}).create_room(SPEC)
    assert refused.value.status == 503 and refused.value.message == "Video service unavailable. Try again."
    assert plugnmeet.rooms == {}


@pytest.mark.parametrize(("reply", "error"), [
    (Reply(500, b"oops", "text/plain"), ProviderDown),
    (Reply(503, b"<html>down for maintenance</html>", "text/html"), ProviderDown),
    (Reply(200, b"<html>a proxy page</html>", "text/html"), ProviderDown),
    (Reply(200, b'{"status":false,"msg":"db down","status_code":"INTERNAL_SERVER_ERROR"}'), ProviderDown),
    (Reply(200, b'{"status":false,"msg":"bad","status_code":"INVALID_PARAMETERS"}'), ProviderRefused),
])
def test_errors_are_video_unavailable(plugnmeet, reply, error):
    plugnmeet.queue("/auth/room/create", reply)
    with pytest.raises(error) as refused:
        client_for(plugnmeet).create_room(SPEC)
    assert refused.value.message == "Video service unavailable. Try again."


def test_a_server_that_does_not_answer_times_out(plugnmeet, settings):
    settings.VIDEO_HTTP_TIMEOUT_SECONDS = 1
    plugnmeet.queue("/auth/room/create", HANG)
    with pytest.raises(ProviderDown) as refused:
        client_for(plugnmeet).create_room(SPEC)
    assert "timed out" in refused.value.cause


def test_room_status_lists_who_is_in_the_room(plugnmeet):
    """getActiveRoomInfo's participants_info (sid, identity): what the room's presence is fed with."""
    client = client_for(plugnmeet)
    room = client.create_room(SPEC)
    with httpx.Client(timeout=5) as browser:  # the student's browser opens the client page
        assert browser.get(client.join(room, user_id="12", name="Sam", role=Role.GUEST).url).status_code == 200
    sid = next(iter(plugnmeet.rooms["tutoring-7"].participants))

    status = client.room_status("tutoring-7")

    assert (status.active, status.participants, status.connections) == (True, ("12",), (("12", sid),))
    assert plugnmeet.paths()[-2:] == ["/auth/room/isRoomActive", "/auth/room/getActiveRoomInfo"]
    client.end_room("tutoring-7")
    assert client.room_status("tutoring-7") == RoomStatus(active=False)
