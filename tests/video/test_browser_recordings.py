"""The built-in room's recording (issue 16 item 5): where the course records, the tutor's browser
uploads the call in parts to the same storage as provider recordings (a multipart upload on the S3
store: SeaweedFS here, R2 in production), ending as the session's recording, played through the
same 5-minute signed links. The server checks who sends, the parts' order, size and count, and
that the room may be entered; anything else changes nothing."""

import hashlib
import os
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from room.services import room_data, room_view
from sessions.models import Recording, RecordingStatus
from video import browser_recordings, tasks
from video.models import CopyStatus, CourseVideo, RecordingCopy

PART = 5 * 1024 * 1024  # the smallest part S3 and R2 take
SMALL = 64 * 1024  # local storage takes any size: quicker tests


@pytest.fixture
def recorded(course):
    """The course records its sessions."""
    return CourseVideo.objects.create(course=course, record=True)


@pytest.fixture
def small_parts(settings, notes_storage):
    settings.RECORDING_PART_BYTES = SMALL
    return notes_storage


def as_user(client, user):
    client.force_login(user)
    return client


def start(client, session, content_type="video/webm;codecs=vp8,opus"):
    return client.post(f"/session/{session.id}/recording", {"content_type": content_type},
                       content_type="application/json")


def put(client, upload: dict, number: int, data: bytes):
    return client.put(f"{upload['parts_url']}{number}", data=data, content_type="application/octet-stream")


def complete(client, upload: dict, seconds=42):
    return client.post(upload["complete_url"], {"duration_seconds": seconds}, content_type="application/json")


def test_the_tutor_s_browser_uploads_the_call_in_parts_and_it_plays(client, settings, s3_storage, s3_server, recorded,
                                                                    live, tutor, student):
    """R09 US-V005 in the built-in room: a multipart upload, checked, then played through a storage
    link valid at most 5 minutes."""
    settings.RECORDING_PART_BYTES = PART
    data = os.urandom(2 * PART + 12345)
    as_user(client, tutor)

    answer = start(client, live)
    assert answer.status_code == 201
    upload = answer.json()
    assert upload["part_bytes"] == PART and upload["parts_url"] == f"/session/{live.id}/recording/{upload['id']}/parts/"
    for number, at in enumerate(range(0, len(data), PART), start=1):
        sent = put(client, upload, number, data[at:at + PART])
        assert sent.status_code == 200 and sent.json()["part"] == number
    done = complete(client, upload)

    assert done.status_code == 200
    recording = Recording.objects.get(session=live)
    assert (recording.provider, recording.status, recording.size_bytes, recording.duration_seconds) == (
        "p2p", RecordingStatus.AVAILABLE, len(data), 42)
    assert recording.r2_key.startswith(f"recordings/{live.id}/p2p-browser-") and recording.r2_key.endswith(".webm")
    stored = s3_server.client().get_object(Bucket=s3_server.bucket, Key=recording.r2_key)
    assert stored["Body"].read() == data and stored["ContentType"] == "video/webm"
    md5s = b"".join(hashlib.md5(data[i:i + PART]).digest() for i in range(0, len(data), PART))
    assert stored["ETag"].strip('"') == f"{hashlib.md5(md5s).hexdigest()}-3"

    link = as_user(client, student).get(f"/api/sessions/{live.id}/recording").json()["url"]
    query = parse_qs(urlsplit(link).query)
    assert link.startswith(f"{s3_server.endpoint_url}/{s3_server.bucket}/{recording.r2_key}?")
    assert int(query["X-Amz-Expires"][0]) <= 300 and query["response-content-type"] == ["video/webm"]


@pytest.mark.parametrize("who", ["student", "parent", "coordinator", "creator"])
def test_the_recording_plays_for_the_people_of_the_session(client, small_parts, recorded, live, tutor, who, request):
    upload = start(as_user(client, tutor), live).json()
    put(client, upload, 1, b"\x1a\x45\xdf\xa3 a webm call")
    complete(client, upload)

    answer = as_user(client, request.getfixturevalue(who)).get(f"/api/sessions/{live.id}/recording")

    assert answer.status_code == 200
    assert client.get(answer.json()["url"]).getvalue() == b"\x1a\x45\xdf\xa3 a webm call"


def test_an_outsider_gets_recording_not_available(client, small_parts, recorded, live, tutor, outsider):
    upload = start(as_user(client, tutor), live).json()
    put(client, upload, 1, b"call")
    complete(client, upload)
    answer = as_user(client, outsider).get(f"/api/sessions/{live.id}/recording")
    assert (answer.status_code, answer.json()["detail"]) == (404, "Recording not available")


def test_a_part_sent_again_after_a_lost_answer_is_stored_once(client, small_parts, recorded, live, tutor):
    upload = start(as_user(client, tutor), live).json()
    first = os.urandom(SMALL)
    assert put(client, upload, 1, first).status_code == 200

    again = put(client, upload, 1, first)

    assert again.status_code == 200 and again.json() == {"part": 1, "bytes": SMALL}
    copy = RecordingCopy.objects.get(pk=upload["id"])
    assert len(copy.parts) == 1 and copy.bytes_done == SMALL
    assert (small_parts / (copy.storage_key + ".partial")).stat().st_size == SMALL


