"""Copying a provider's recording into the private storage (spec 002 R15 "PlugNmeet -> R2").

The copy streams: the provider's file is read in RECORDING_PART_BYTES parts and each part goes to
storage as it fills, so at most one part is held in memory. On R2 / S3 it is a multipart upload;
each part is sent with its Content-MD5 (the store refuses a part whose bytes differ) and recorded
(number, ETag, MD5, size) in the RecordingCopy row before the next one is read. An interrupted copy
(the provider hangs up, the worker dies) resumes: the next attempt asks the provider for the rest
with an HTTP Range from the first byte not yet stored, and continues the same upload. At the end the
stored object is checked: its size against the provider's, its ETag against the MD5s of the parts.
Without R2 the local folder gets the same treatment (a partial file, truncated to what the row
says is stored, then a whole-file SHA-256 check of every part before it takes its final name).

A copy is claimed with a conditional UPDATE and a lease (claimed_until): two workers never copy the
same recording, and a worker that died leaves a lease that runs out, after which the sweep resumes
the copy. A recording copied once is never copied again (RecordingCopy is unique per provider id)."""

import base64
import hashlib
import logging
import mimetypes
import os
import re
from datetime import timedelta

import httpx
from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from notes.storage import attachment_storage, is_object_store, signed_link
from sessions.models import Recording, RecordingStatus, Session, VideoProvider
from tutoring.input import parse_int

from .errors import NotAtProvider, NotYetAtProvider, ProviderDown, VideoUnavailable
from .models import CopyStatus, RecordingCopy
from .providers import get_provider
from .providers.base import http_client, transport_errors
from .services import calling, source_of

log = logging.getLogger("video")

LEASE = timedelta(minutes=30)  # longer than one attempt may take; a dead worker's copy is free after it
MAX_ATTEMPTS = 12
QUEUE_GRACE = timedelta(minutes=5)  # a freshly registered copy's own task is still on its way
# How long a recording the provider has, but not yet in the form that is copied (BBB's "video"
# playback still processing: NotYetAtProvider), is waited for before its copy fails. The waits are
# the task's backoff, then the sweep's; they do not count as attempts.
PLAYBACK_WAIT = timedelta(hours=6)
CONTENT_TYPE = "video/mp4"


def content_type_of(key: str) -> str:
    """What a stored recording is, by its name (.mp4 copies, .webm / .mp4 browser recordings)."""
    return mimetypes.guess_type(key)[0] or CONTENT_TYPE
READ_CHUNK = 256 * 1024


class CopyInterrupted(Exception):
    """This attempt stopped part-way; what is stored is kept and the next attempt resumes."""


class SourceChanged(Exception):
    """The provider's file is not the one the stored parts came from: start again."""


# --- claiming ------------------------------------------------------------------------------------


