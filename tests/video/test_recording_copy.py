"""R15: recordings copied from the provider into the private storage: streamed in parts, a
multipart upload on the S3 store (SeaweedFS here, R2 in production), resumed after an interruption
from where it stopped, checked, and copied once however often the provider announces it."""

import hashlib
import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import Recording, RecordingStatus
from tests.conftest import stored_files
from video import recordings, services
from video.errors import NotYetAtProvider
from video.models import CopyStatus, RecordingCopy, VideoRoom

PART = 5 * 1024 * 1024  # the smallest part S3 and R2 take


@pytest.fixture
def part_size(settings):
    settings.RECORDING_PART_BYTES = PART
    return PART


def video_bytes(size: int) -> bytes:
    return os.urandom(size)


def register(fake, room, data: bytes, record_id=None) -> RecordingCopy:
    record_id = record_id or f"rec-{uuid.uuid4().hex[:8]}"
    fake.add_recording(record_id, room.room_id, data=data)
    copy, created = services.register_recording(provider="plugnmeet", room_id=room.room_id, recording_id=record_id)
    assert created
    return copy


def stored_object(s3_server, key: str) -> dict:
    return s3_server.client().get_object(Bucket=s3_server.bucket, Key=key)


def multipart_uploads(s3_server, key: str) -> list:
    listed = s3_server.client().list_multipart_uploads(Bucket=s3_server.bucket, Prefix=key)
    return listed.get("Uploads", [])


def test_a_recording_is_copied_to_the_bucket_in_parts(s3_storage, s3_server, plugnmeet, pnm_room, part_size,
                                                       django_capture_on_commit_callbacks):
    """R15: streamed, multipart, checked; the session then has a playable recording."""
    data = video_bytes(2 * PART + 12345)
    with django_capture_on_commit_callbacks(execute=True):
        copy = register(plugnmeet, pnm_room, data)

    copy.refresh_from_db()
    assert copy.status == CopyStatus.DONE and copy.bytes_done == len(data) == copy.source_size
    assert [p["size"] for p in copy.parts] == [PART, PART, 12345]
    obj = stored_object(s3_server, copy.storage_key)
    assert obj["Body"].read() == data and obj["ContentType"] == "video/mp4"
    md5s = b"".join(hashlib.md5(data[i:i + PART]).digest() for i in range(0, len(data), PART))
    assert copy.checksum == obj["ETag"].strip('"') == hashlib.md5(md5s).hexdigest() + "-3"
    recording = Recording.objects.get(pk=copy.recording_id)
    assert (recording.status, recording.r2_key, recording.size_bytes, recording.provider) == (
        RecordingStatus.AVAILABLE, copy.storage_key, len(data), "plugnmeet")
    assert recording.session_id == pnm_room.session_id
    assert copy.storage_key.startswith(f"recordings/{pnm_room.session_id}/plugnmeet-")


def test_an_interrupted_copy_resumes_where_it_stopped(s3_storage, s3_server, plugnmeet, pnm_room, part_size):
    """R15: resumable after an interrupted transfer; the state is in the database."""
    data = video_bytes(2 * PART + 777)
    copy = register(plugnmeet, pnm_room, data)
    plugnmeet.cut_next_download_after = PART + 1000  # the provider drops the transfer in part two

    with pytest.raises(recordings.CopyInterrupted):
        recordings.copy_recording(copy.pk)

    copy.refresh_from_db()
    assert (copy.status, copy.bytes_done, len(copy.parts), copy.claimed_until) == (CopyStatus.COPYING, PART, 1, None)
    assert copy.upload_id and "cut off" in copy.last_error
    assert Recording.objects.get(pk=copy.recording_id).status == RecordingStatus.PROCESSING
    assert len(multipart_uploads(s3_server, copy.storage_key)) == 1

    assert recordings.copy_recording(copy.pk) == "done"

    downloads = [r for r in plugnmeet.requests if r.path.startswith("/download/recording/")]
    assert [r.headers.get("range") for r in downloads] == [None, f"bytes={PART}-"]
    copy.refresh_from_db()
    assert copy.status == CopyStatus.DONE and copy.attempts == 2 and [p["n"] for p in copy.parts] == [1, 2, 3]
    assert stored_object(s3_server, copy.storage_key)["Body"].read() == data
    assert multipart_uploads(s3_server, copy.storage_key) == []


