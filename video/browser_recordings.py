"""Recordings of the built-in room (issue 16 item 5): where the course records, the tutor's browser
records the call (MediaRecorder: both videos and both voices) and uploads it in parts to the same
storage provider recordings are copied to, ending as the session's Recording, played through the
same short-lived signed links.

The upload is the provider copy's machinery turned around (video.recordings): one RecordingCopy
row (provider "p2p", the browser's), a multipart upload on R2 / S3 (or a partial file locally),
each part stored with its MD5 checked by the store and recorded on the row before the next is
taken, the whole checked at the end (size and multipart ETag). What the server checks, since the
browser is not trusted:

- who: the session's tutor only (the student's parents, coordinators and creators watch it later);
  start only while the room may be entered (sessions.room_states.entry_refusal) and the session records;
- parts: in order, numbered from 1, each exactly RECORDING_PART_BYTES except the last (R2 wants
  equal parts), at most RECORDING_BROWSER_MAX_MB in all; a part sent again after a lost answer is
  recognised by its MD5 and not stored twice;
- time: the upload stays open RECORDING_BROWSER_IDLE_MINUTES after its last part. One left open
  longer (the tab closed mid-call) is completed with the parts that arrived by the recordings
  sweep (a WebM cut after a whole part still plays), or dropped when none did.
"""

import hashlib
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from sessions.errors import FORBIDDEN, INVALID, Refused
from sessions.models import Recording, RecordingStatus, Session, VideoProvider

from . import presence, recordings, services
from .models import CopyStatus, RecordingCopy

log = logging.getLogger("video")

FORMATS = {"video/webm": "webm", "video/mp4": "mp4"}
MAX_PER_SESSION = 20
TOO_LARGE = 413
NOT_FOUND = Refused("Recording not found.", code="not_found", status=404)


def part_bytes() -> int:
    return settings.RECORDING_PART_BYTES


def max_bytes() -> int:
    return settings.RECORDING_BROWSER_MAX_MB * 1024 * 1024


