"""Notes: adding them and summarizing them (the writes). Web, API, admin and the Telegram bot all
call these; nothing else writes notes. Who may read them and the reads are in selectors.py.

Adding notes: uploads are checked first (notes.uploads), the good files are stored under generated
names, then one transaction runs the lifecycle's add_notes guard under the session lock, writes the
note and its attachments, and bumps the summary's version; the summary task is enqueued after
commit. If the transaction fails, the stored files are removed again. A bad attachment never costs
the note its text or its good files: it is reported beside the saved note.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from sessions import lifecycle
from sessions.access import Viewer
from sessions.errors import INVALID, Refused
from sessions.models import Channel, Session
from tutoring import input as input_rules
from tutoring.celery import publish

from . import ai, storage, uploads
from .models import IN_PROGRESS, Attachment, Kind, Note, Summary, SummaryStatus, TranscriptStatus

from .selectors import can_add  # the guard add_notes checks first

log = logging.getLogger(__name__)

SUMMARIZE_TASK = "notes.tasks.summarize_notes"  # by name: the tasks module imports this one
MAX_TEXT = 20_000
# --- adding -----------------------------------------------------------------------------------


@dataclass
class Submission:
    note: Note
    attachments: list[Attachment] = field(default_factory=list)
    refusals: list[uploads.Refusal] = field(default_factory=list)


def clean_text(text: str | None) -> str:
    """The notes as stored: the shared text rules (tutoring.input: line ends normalised, trimmed,
    no control or broken characters, at most MAX_TEXT characters), else Refused (422)."""
    try:
        return input_rules.clean_text(text, max_length=MAX_TEXT, what="notes")
    except input_rules.InvalidInput as exc:
        raise Refused(str(exc), code=exc.code, status=INVALID) from None


def add_notes(session: Session, *, by, text: str, files=(), channel: str = Channel.WEB,
              now: datetime | None = None) -> Submission:
    """Save the tutor's notes and good attachments; raise Refused when nothing can be saved."""
    now = now or timezone.now()
    text = clean_text(text)
    refused = can_add(Viewer.of(by), session, now)  # before storing anything
    if refused is not None:
        raise refused
    checked, refusals = uploads.check_uploads(files)
    if not text and not checked:
        _refuse_nothing_saved(refusals)
    stored, kept = [], []
    try:
        for item in checked:
            try:
                stored.append(storage.save(uploads.storage_name(session.id, item.extension), item.file))
                kept.append(item)
            except Exception:  # noqa: BLE001 - the store is down: keep the text and the other files
                log.exception("storing %s for session %s failed", item.original_name, session.id)
                refusals.append(uploads.Refusal(item.original_name, "could not be stored just now: please attach "
                                                "it again in a few minutes", code="storage"))
        if not text and not kept:
            _refuse_nothing_saved(refusals, status=503)
        submission = _write(session, by=by, text=text, checked=kept, stored=stored, channel=channel, now=now)
    except BaseException:
        storage.delete_quietly(stored)
        raise
    submission.refusals = refusals
    return submission


def _refuse_nothing_saved(refusals, status: int = INVALID):
    if refusals:
        raise Refused(f"Nothing was saved: {'; '.join(str(r) for r in refusals)}", code="invalid_attachment",
                      status=status, errors=[_refusal_dict(r) for r in refusals])
    raise Refused("Write a note or attach a file.", code="empty_note", status=INVALID)


def initial_transcript(kind: str) -> str:
    """Audio waits for a transcript when a transcription service is configured."""
    if kind != Kind.AUDIO:
        return TranscriptStatus.NOT_AUDIO
    return TranscriptStatus.PENDING if ai.ai_enabled() else TranscriptStatus.UNAVAILABLE


@transaction.atomic
def _write(session, *, by, text, checked, stored, channel, now) -> Submission:
    session, _ = lifecycle.record_notes(session, by=by, now=now, channel=channel,
                                        data={"attachments": len(checked), "chars": len(text)})
    note = Note.objects.create(session=session, author=by, text=text, channel=channel, created_at=now)
    attachments = Attachment.objects.bulk_create([
        Attachment(note=note, kind=item.kind, storage_name=name, original_name=item.original_name,
                   content_type=item.content_type, size=item.size, sha256=item.sha256, created_at=now,
                   transcript_status=initial_transcript(item.kind))
        for item, name in zip(checked, stored, strict=True)
    ])
    request_summary(session.id, now=now)
    return Submission(note=note, attachments=attachments)


def request_summary(session_id: int, *, now: datetime | None = None) -> int:
    """Ask for a summary of the session's notes as they are now: bump the version, mark it
    pending, and enqueue the task after commit. Returns the new version. Also used to make a
    summary again (the admin); failed transcripts are then tried again too."""
    now = now or timezone.now()
    Summary.objects.get_or_create(session_id=session_id, defaults={"updated_at": now})
    Summary.objects.filter(pk=session_id).update(version=F("version") + 1, status=SummaryStatus.PENDING,
                                                 attempts=0, last_error="", updated_at=now)
    if ai.ai_enabled():
        Attachment.objects.filter(note__session_id=session_id, kind=Kind.AUDIO,
                                  transcript_status__in=[TranscriptStatus.FAILED, TranscriptStatus.UNAVAILABLE]
                                  ).update(transcript_status=TranscriptStatus.PENDING)
    version = Summary.objects.filter(pk=session_id).values_list("version", flat=True).get()
    # with the broker down or frozen the notes are still saved and the request answers within the
    # publish timeout; requeue_stalled_summaries picks the pending summary up later
    transaction.on_commit(lambda: publish(SUMMARIZE_TASK, session_id, version))
    return version