def test_a_provider_that_ignores_the_range_is_read_past_what_is_stored(s3_storage, s3_server, plugnmeet, pnm_room,
                                                                       part_size):
    data = video_bytes(PART + 4096)
    copy = register(plugnmeet, pnm_room, data)
    plugnmeet.cut_next_download_after = PART + 10
    with pytest.raises(recordings.CopyInterrupted):
        recordings.copy_recording(copy.pk)
    plugnmeet.ignore_range = True

    assert recordings.copy_recording(copy.pk) == "done"
    assert stored_object(s3_server, RecordingCopy.objects.get(pk=copy.pk).storage_key)["Body"].read() == data


def test_a_file_that_changed_at_the_provider_is_copied_again_from_the_start(s3_storage, s3_server, plugnmeet,
                                                                            pnm_room, part_size):
    copy = register(plugnmeet, pnm_room, video_bytes(PART + 100))
    plugnmeet.cut_next_download_after = PART + 10
    with pytest.raises(recordings.CopyInterrupted):
        recordings.copy_recording(copy.pk)
    replaced = video_bytes(PART + 5000)  # the provider re-processed the recording meanwhile
    plugnmeet.recordings[copy.provider_recording_id].data = replaced

    with pytest.raises(recordings.CopyInterrupted):
        recordings.copy_recording(copy.pk)  # sees the new size, drops the stored part
    assert RecordingCopy.objects.get(pk=copy.pk).bytes_done == 0
    assert recordings.copy_recording(copy.pk) == "done"

    assert stored_object(s3_server, copy.storage_key)["Body"].read() == replaced


def test_a_repeated_announcement_copies_nothing_twice(s3_storage, s3_server, plugnmeet, pnm_room, part_size,
                                                      django_capture_on_commit_callbacks):
    data = video_bytes(1000)
    with django_capture_on_commit_callbacks(execute=True):
        copy = register(plugnmeet, pnm_room, data, record_id="rec-once")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again, created = services.register_recording(provider="plugnmeet", room_id=pnm_room.room_id,
                                                     recording_id="rec-once")

    assert (again.pk, created, callbacks) == (copy.pk, False, [])
    assert recordings.copy_recording(copy.pk) == "skipped"
    assert Recording.objects.count() == RecordingCopy.objects.count() == 1
    downloads = [r for r in plugnmeet.requests if r.path.startswith("/download/recording/")]
    assert len(downloads) == 1


def test_a_copy_another_worker_holds_is_left_alone(plugnmeet, pnm_room):
    copy = register(plugnmeet, pnm_room, b"abc")
    now = timezone.now()
    assert recordings.claim(copy.pk, now=now) is not None

    assert recordings.copy_recording(copy.pk, now=now) == "skipped"
    assert recordings.stalled(now=now) == []
    assert recordings.stalled(now=now + recordings.LEASE + timedelta(seconds=1)) == [copy.pk]


def test_a_copy_whose_task_was_lost_is_found_after_a_grace(plugnmeet, pnm_room):
    copy = register(plugnmeet, pnm_room, b"abc")
    now = timezone.now()
    assert recordings.stalled(now=now) == []
    assert recordings.stalled(now=now + recordings.QUEUE_GRACE + timedelta(seconds=1)) == [copy.pk]


def test_a_recording_deleted_at_the_provider_fails_without_retrying(plugnmeet, pnm_room):
    copy = register(plugnmeet, pnm_room, b"abc")
    del plugnmeet.recordings[copy.provider_recording_id]

    assert recordings.copy_recording(copy.pk) == "failed"

    copy.refresh_from_db()
    assert copy.status == CopyStatus.FAILED and "recording not found" in copy.last_error
    assert Recording.objects.get(pk=copy.recording_id).status == RecordingStatus.FAILED


def test_a_provider_that_is_down_leaves_the_copy_for_later(settings, plugnmeet, pnm_room):
    from tests.fakes.fakeserver import Reply

    copy = register(plugnmeet, pnm_room, b"abc")
    plugnmeet.queue("/auth/recording/getDownloadToken", Reply(502, b"", "text/plain"))

    assert copy_task(copy.pk) == "interrupted"
    copy.refresh_from_db()
    assert (copy.status, copy.claimed_until, copy.attempts) == (CopyStatus.COPYING, None, 1)
    assert copy_task(copy.pk) == "done"