def claim(copy_id: int, *, now) -> RecordingCopy | None:
    """The copy, leased to this attempt; None when it is done, failed or leased to another worker."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    # a browser recording of the built-in room (provider p2p) is uploaded, never copied
    taken = RecordingCopy.objects.filter(Q(pk=copy_id), free, status__in=[CopyStatus.PENDING, CopyStatus.COPYING]
                                         ).exclude(provider=VideoProvider.P2P).update(status=CopyStatus.COPYING, claimed_until=now + LEASE,
                                                  attempts=F("attempts") + 1)
    return RecordingCopy.objects.select_related("recording").get(pk=copy_id) if taken else None


def release(copy: RecordingCopy, *, error: str, give_up: bool, counted: bool = True) -> None:
    """Free the copy for a later attempt (or fail it for good); an attempt that found nothing to
    copy yet is not `counted` against MAX_ATTEMPTS."""
    if give_up:
        with transaction.atomic():
            RecordingCopy.objects.filter(pk=copy.pk).update(status=CopyStatus.FAILED, claimed_until=None,
                                                            last_error=error[:2000])
            Recording.objects.filter(pk=copy.recording_id).update(status=RecordingStatus.FAILED)
        log.error("recording copy %s failed for good: %s", copy.pk, error)
    else:
        RecordingCopy.objects.filter(pk=copy.pk).update(claimed_until=None, last_error=error[:2000],
                                                        attempts=F("attempts") - (0 if counted else 1))


def stalled(*, now) -> list[int]:
    """Copies not done and not leased that had their chance (tried before, or registered more than
    QUEUE_GRACE ago: their task was lost): the sweep enqueues them again."""
    return list(RecordingCopy.objects.filter(status__in=[CopyStatus.PENDING, CopyStatus.COPYING])
                .exclude(provider=VideoProvider.P2P)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                .filter(Q(attempts__gt=0) | Q(created_at__lt=now - QUEUE_GRACE))
                .order_by("pk").values_list("pk", flat=True)[:100])


# --- one attempt ---------------------------------------------------------------------------------


def copy_recording(copy_id: int, *, now=None) -> str:
    """One attempt at a copy: "done", "skipped" (not ours to do now), or CopyInterrupted /
    VideoUnavailable for the caller to retry later (the copy is released, its parts kept)."""
    now = now or timezone.now()
    copy = claim(copy_id, now=now)
    if copy is None:
        return "skipped"
    give_up = copy.attempts >= MAX_ATTEMPTS
    try:
        provider = get_provider(copy.provider)
        with calling(copy.provider, now=now):
            download = provider.download(source_of(copy))
        sink = sink_for(copy)
        try:
            transfer(copy, download, sink)
            checksum = sink.complete()
        except (SourceChanged, CopyCorrupted) as exc:
            log.warning("recording copy %s: %s; starting again", copy.pk, exc)
            sink.discard()
            reset(copy)
            raise CopyInterrupted(str(exc)) from exc
    except NotAtProvider as exc:
        release(copy, error=exc.cause, give_up=True)  # deleted at the provider: nothing will come
        return "failed"
    except NotYetAtProvider as exc:  # still processing there: wait (with the caller's backoff), bounded
        if now - copy.created_at < PLAYBACK_WAIT:
            release(copy, error=exc.cause, give_up=False, counted=False)
            raise
        waited = f"{PLAYBACK_WAIT.total_seconds() / 3600:g} hours"
        release(copy, error=f"{exc.cause} after {waited}: is that format enabled on the provider's server? "
                            "(docs/operations.md)", give_up=True)
        return "failed"
    except (CopyInterrupted, VideoUnavailable) as exc:
        release(copy, error=str(exc), give_up=give_up)
        raise
    finish(copy, checksum=checksum, now=timezone.now())
    return "done"


def transfer(copy: RecordingCopy, download, sink) -> None:
    """Stream the rest of the provider's file into the sink, part by part, saving progress."""
    offset = copy.bytes_done
    if copy.parts and copy.source_size is not None and offset == copy.source_size:
        return  # every byte is stored; an earlier attempt stopped before completing the upload
    headers = dict(download.headers)
    if offset:
        headers["Range"] = f"bytes={offset}-"
    part_size = settings.RECORDING_PART_BYTES
    with (transport_errors(copy.provider, "recording download"), http_client(follow_redirects=True) as client,
          client.stream("GET", download.url, headers=headers) as response):
        total, skip = _extent(response, offset)
        if copy.source_size and total is not None and total != copy.source_size:
            raise SourceChanged(f"the provider's file is {total} bytes, it was {copy.source_size}")
        if total is not None and copy.source_size != total:
            RecordingCopy.objects.filter(pk=copy.pk).update(source_size=total)
            copy.source_size = total
        sink.start()
        buffer = bytearray()
        try:
            for chunk in response.iter_bytes(READ_CHUNK):
                if skip:  # a server that ignored the Range: drop what is stored already
                    dropped = min(skip, len(chunk))
                    chunk, skip = chunk[dropped:], skip - dropped
                buffer += chunk
                while len(buffer) >= part_size:
                    _store(copy, sink, bytes(buffer[:part_size]))
                    del buffer[:part_size]
        except httpx.HTTPError as exc:  # cut off mid-body: the parts stored so far stay
            raise CopyInterrupted(f"download cut off after {copy.bytes_done + len(buffer)} bytes: "
                                  f"{type(exc).__name__}") from exc
    if total is not None and copy.bytes_done + len(buffer) != total:
        raise CopyInterrupted(f"download ended at {copy.bytes_done + len(buffer)} of {total} bytes")
    if buffer or not copy.parts:
        _store(copy, sink, bytes(buffer))


def _extent(response: httpx.Response, offset: int) -> tuple[int | None, int]:
    """(the file's total size if known, bytes to skip at the start of this body)."""
    if response.status_code in (404, 410):
        raise NotAtProvider(f"recording download: HTTP {response.status_code}")
    if response.status_code == 206:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            raise ProviderDown(f"recording download: a Content-Range of {response.headers.get('Content-Range')!r}")
        return (None if match.group(3) == "*" else int(match.group(3))), 0
    if response.status_code == 200:
        length = response.headers.get("Content-Length")
        return parse_int(length), offset
    if response.status_code == 416 and offset:  # nothing after what is stored: the source shrank
        raise SourceChanged("the provider's file is shorter than what is stored")
    raise ProviderDown(f"recording download: HTTP {response.status_code}")


def _store(copy: RecordingCopy, sink, data: bytes) -> None:
    part = sink.write_part(len(copy.parts) + 1, data)
    copy.parts = [*copy.parts, part]
    copy.bytes_done += len(data)
    RecordingCopy.objects.filter(pk=copy.pk).update(parts=copy.parts, bytes_done=copy.bytes_done)


def reset(copy: RecordingCopy) -> None:
    copy.parts, copy.bytes_done, copy.upload_id, copy.source_size = [], 0, "", None
    RecordingCopy.objects.filter(pk=copy.pk).update(parts=[], bytes_done=0, upload_id="", source_size=None)