def test_parts_come_in_order_whole_and_not_after_the_last(client, small_parts, recorded, live, tutor):
    upload = start(as_user(client, tutor), live).json()

    skipped = put(client, upload, 2, os.urandom(SMALL))
    too_big = put(client, upload, 1, os.urandom(SMALL + 1))
    empty = put(client, upload, 1, b"")
    assert (skipped.status_code, skipped.json()) == (409, {"detail": "Send part 1 next.", "code": "out_of_order"})
    assert (too_big.status_code, too_big.json()["code"]) == (413, "part_too_large")
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_part")
    assert put(client, upload, 1, b"short: the last part").status_code == 200

    after_last = put(client, upload, 2, os.urandom(SMALL))

    assert (after_last.status_code, after_last.json()["code"]) == (409, "last_part_sent")
    copy = RecordingCopy.objects.get(pk=upload["id"])
    assert [p["size"] for p in copy.parts] == [20] and copy.bytes_done == 20


def test_a_recording_has_a_bounded_number_of_parts(client, settings, small_parts, recorded, live, tutor):
    settings.RECORDING_PART_BYTES = 512 * 1024
    settings.RECORDING_BROWSER_MAX_MB = 1  # two parts
    upload = start(as_user(client, tutor), live).json()
    assert upload["max_parts"] == 2
    for number in (1, 2):
        assert put(client, upload, number, os.urandom(512 * 1024)).status_code == 200

    third = put(client, upload, 3, b"x")

    assert (third.status_code, third.json()["code"]) == (413, "too_many_parts")
    assert RecordingCopy.objects.get(pk=upload["id"]).bytes_done == 1024 * 1024


def test_a_completed_recording_takes_no_more_parts(client, small_parts, recorded, live, tutor):
    upload = start(as_user(client, tutor), live).json()
    put(client, upload, 1, b"all of it")
    assert complete(client, upload).status_code == 200

    late = put(client, upload, 2, b"more")

    assert (late.status_code, late.json()["code"]) == (409, "complete")
    assert complete(client, upload).status_code == 200  # completing again: done already
    assert Recording.objects.get(session=live).size_bytes == 9


def test_nothing_recorded_is_no_recording(client, small_parts, recorded, live, tutor, student):
    upload = start(as_user(client, tutor), live).json()
    answer = complete(client, upload)
    assert (answer.status_code, answer.json()["detail"]) == (409, "Nothing was recorded.")
    assert Recording.objects.get(session=live).status == RecordingStatus.FAILED
    assert as_user(client, student).get(f"/api/sessions/{live.id}/recording").status_code == 404


# --- who and when -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status", "says"), [
    ("student", 403, "Only the tutor records the session."),
    ("parent", 403, "You're not part of this session."),
    ("coordinator", 403, "You're not part of this session."),
    ("creator", 403, "You're not part of this session."),
    ("outsider", 404, "Session not found. Check your dashboard."),
])
def test_only_the_tutor_records(client, small_parts, recorded, live, tutor, who, status, says, request):
    upload = start(as_user(Client(), tutor), live).json()
    client.force_login(request.getfixturevalue(who))

    answers = [start(client, live), put(client, upload, 1, b"not mine"), complete(client, upload)]

    assert [(a.status_code, a.json()["detail"]) for a in answers] == [(status, says)] * 3
    copy = RecordingCopy.objects.get()
    assert (copy.parts, copy.bytes_done, copy.status) == ([], 0, CopyStatus.COPYING)
    assert Recording.objects.get().status == RecordingStatus.PROCESSING


def test_anonymous_gets_401(client, small_parts, recorded, live):
    assert start(client, live).status_code == 401


def test_the_csrf_token_is_required(small_parts, recorded, live, tutor):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tutor)
    assert start(browser, live).status_code == 403
    assert not RecordingCopy.objects.exists()


def test_a_recording_of_another_session_is_not_found(client, small_parts, recorded, live, tutor, make_session):
    upload = start(as_user(client, tutor), live).json()
    other = make_session(start=live.scheduled_start + timedelta(days=1))
    answer = client.put(f"/session/{other.id}/recording/{upload['id']}/parts/1", data=b"x",
                        content_type="application/octet-stream")
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")
    assert RecordingCopy.objects.get().bytes_done == 0


def test_a_session_that_does_not_record_refuses(client, small_parts, live, tutor):
    answer = start(as_user(client, tutor), live)
    assert (answer.status_code, answer.json()) == (409, {"detail": "This session is not recorded.",
                                                         "code": "not_recorded"})
    assert not Recording.objects.exists()


def test_a_session_at_a_provider_is_recorded_there_not_in_the_browser(client, settings, small_parts, recorded, live,
                                                                       tutor):
    settings.VIDEO_PROVIDER = "plugnmeet"
    assert start(as_user(client, tutor), live).json()["code"] == "not_recorded"


