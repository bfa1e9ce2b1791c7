"""The BigBlueButton client against a fake BBB that checks checksums as bbb-common-web does
(tests/fakes/bbb_server.py): create, join links with roles and createTime, end, getMeetingInfo,
getRecordings; wrong secrets, errors and timeouts."""

import httpx
import pytest

from tests.fakes.bbb_server import FakeBBB
from tests.fakes.fakeserver import HANG, Reply
from video.errors import CredentialsRejected, NotAtProvider, NotYetAtProvider, ProviderDown, ProviderRefused
from video.providers import Role, RoomSpec, SourceRecording
from video.providers.bbb import BigBlueButton, checksum, signed_query

DOC_SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
DOC_QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"


def spec(room_id="tutoring-7", record=True, recording_ready_url="http://127.0.0.1:9/ready"):
    return RoomSpec(room_id=room_id, title="Algebra I: Tia and Sam", record=record, duration_minutes=120,
                    webhook_url="", recording_ready_url=recording_ready_url)


def client_for(fake: FakeBBB, *, algorithm="sha256", secret=None) -> BigBlueButton:
    return BigBlueButton(url=fake.url, secret=secret or fake.secret, checksum=algorithm)


def follow(url: str) -> httpx.Response:
    """What a browser's first request to a join link gets (BBB answers 302 into its client)."""
    with httpx.Client(timeout=5) as client:
        return client.get(url)


def test_the_documented_create_example_gives_the_documented_checksum():
    """R01: BBB's API documentation example (create, SHA-1)."""
    assert checksum("create", DOC_QUERY, DOC_SECRET, "sha1") == "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"
    params = {"name": "Test Meeting", "meetingID": "abc123", "attendeePW": "111222", "moderatorPW": "333444"}
    assert signed_query("create", params, secret=DOC_SECRET, algorithm="sha1") == (
        DOC_QUERY + "&checksum=1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17")


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_it_creates_a_meeting_with_either_checksum(algorithm):
    with FakeBBB(algorithms={algorithm}) as fake:
        room = client_for(fake, algorithm=algorithm).create_room(spec())

        meeting = fake.meetings["tutoring-7"]
        assert room.create_time == str(meeting.create_time)
        assert meeting.record is True and meeting.meta["bbb-recording-ready-url"] == "http://127.0.0.1:9/ready"
        checksum_sent = fake.requests[-1].query.rsplit("checksum=", 1)[1]
        assert len(checksum_sent) == {"sha1": 40, "sha256": 64}[algorithm]


def test_creating_a_running_meeting_answers_that_meeting(bbb):
    client = client_for(bbb)
    first = client.create_room(spec())
    again = client.create_room(spec())
    assert again.create_time == first.create_time and len(bbb.meetings) == 1


def test_the_tutor_joins_as_moderator_and_the_student_as_viewer(bbb):
    """R01: MODERATOR for the tutor, VIEWER for the student."""
    client = client_for(bbb)
    room = client.create_room(spec())

    tutor = client.join(room, user_id="11", name="Tia", role=Role.HOST)
    student = client.join(room, user_id="12", name="Sam", role=Role.GUEST)

    assert (tutor.provider, tutor.kind) == ("bbb", "url")
    assert "role=MODERATOR" in tutor.url and f"createTime={room.create_time}" in tutor.url
    assert follow(tutor.url).status_code == 302 and follow(student.url).status_code == 302
    assert bbb.meetings["tutoring-7"].attendees == [("11", "Tia", "MODERATOR"), ("12", "Sam", "VIEWER")]


def test_an_old_join_link_cannot_enter_a_later_meeting_of_the_same_room(bbb):
    """R01: createTime binds a link to the meeting it was made for."""
    client = client_for(bbb)
    old_room = client.create_room(spec())
    old_link = client.join(old_room, user_id="12", name="Sam", role=Role.GUEST).url
    client.end_room("tutoring-7")
    new_room = client.create_room(spec())
    assert new_room.create_time != old_room.create_time

    answer = follow(old_link)

    assert answer.status_code == 200 and b"mismatchCreateTimeParam" in answer.content
    assert follow(client.join(new_room, user_id="12", name="Sam", role=Role.GUEST).url).status_code == 302


def test_a_join_link_edited_to_moderator_is_refused(bbb):
    client = client_for(bbb)
    room = client.create_room(spec())
    link = client.join(room, user_id="12", name="Sam", role=Role.GUEST).url

    answer = follow(link.replace("role=VIEWER", "role=MODERATOR"))

    assert b"<messageKey>checksumError</messageKey>" in answer.content
    assert [a[2] for a in bbb.meetings["tutoring-7"].attendees] == []


def test_a_wrong_secret_is_refused_as_bad_credentials(bbb):
    with pytest.raises(CredentialsRejected) as refused:
        client_for(bbb, secret="not-the-secret").create_room(spec())
    assert refused.value.message == "Video service unavailable. Try again."
    assert "checksumError" in refused.value.cause and bbb.meetings == {}