def test_the_local_folder_gets_the_same_resumable_checked_copy(notes_storage, plugnmeet, pnm_room, part_size):
    """Without R2 the recording goes to NOTES_ROOT: a partial file, resumed, verified, renamed."""
    data = video_bytes(PART + 3333)
    copy = register(plugnmeet, pnm_room, data)
    plugnmeet.cut_next_download_after = PART + 5
    with pytest.raises(recordings.CopyInterrupted):
        recordings.copy_recording(copy.pk)
    assert stored_files(notes_storage) == [copy.storage_key + ".partial"]

    assert recordings.copy_recording(copy.pk) == "done"

    copy.refresh_from_db()
    assert stored_files(notes_storage) == [copy.storage_key]
    assert (notes_storage / copy.storage_key).read_bytes() == data
    assert copy.checksum == "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_bbb_recording_is_copied_from_its_video_playback(settings, bbb, live, tutor, notes_storage):
    settings.VIDEO_PROVIDER = "bbb"
    settings.VIDEO_RECORD_DEFAULT = True
    services.join(live, user=tutor)
    room = VideoRoom.objects.get(session=live)
    data = video_bytes(4000)
    bbb.add_recording("bbb-rec-1", room.room_id, data=data)

    assert services.discover_recordings() == 1
    copy = RecordingCopy.objects.get()
    assert recordings.copy_recording(copy.pk) == "done"
    assert (notes_storage / copy.storage_key).read_bytes() == data
    assert services.discover_recordings() == 0  # found again: nothing new


def copy_task(copy_id: int) -> str:
    from video.tasks import copy_recording

    return copy_recording.delay(copy_id).get()


def bbb_copy(settings, bbb, live, tutor, *, video: bool) -> RecordingCopy:
    """A BBB recording announced by its recording-ready callback (registered as the callback
    registers it), its video playback published or not yet."""
    settings.VIDEO_PROVIDER = "bbb"
    settings.VIDEO_RECORD_DEFAULT = True
    services.join(live, user=tutor)
    room = VideoRoom.objects.get(session=live)
    bbb.add_recording("bbb-rec-1", room.room_id, data=b"the call" * 500, video=video)
    copy, created = services.register_recording(provider="bbb", room_id=room.room_id, recording_id="bbb-rec-1")
    assert created
    return copy


def test_a_bbb_recording_whose_video_playback_comes_later_waits_for_it(settings, bbb, live, tutor, notes_storage):
    """Issue 16: the recording-ready callback can come before BBB has published the "video" format.
    That is not a failure: the copy waits (retried, not counted as an attempt) and is made once
    the format is there."""
    copy = bbb_copy(settings, bbb, live, tutor, video=False)

    assert copy_task(copy.pk) == "interrupted"  # run eagerly: the retry is the sweep's
    assert copy_task(copy.pk) == "interrupted"
    copy.refresh_from_db()
    assert (copy.status, copy.attempts, copy.claimed_until) == (CopyStatus.COPYING, 0, None)
    assert "has no published video playback yet" in copy.last_error
    assert Recording.objects.get(pk=copy.recording_id).status == RecordingStatus.PROCESSING
    later = timezone.now() + recordings.QUEUE_GRACE + timedelta(seconds=1)
    assert recordings.stalled(now=later) == [copy.pk]  # the sweep takes it up again

    bbb.recordings["bbb-rec-1"].video = True
    assert copy_task(copy.pk) == "done"

    copy.refresh_from_db()
    assert (copy.status, copy.attempts, copy.last_error) == (CopyStatus.DONE, 1, "")
    assert (notes_storage / copy.storage_key).read_bytes() == b"the call" * 500
    assert Recording.objects.get(pk=copy.recording_id).status == RecordingStatus.AVAILABLE


def test_a_bbb_video_playback_that_never_comes_fails_the_copy_after_the_wait(settings, bbb, live, tutor):
    """Issue 16: the wait is bounded: PLAYBACK_WAIT after the recording was announced the copy
    fails with the reason (the recording copies admin shows it), and nothing retries it."""
    copy = bbb_copy(settings, bbb, live, tutor, video=False)
    deadline = copy.created_at + recordings.PLAYBACK_WAIT

    with pytest.raises(NotYetAtProvider):
        recordings.copy_recording(copy.pk, now=deadline - timedelta(seconds=1))
    assert recordings.copy_recording(copy.pk, now=deadline) == "failed"

    copy.refresh_from_db()
    assert copy.status == CopyStatus.FAILED
    assert "has no published video playback yet after 6 hours" in copy.last_error
    assert "is that format enabled" in copy.last_error
    assert Recording.objects.get(pk=copy.recording_id).status == RecordingStatus.FAILED
    assert recordings.stalled(now=deadline + recordings.LEASE) == []