def test_recording_starts_only_while_the_room_may_be_entered(client, small_parts, recorded, make_session, tutor):
    early = make_session(start=timezone.now() + timedelta(hours=1))
    answer = start(as_user(client, tutor), early)
    assert (answer.status_code, answer.json()["code"]) == (409, "room_not_open")
    assert not Recording.objects.exists()


@pytest.mark.parametrize("body", [{"content_type": "application/x-msdownload"}, {}])
def test_an_unknown_format_is_refused(client, small_parts, recorded, live, tutor, body):
    answer = as_user(client, tutor).post(f"/session/{live.id}/recording", body, content_type="application/json")
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_format")
    answer = client.post(f"/session/{live.id}/recording", b"[1]", content_type="application/json")
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_json")
    assert not Recording.objects.exists()


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"content_type": "video/webm"' + b"\xff}",
                                  b"\x00", b'{"a": "\\ud800"}'])
def test_a_start_body_that_is_no_json_object_is_a_422(client, small_parts, recorded, live, tutor, body):
    """JSON nested too deep made json.loads raise RecursionError: a 500 (now tutoring.input.parse_json)."""
    answer = as_user(client, tutor).post(f"/session/{live.id}/recording", body, content_type="application/json")
    assert answer.status_code == 422 and answer.json()["code"] in ("invalid_json", "invalid_format")
    assert not Recording.objects.exists()


@pytest.mark.parametrize("seconds", ["1e999", "-1e999", "NaN", '"9999999999999999999999"', "true", "[]"])
def test_a_duration_that_is_no_length_leaves_the_recording_without_one(client, small_parts, recorded, live, tutor,
                                                                       seconds):
    """JSON's 1e999 is float("inf"): int() raised OverflowError after the recording was finished (a
    500 for a done recording). A duration that is no length is left out."""
    upload = start(as_user(client, tutor), live).json()
    assert put(client, upload, 1, os.urandom(SMALL // 2)).status_code == 200
    done = client.post(upload["complete_url"], f'{{"duration_seconds": {seconds}}}'.encode(),
                       content_type="application/json")
    assert done.status_code == 200, done.content
    recording = Recording.objects.get()
    assert recording.duration_seconds in (None, 1)  # true is 1 second, as int(True)


# --- told, and the tab that closed ----------------------------------------------------------------------


def test_both_participants_are_told_and_see_the_indicator(client, small_parts, recorded, live, tutor, student):
    for user in (tutor, student):
        page = unescape(as_user(client, user).get(f"/session/{live.id}").content.decode())
        assert "This session is recorded." in page and 'id="rec-indicator"' in page
    assert not room_view(room_data(live.id), student.id, {})["recording"]

    upload = start(as_user(client, tutor), live).json()
    assert room_view(room_data(live.id), student.id, {})["recording"] is True
    assert 'id="rec-indicator" role="status">' in as_user(client, student).get(f"/session/{live.id}").content.decode()

    put(as_user(client, tutor), upload, 1, b"call")
    complete(client, upload)
    assert not room_view(room_data(live.id), student.id, {})["recording"]


def test_an_unrecorded_course_tells_nobody(client, live, student):
    page = unescape(as_user(client, student).get(f"/session/{live.id}").content.decode())
    assert "This session is recorded." not in page and 'id="rec-indicator"' not in page


def test_an_upload_left_open_is_completed_by_the_sweep(client, small_parts, recorded, live, tutor, student):
    """The tab closed mid-call: what arrived becomes the recording; an upload without a part goes."""
    kept = start(as_user(client, tutor), live).json()
    put(client, kept, 1, os.urandom(SMALL))
    empty = start(client, live).json()
    assert tasks.sweep_recordings()["browser_closed"] == 0  # still within RECORDING_BROWSER_IDLE_MINUTES

    later = timezone.now() + timedelta(minutes=61)
    assert browser_recordings.close_abandoned(now=later) == {"completed": 1, "dropped": 1}

    assert Recording.objects.get(copy__pk=kept["id"]).status == RecordingStatus.AVAILABLE
    assert Recording.objects.get(copy__pk=empty["id"]).status == RecordingStatus.FAILED
    assert as_user(client, student).get(f"/api/sessions/{live.id}/recording").status_code == 200


@pytest.mark.parametrize("who", ["tutor", "student"])
def test_the_post_session_screen_plays_the_recording(client, small_parts, recorded, live, tutor, who, request):
    """The post-session screen links to the recording (through its 5-minute link) once it is stored."""
    upload = start(as_user(client, tutor), live).json()
    put(client, upload, 1, b"the call")
    viewer = as_user(Client(), request.getfixturevalue(who))
    assert "The recording is being prepared" in viewer.get(f"/session/{live.id}?after=1").content.decode()

    complete(client, upload)
    page = viewer.get(f"/session/{live.id}?after=1").content.decode()

    assert f'href="/sessions/{live.id}/recording/"' in page and "Watch the recording" in page
    played = viewer.get(f"/sessions/{live.id}/recording/")
    assert played.status_code == 302 and viewer.get(played["Location"]).getvalue() == b"the call"