def test_a_checksum_algorithm_the_server_does_not_support_is_refused():
    with FakeBBB(algorithms={"sha256"}) as fake, pytest.raises(CredentialsRejected):
        client_for(fake, algorithm="sha1").create_room(spec())


def test_end_and_meeting_info(bbb):
    client = client_for(bbb)
    room = client.create_room(spec())
    follow(client.join(room, user_id="11", name="Tia", role=Role.HOST).url)

    status = client.room_status("tutoring-7")
    assert status.active is True and status.participants == ("11",)

    client.end_room("tutoring-7")
    assert client.room_status("tutoring-7").active is False
    client.end_room("tutoring-7")  # ending an ended meeting is done already, not an error
    assert client.room_status("tutoring-7").active is False


def test_recordings_list_only_published_video_playbacks(bbb):
    client = client_for(bbb)
    bbb.add_recording("rec-a", "tutoring-7", data=b"a" * 10)
    bbb.add_recording("rec-b", "tutoring-7", data=b"b" * 5, published=False)
    bbb.add_recording("rec-c", "tutoring-8", data=b"c")

    found = client.recordings("tutoring-7")

    assert [(r.recording_id, r.room_id, r.size) for r in found] == [("rec-a", "tutoring-7", 10)]
    assert client.download(found[0]).url == f"{bbb.base_url}/playback/video/rec-a/video-0.m4v"
    assert client.recordings("tutoring-9") == []
    with pytest.raises(NotAtProvider):
        client.download(found[0].__class__(recording_id="rec-b", room_id="tutoring-7"))


def test_a_recording_listed_before_its_video_playback_is_published_is_not_yet_there(bbb):
    """Issue 16: BBB publishes a recording's formats one by one; until the video format is there
    the recording is not listed for copying and its download is NotYetAtProvider (retried), not
    NotAtProvider (given up)."""
    client = client_for(bbb)
    recording = bbb.add_recording("rec-a", "tutoring-7", data=b"a" * 10, video=False)

    assert client.recordings("tutoring-7") == []
    with pytest.raises(NotYetAtProvider, match="no published video playback yet"):
        client.download(SourceRecording(recording_id="rec-a", room_id=""))
    with pytest.raises(NotAtProvider):
        client.download(SourceRecording(recording_id="rec-gone", room_id=""))

    recording.video = True
    assert client.download(SourceRecording(recording_id="rec-a", room_id="")).url.endswith("/rec-a/video-0.m4v")
    assert [r.size for r in client.recordings("tutoring-7")] == [10]


def test_the_fake_refuses_a_join_without_a_name_as_the_real_server_does(bbb):
    """bbb-common-web JoinMeeting.java: an empty fullName is missingParamFullName; an absent one
    makes ApiController.join fail (stripControlChars of null)."""
    client = client_for(bbb)
    room = client.create_room(spec())
    params = {"meetingID": room.room_id, "role": "VIEWER", "userID": "12", "createTime": room.create_time}

    empty = follow(client.call_url("join", {"fullName": "", **params}))
    absent = follow(client.call_url("join", params))

    assert b"<messageKey>missingParamFullName</messageKey>" in empty.content
    assert absent.status_code == 500
    assert bbb.meetings["tutoring-7"].attendees == []


@pytest.mark.parametrize(("reply", "error"), [
    (Reply(500, b"Internal Server Error", "text/plain"), ProviderDown),
    (Reply(502, b"<html>Bad gateway</html>", "text/html"), ProviderDown),
    (Reply(200, b"<html>maintenance</html>", "text/html"), ProviderDown),
    (Reply(200, b"not xml at all", "text/plain"), ProviderDown),
    (Reply(200, b"<response><returncode>FAILED</returncode><messageKey>maxParticipantsReached</messageKey>"
                b"<message>full</message></response>", "text/xml"), ProviderRefused),
])
def test_errors_are_video_unavailable(bbb, reply, error):
    bbb.queue("/bigbluebutton/api/create", reply)
    with pytest.raises(error) as refused:
        client_for(bbb).create_room(spec())
    assert (refused.value.status, refused.value.message) == (503, "Video service unavailable. Try again.")


def test_a_server_that_does_not_answer_times_out(bbb, settings):
    settings.VIDEO_HTTP_TIMEOUT_SECONDS = 1
    bbb.queue("/bigbluebutton/api/create", HANG)
    with pytest.raises(ProviderDown) as refused:
        client_for(bbb).create_room(spec())
    assert "timed out" in refused.value.cause


def test_a_server_that_is_not_there_is_down(settings):
    with FakeBBB() as fake:
        url = fake.url
    with pytest.raises(ProviderDown):
        BigBlueButton(url=url, secret="x", checksum="sha256").create_room(spec())