def finish(copy: RecordingCopy, *, checksum: str, now) -> None:
    with transaction.atomic():
        RecordingCopy.objects.filter(pk=copy.pk).update(status=CopyStatus.DONE, checksum=checksum, claimed_until=None,
                                                        finished_at=now, last_error="")
        Recording.objects.filter(pk=copy.recording_id).update(status=RecordingStatus.AVAILABLE, r2_key=copy.storage_key,
                                                              size_bytes=copy.bytes_done)
    log.info("recording copy %s done: %s bytes in %s parts", copy.pk, copy.bytes_done, len(copy.parts))


# --- where the bytes go -----------------------------------------------------------------------------


def sink_for(copy: RecordingCopy):
    storage = attachment_storage()
    return S3Sink(storage, copy) if is_object_store(storage) else LocalSink(storage, copy)


class CopyCorrupted(CopyInterrupted):
    """What the store holds is not what was read: the stored parts are dropped and the copy restarts."""


class S3Sink:
    """A multipart upload to the notes bucket (R2 in production), its id kept on the copy."""

    def __init__(self, storage, copy: RecordingCopy):
        self.client = storage.connection.meta.client
        self.bucket = storage.bucket_name
        self.key = "/".join(p for p in (getattr(storage, "location", ""), copy.storage_key) if p)
        self.copy = copy

    def start(self) -> None:
        if not self.copy.upload_id:
            upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                         ContentType=content_type_of(self.copy.storage_key))
            self.copy.upload_id = upload["UploadId"]
            RecordingCopy.objects.filter(pk=self.copy.pk).update(upload_id=self.copy.upload_id)

    def write_part(self, number: int, data: bytes) -> dict:
        md5 = hashlib.md5(data)
        try:
            answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.copy.upload_id,
                                             PartNumber=number, Body=data,
                                             ContentMD5=base64.b64encode(md5.digest()).decode())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":  # expired or aborted meanwhile
                raise SourceChanged("the multipart upload is gone") from exc
            raise CopyInterrupted(f"part {number}: {exc}") from exc
        etag = answer["ETag"].strip('"')
        if etag != md5.hexdigest():
            raise CopyInterrupted(f"part {number}: the store's ETag {etag} is not the part's MD5")
        return {"n": number, "etag": etag, "md5": md5.hexdigest(), "size": len(data)}

    def complete(self) -> str:
        parts = self.copy.parts
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.copy.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p["n"], "ETag": p["etag"]} for p in parts]})
            head = self.client.head_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            raise CopyInterrupted(f"completing the upload: {exc}") from exc
        expected = hashlib.md5(b"".join(bytes.fromhex(p["md5"]) for p in parts)).hexdigest() + f"-{len(parts)}"
        stored = head["ETag"].strip('"')
        if head["ContentLength"] != self.copy.bytes_done or stored != expected:
            raise CopyCorrupted(f"stored {head['ContentLength']} bytes with ETag {stored}, expected "
                                f"{self.copy.bytes_done} bytes with {expected}")
        return expected

    def discard(self) -> None:
        if self.copy.upload_id:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.copy.upload_id)
            except ClientError:
                pass  # already gone


class LocalSink:
    """A partial file in the local storage folder, renamed into place once its checksum is verified."""

    def __init__(self, storage, copy: RecordingCopy):
        self.path = storage.path(copy.storage_key)
        self.partial = self.path + ".partial"
        self.copy = copy

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.partial, "ab") as fh:  # a crash may have written past what the row says is stored
            fh.truncate(self.copy.bytes_done)

    def write_part(self, number: int, data: bytes) -> dict:
        with open(self.partial, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return {"n": number, "md5": hashlib.md5(data).hexdigest(), "size": len(data)}

    def complete(self) -> str:
        whole = hashlib.sha256()
        with open(self.partial, "rb") as fh:
            for part in self.copy.parts:
                data = fh.read(part["size"])
                if hashlib.md5(data).hexdigest() != part["md5"]:
                    self.discard()
                    raise CopyCorrupted(f"part {part['n']} on disk is not what was read")
                whole.update(data)
            if fh.read(1):
                raise CopyCorrupted("the partial file is longer than what was read")
        os.replace(self.partial, self.path)
        return "sha256:" + whole.hexdigest()

    def discard(self) -> None:
        try:
            os.remove(self.partial)
        except FileNotFoundError:
            pass


# --- playable recordings (the room's post-session screen, the creator's pages) ---------------


def playable_recordings() -> QuerySet[Recording]:
    """Recordings that can be played: available and stored (the table's play icon, the detail
    panel's player and the signed link all use this one rule), newest first."""
    return Recording.objects.filter(status=RecordingStatus.AVAILABLE).exclude(r2_key="").order_by("-id")


def latest_recording(session: Session) -> Recording | None:
    return playable_recordings().filter(session=session).first()


def recording_link(recording: Recording) -> str:
    """A link to play the recording, valid NOTES_LINK_SECONDS (at most 5 minutes)."""
    extension = recording.r2_key.rsplit(".", 1)[-1] if "." in recording.r2_key else "mp4"
    return signed_link(recording.r2_key, filename=f"session-{recording.session_id}-recording.{extension}",
                       content_type=content_type_of(recording.r2_key), inline=True)
