"""The recording tasks: a copy run by a real Celery worker, and the beat sweep that finds what no
webhook announced and resumes copies whose worker died."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import RecordingStatus
from video import recordings, services, tasks
from video.models import CopyStatus, RecordingCopy


@pytest.mark.celery_worker
def test_a_real_worker_copies_a_recording_into_the_bucket(worker, s3_storage, s3_server, plugnmeet, pnm_room):
    plugnmeet.add_recording("rec-w", pnm_room.room_id, data=b"worker copy" * 1000)
    copy, _ = services.register_recording(provider="plugnmeet", room_id=pnm_room.room_id, recording_id="rec-w")

    assert tasks.copy_recording.apply_async([copy.pk], ignore_result=False).get(timeout=60) in {"done", "skipped"}

    copy.refresh_from_db()
    assert copy.status == CopyStatus.DONE and copy.recording.status == RecordingStatus.AVAILABLE
    body = s3_server.client().get_object(Bucket=s3_server.bucket, Key=copy.storage_key)["Body"].read()
    assert body == b"worker copy" * 1000


def test_the_sweep_finds_recordings_no_webhook_announced(plugnmeet, pnm_room, notes_storage,
                                                         django_capture_on_commit_callbacks):
    plugnmeet.add_recording("rec-quiet", pnm_room.room_id, data=b"nobody told us")

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep_recordings() == {"discovered": 1, "requeued": 0, "browser_closed": 0}

    copy = RecordingCopy.objects.get()
    assert copy.status == CopyStatus.DONE and (notes_storage / copy.storage_key).read_bytes() == b"nobody told us"
    assert tasks.sweep_recordings() == {"discovered": 0, "requeued": 0, "browser_closed": 0}


def test_the_sweep_resumes_a_copy_whose_worker_died(plugnmeet, pnm_room, notes_storage):
    plugnmeet.add_recording("rec-orphan", pnm_room.room_id, data=b"orphaned")
    copy, _ = services.register_recording(provider="plugnmeet", room_id=pnm_room.room_id, recording_id="rec-orphan")
    RecordingCopy.objects.filter(pk=copy.pk).update(status=CopyStatus.COPYING, attempts=1,
                                                    claimed_until=timezone.now() - timedelta(minutes=1))

    assert tasks.sweep_recordings()["requeued"] == 1
    assert RecordingCopy.objects.get(pk=copy.pk).status == CopyStatus.DONE


def test_the_sweep_skips_rooms_whose_provider_fails(settings, plugnmeet, pnm_room):
    from tests.fakes.fakeserver import Reply

    plugnmeet.queue("/auth/recording/fetch", Reply(500, b"", "text/plain"))
    assert tasks.sweep_recordings() == {"discovered": 0, "requeued": 0, "browser_closed": 0}


def test_a_copy_that_keeps_failing_gives_up(settings, plugnmeet, pnm_room):
    from tests.fakes.fakeserver import Reply

    plugnmeet.add_recording("rec-flaky", pnm_room.room_id, data=b"x")
    copy, _ = services.register_recording(provider="plugnmeet", room_id=pnm_room.room_id, recording_id="rec-flaky")
    RecordingCopy.objects.filter(pk=copy.pk).update(attempts=recordings.MAX_ATTEMPTS - 1)
    plugnmeet.queue("/auth/recording/getDownloadToken", Reply(502, b"", "text/plain"))

    assert tasks.copy_recording.delay(copy.pk).get() == "interrupted"

    copy.refresh_from_db()
    assert copy.status == CopyStatus.FAILED and copy.recording.status == RecordingStatus.FAILED
    assert tasks.sweep_recordings()["requeued"] == 0


def test_beat_polls_provider_presence(settings, bbb, bbb_room, tutor):
    """The poll that feeds BigBlueButton's presence (and repairs PlugNmeet's) runs from beat."""
    import httpx

    from video import presence

    entry = settings.CELERY_BEAT_SCHEDULE["poll-video-presence"]
    assert entry["task"] == "video.tasks.poll_presence"
    assert entry["schedule"] == timedelta(seconds=settings.VIDEO_PRESENCE_POLL_SECONDS)
    with httpx.Client(timeout=5) as browser:
        browser.get(services.join(bbb_room.session, user=tutor).url)

    assert tasks.poll_presence() == {"rooms": 1, "failed": 0, "present": 1, "gone": 0}
    assert presence.present_user_ids(bbb_room.session_id) == {tutor.id}