def _refusal_dict(refusal: uploads.Refusal) -> dict:
    return {"field": "files", "file": refusal.filename, "detail": str(refusal)}


# --- summarizing ------------------------------------------------------------------------------


class SummaryRetry(Exception):
    """The AI service failed in a way worth retrying; the task retries with backoff."""


def summarize(session_id: int, version: int, *, final_attempt: bool = False, now: datetime | None = None) -> str:
    """Summarize a session's notes as of `version`. Idempotent: a version already summarized, or
    superseded by newer notes, is left alone. Returns what happened (for logs and tests)."""
    summary = Summary.objects.filter(pk=session_id).first()
    if summary is None or summary.version != version:
        return "superseded"
    if summary.summarized_version >= version:
        return "already"
    notes = list(Note.objects.filter(session_id=session_id).prefetch_related("attachments"))
    attachments = [a for n in notes for a in n.attachments.all()]
    text = "\n\n".join(n.text for n in notes if n.text)
    try:
        _transcribe_pending(attachments)
        result = ai.summarize(text, transcripts(attachments))
    except ai.AIError as exc:
        if exc.retryable and not final_attempt:
            _set_status(session_id, version, status=SummaryStatus.RETRYING, error=str(exc), now=now)
            raise SummaryRetry(str(exc)) from exc
        # out of retries (or not worth retrying): a labelled extract of the notes instead
        log.warning("AI summary for session %s failed for good: %s", session_id, exc)
        Attachment.objects.filter(pk__in=[a.pk for a in attachments],
                                  transcript_status=TranscriptStatus.PENDING).update(
            transcript_status=TranscriptStatus.FAILED)
        fallback = ai.local_summary(text, transcripts(attachments))
        return _store(session_id, version, fallback, status=SummaryStatus.FAILED, error=str(exc), now=now)
    return _store(session_id, version, result, status=SummaryStatus.READY, error="", now=now)


STALLED_AFTER = timedelta(minutes=15)  # longer than the longest retry countdown (10 minutes) plus a run


def stalled_summaries(now: datetime | None = None) -> list[tuple[int, int]]:
    """(session id, version) of summaries nobody is working on: pending or retrying with no
    progress for STALLED_AFTER (the task was lost: broker down at commit, worker killed). They
    are marked as touched now, so the next sweep does not enqueue them again meanwhile."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(Summary.objects.select_for_update(skip_locked=True)
                    .filter(status__in=IN_PROGRESS,
                            updated_at__lt=now - STALLED_AFTER)
                    .values_list("session_id", "version")[:1000])
        Summary.objects.filter(pk__in=[pk for pk, _ in rows]).update(updated_at=now)
    return rows


def transcripts(attachments) -> list[str]:
    return [a.transcript for a in attachments if a.transcript]


def _transcribe_pending(attachments) -> None:
    """Transcribe each pending audio attachment once (a concurrent run's result is kept)."""
    for attachment in attachments:
        if attachment.transcript_status != TranscriptStatus.PENDING:
            continue
        if not ai.ai_enabled():
            attachment.transcript_status = TranscriptStatus.UNAVAILABLE
        else:
            try:
                with storage.attachment_storage().open(attachment.storage_name, "rb") as fh:
                    attachment.transcript = _storable(ai.transcribe(attachment.original_name, fh,
                                                                    attachment.content_type))
                attachment.transcript_status = TranscriptStatus.DONE
            except ai.AIError as exc:
                if exc.retryable:
                    raise
                attachment.transcript_status = TranscriptStatus.FAILED
            except OSError as exc:  # the store could not be read: worth another try
                raise ai.AIError(f"transcription failed: could not read the memo ({exc})", retryable=True) from exc
        Attachment.objects.filter(pk=attachment.pk, transcript_status=TranscriptStatus.PENDING).update(
            transcript=attachment.transcript, transcript_status=attachment.transcript_status)


def _storable(value):
    """Text as PostgreSQL stores it: no NUL characters (from a model's answer, say)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    return value


def _set_status(session_id, version, *, status, error, now) -> None:
    Summary.objects.filter(pk=session_id, version=version).update(
        status=status, last_error=_storable(error)[:2000], attempts=F("attempts") + 1,
        updated_at=now or timezone.now())


def _store(session_id, version, result: "ai.SummaryResult", *, status, error, now) -> str:
    """Write the summary only if no newer notes arrived while it was being made; then the parents'
    "notes and summary ready" notices, which wait for it, go out."""
    written = Summary.objects.filter(pk=session_id, version=version).update(
        data=_storable(result.data), source=result.source, model=_storable(result.model)[:100],
        summarized_version=version, status=status, last_error=_storable(error)[:2000],
        attempts=F("attempts") + 1, updated_at=now or timezone.now())
    if written:
        # notifications sits above notes: its task is published by name, after the summary commits
        transaction.on_commit(lambda: publish("notifications.tasks.summary_done", session_id))
    return status if written else "superseded"