def max_parts() -> int:
    return -(-max_bytes() // part_bytes())


def idle() -> timedelta:
    return timedelta(minutes=settings.RECORDING_BROWSER_IDLE_MINUTES)


def records_in_browser(session: Session) -> bool:
    """The built-in room records this session (the course, or VIDEO_RECORD_DEFAULT, says so)."""
    return services.provider_name_for(session) == VideoProvider.P2P and services.records(session)


def recording_now(session_id: int, now: datetime | None = None) -> bool:
    """A browser recording of this session is under way (its upload is open)."""
    return RecordingCopy.objects.filter(recording__session_id=session_id, provider=VideoProvider.P2P,
                                        status=CopyStatus.COPYING, claimed_until__gt=now or timezone.now()).exists()


def _require_tutor(session: Session, user) -> None:
    if user.pk != session.tutor_id:
        raise Refused("Only the tutor records the session.", code="not_allowed", status=FORBIDDEN)


def _format(content_type: str) -> str:
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in FORMATS:
        raise Refused("Record as video/webm or video/mp4.", code="invalid_format", status=INVALID)
    return FORMATS[base]


# --- start ---------------------------------------------------------------------------------------


def start(session: Session, *, by, content_type: str, now: datetime | None = None) -> RecordingCopy:
    """A new recording of the call: its Recording (processing) and an open upload."""
    now = now or timezone.now()
    _require_tutor(session, by)
    if not records_in_browser(session):
        raise Refused("This session is not recorded.", code="not_recorded")
    services.require_entry(session, by, now)  # while the room may be entered, as for joining it
    extension = _format(content_type)
    if RecordingCopy.objects.filter(recording__session=session, provider=VideoProvider.P2P).count() >= MAX_PER_SESSION:
        raise Refused("This session has too many recordings.", code="too_many")
    name = f"browser-{uuid.uuid4().hex}"
    with transaction.atomic():
        recording = Recording.objects.create(session=session, provider=VideoProvider.P2P, provider_recording_id=name,
                                             status=RecordingStatus.PROCESSING)
        copy = RecordingCopy.objects.create(
            recording=recording, provider=VideoProvider.P2P, provider_recording_id=name, status=CopyStatus.COPYING,
            storage_key=f"recordings/{session.pk}/p2p-{name}.{extension}", claimed_until=now + idle())
    recordings.sink_for(copy).start()  # the multipart upload (its id saved on the row) or the partial file
    transaction.on_commit(lambda: _tell_room(session.pk))
    return copy


# --- parts ---------------------------------------------------------------------------------------


def open_upload(session: Session, copy_id: int, *, by, now: datetime) -> RecordingCopy:
    _require_tutor(session, by)
    copy = (RecordingCopy.objects.select_related("recording")
            .filter(pk=copy_id, recording__session=session, provider=VideoProvider.P2P).first())
    if copy is None:
        raise NOT_FOUND
    return copy


def _still_open(copy: RecordingCopy, now: datetime) -> None:
    if copy.status == CopyStatus.DONE:
        raise Refused("This recording is complete.", code="complete")
    if copy.status == CopyStatus.FAILED or copy.claimed_until is None or copy.claimed_until <= now:
        raise Refused("This recording was closed after a long pause; start a new one.", code="closed")


def add_part(session: Session, copy_id: int, number: int, data: bytes, *, by, now: datetime | None = None) -> dict:
    """Store part `number` of the recording: {"part": n, "bytes": total stored}."""
    now = now or timezone.now()
    copy = open_upload(session, copy_id, by=by, now=now)
    _still_open(copy, now)
    digest = hashlib.md5(data).hexdigest()
    stored = len(copy.parts)
    if stored and number == stored and copy.parts[-1]["md5"] == digest:
        return {"part": number, "bytes": copy.bytes_done}  # sent again after a lost answer: stored already
    if stored and copy.parts[-1]["size"] < part_bytes():
        raise Refused("The last part was sent: complete the recording.", code="last_part_sent")
    if number != stored + 1:
        raise Refused(f"Send part {stored + 1} next.", code="out_of_order")
    if number > max_parts():
        raise Refused(f"A recording may have at most {max_parts()} parts.", code="too_many_parts", status=TOO_LARGE)
    if not data:
        raise Refused("The part is empty.", code="empty_part", status=INVALID)
    if len(data) > part_bytes():
        raise Refused(f"A part may be at most {part_bytes():,} bytes.", code="part_too_large", status=TOO_LARGE)
    if copy.bytes_done + len(data) > max_bytes():
        raise Refused(f"A recording may be at most {settings.RECORDING_BROWSER_MAX_MB:,} MB.", code="too_large",
                      status=TOO_LARGE)
    sink = recordings.sink_for(copy)
    sink.start()
    try:
        part = sink.write_part(number, data)
    except recordings.CopyInterrupted as exc:
        log.warning("browser recording %s: part %s not stored: %s", copy.pk, number, exc)
        raise Refused("The part could not be stored. Send it again.", code="storage_unavailable",
                      status=503) from None
    # another request stored a part meanwhile (a double send): this one is not counted
    saved = RecordingCopy.objects.filter(pk=copy.pk, bytes_done=copy.bytes_done, status=CopyStatus.COPYING).update(
        parts=[*copy.parts, part], bytes_done=F("bytes_done") + len(data), claimed_until=now + idle())
    if not saved:
        raise Refused(f"Send part {stored + 1} next.", code="out_of_order")
    return {"part": number, "bytes": copy.bytes_done + len(data)}


# --- the end -------------------------------------------------------------------------------------


def complete(session: Session, copy_id: int, *, by, duration_seconds=None, now: datetime | None = None) -> Recording:
    """The recording ends: the upload is completed and checked, the session's Recording plays."""
    now = now or timezone.now()
    copy = open_upload(session, copy_id, by=by, now=now)
    if copy.status == CopyStatus.DONE:
        return copy.recording
    _still_open(copy, now)
    if not copy.parts:
        _drop(copy, reason="nothing was recorded")
        transaction.on_commit(lambda: _tell_room(session.pk))
        raise Refused("Nothing was recorded.", code="empty")
    _finish(copy, duration_seconds=duration_seconds, now=now)
    transaction.on_commit(lambda: _tell_room(session.pk))
    return Recording.objects.get(pk=copy.recording_id)


def _finish(copy: RecordingCopy, *, duration_seconds, now: datetime) -> None:
    taken = RecordingCopy.objects.filter(pk=copy.pk, status=CopyStatus.COPYING).update(claimed_until=now)
    if not taken:
        return
    try:
        checksum = recordings.sink_for(copy).complete()
    except recordings.CopyInterrupted as exc:
        log.warning("browser recording %s could not be completed: %s", copy.pk, exc)
        RecordingCopy.objects.filter(pk=copy.pk).update(claimed_until=now + idle(), last_error=str(exc)[:2000])
        raise Refused("The recording could not be saved. Try again.", code="storage_unavailable", status=503) from None
    recordings.finish(copy, checksum=checksum, now=now)
    try:
        seconds = int(duration_seconds)
    except (TypeError, ValueError, OverflowError):  # JSON's 1e999 is float("inf")
        seconds = None
    if seconds is not None and 0 < seconds <= 24 * 3600:
        Recording.objects.filter(pk=copy.recording_id).update(duration_seconds=seconds)


def _drop(copy: RecordingCopy, *, reason: str) -> None:
    recordings.sink_for(copy).discard()
    with transaction.atomic():
        RecordingCopy.objects.filter(pk=copy.pk).update(status=CopyStatus.FAILED, claimed_until=None,
                                                        last_error=reason)
        Recording.objects.filter(pk=copy.recording_id).update(status=RecordingStatus.FAILED)


def close_abandoned(*, now: datetime | None = None) -> dict:
    """Uploads idle past RECORDING_BROWSER_IDLE_MINUTES (the tab closed mid-call): completed with
    the parts that arrived, or dropped without any. Run by the recordings sweep."""
    now = now or timezone.now()
    counts = {"completed": 0, "dropped": 0}
    idle_copies = (RecordingCopy.objects.filter(provider=VideoProvider.P2P, status=CopyStatus.COPYING)
                   .filter(Q(claimed_until__lte=now) | Q(claimed_until__isnull=True)).order_by("pk")[:100])
    for copy in idle_copies:
        if not copy.parts:
            _drop(copy, reason="abandoned before any part arrived")
            counts["dropped"] += 1
            continue
        try:
            _finish(copy, duration_seconds=None, now=now)
        except Refused:
            continue  # the store did not answer: the next sweep tries again
        counts["completed"] += 1
        _tell_room(copy.recording.session_id)
    return counts


def _tell_room(session_id: int) -> None:
    """The room's sockets reload: both participants see the recording indicator come and go."""
    presence.broadcast(session_id, "session")
