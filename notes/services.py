"""Notes: who may read them, adding them, and summarizing them. Web, API, admin and (later) the
Telegram bot all call these; nothing else writes notes.

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
from django.db.models import F, Prefetch
from django.http import Http404
from django.utils import timezone

from sessions import lifecycle, projections, rules
from sessions.access import Relation, Viewer, get_session_for
from sessions.errors import INVALID, Refused
from sessions.models import Channel, Session

from . import ai, storage, uploads
from .models import Attachment, Kind, Note, Summary, SummaryStatus, TranscriptStatus

log = logging.getLogger(__name__)

MAX_TEXT = 20_000
# Who reads a session's notes, attachments and summary (the student alone does not).
READERS = frozenset({Relation.TUTOR, Relation.PARENT, Relation.COORDINATOR, Relation.CREATOR})


# --- reading ----------------------------------------------------------------------------------


def can_read(rels) -> bool:
    return bool(set(rels) & READERS)


def session_for_reader(viewer: Viewer, session_id, *, queryset=None) -> Session:
    """The session if this viewer may read its notes, else Http404 (as for a session they cannot see)."""
    session = get_session_for(viewer, session_id, queryset=queryset)
    if not can_read(viewer.relations(session)):
        raise Http404("Session not found.")
    return session


def notes_prefetch(prefix: str = "") -> list:
    """Prefetches that let a list of sessions show their notes with two queries in all."""
    return [Prefetch(f"{prefix}notes", queryset=Note.objects.select_related("author")
                     .prefetch_related("attachments"))]


def summary_of(session: Session) -> Summary | None:
    try:
        return session.notes_summary
    except Summary.DoesNotExist:
        return None


def attachment_for(viewer: Viewer, attachment_id) -> Attachment:
    """An attachment this viewer may open, else Http404."""
    try:
        attachment_id = int(attachment_id)
    except (TypeError, ValueError):
        raise Http404("Attachment not found.") from None
    attachment = (Attachment.objects.select_related("note__session__course")
                  .filter(pk=attachment_id).first())
    if attachment is None or not can_read(viewer.relations(attachment.note.session)):
        raise Http404("Attachment not found.")
    return attachment


# --- adding -----------------------------------------------------------------------------------


@dataclass
class Submission:
    note: Note
    attachments: list[Attachment] = field(default_factory=list)
    refusals: list[uploads.Refusal] = field(default_factory=list)


def add_notes(session: Session, *, by, text: str, files=(), channel: str = Channel.WEB,
              now: datetime | None = None) -> Submission:
    """Save the tutor's notes and good attachments; raise Refused when nothing can be saved."""
    now = now or timezone.now()
    text = (text or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        raise Refused(f"The notes are too long (at most {MAX_TEXT:,} characters).", code="too_long",
                      status=INVALID)
    # refuse early (before storing anything) when the session does not take notes now
    refused = rules.refusal("add_notes", projections.context(session, Viewer.of(by), now))
    if refused is not None:
        raise refused
    checked, refusals = uploads.check_uploads(files)
    if not text and not checked:
        if refusals:
            raise Refused(f"Nothing was saved: {'; '.join(str(r) for r in refusals)}", code="invalid_attachment",
                          status=INVALID, errors=[_refusal_dict(r) for r in refusals])
        raise Refused("Write a note or attach a file.", code="empty_note", status=INVALID)
    stored = []
    try:
        for item in checked:
            stored.append(storage.save(uploads.storage_name(session.id, item.extension), item.file))
        submission = _write(session, by=by, text=text, checked=checked, stored=stored, channel=channel, now=now)
    except BaseException:
        storage.delete_quietly(stored)
        raise
    submission.refusals = refusals
    return submission


@transaction.atomic
def _write(session, *, by, text, checked, stored, channel, now) -> Submission:
    session, _ = lifecycle.record_notes(session, by=by, now=now, channel=channel,
                                        data={"attachments": len(checked), "chars": len(text)})
    note = Note.objects.create(session=session, author=by, text=text, channel=channel, created_at=now)
    attachments = Attachment.objects.bulk_create([
        Attachment(note=note, kind=item.kind, storage_name=name, original_name=item.original_name,
                   content_type=item.content_type, size=item.size, sha256=item.sha256, created_at=now,
                   transcript_status=(TranscriptStatus.PENDING if ai.ai_enabled() else TranscriptStatus.UNAVAILABLE)
                   if item.kind == Kind.AUDIO else TranscriptStatus.NOT_AUDIO)
        for item, name in zip(checked, stored, strict=True)
    ])
    summary, _ = Summary.objects.get_or_create(session=session, defaults={"updated_at": now})
    Summary.objects.filter(pk=summary.pk).update(version=F("version") + 1, status=SummaryStatus.PENDING,
                                                 attempts=0, last_error="", updated_at=now)
    summary.refresh_from_db(fields=["version"])
    version = summary.version
    from .tasks import summarize_notes

    # robust: with the broker down the notes are still saved; the pending summary is picked up by
    # requeue_stalled_summaries later
    transaction.on_commit(lambda: summarize_notes.delay(session.id, version), robust=True)
    return Submission(note=note, attachments=attachments)


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
    if summary.summarized_version >= version and summary.status == SummaryStatus.READY:
        return "already"
    notes = list(Note.objects.filter(session_id=session_id).prefetch_related("attachments"))
    text = "\n\n".join(n.text for n in notes if n.text)
    try:
        result = ai.summarize(text, _transcribe_pending([a for n in notes for a in n.attachments.all()]))
    except ai.AIError as exc:
        if exc.retryable and not final_attempt:
            _set_status(session_id, version, status=SummaryStatus.RETRYING, error=str(exc), now=now)
            raise SummaryRetry(str(exc)) from exc
        # out of retries (or not worth retrying): a labelled extract of the notes instead
        log.warning("AI summary for session %s failed for good: %s", session_id, exc)
        fallback = ai.local_summary(text, _transcripts(notes))
        return _store(session_id, version, fallback, status=SummaryStatus.FAILED, error=str(exc), now=now)
    return _store(session_id, version, result, status=SummaryStatus.READY, error="", now=now)


STALLED_AFTER = timedelta(minutes=15)  # longer than the longest retry countdown (10 minutes)


def stalled_summaries(now: datetime | None = None) -> list[tuple[int, int]]:
    """(session id, version) of summaries nobody is working on: pending or retrying with no
    progress for STALLED_AFTER (the task was lost: broker down at commit, worker killed)."""
    now = now or timezone.now()
    return list(Summary.objects.filter(status__in=[SummaryStatus.PENDING, SummaryStatus.RETRYING],
                                       updated_at__lt=now - STALLED_AFTER)
                .values_list("session_id", "version")[:1000])


def _transcripts(notes) -> list[str]:
    return [a.transcript for n in notes for a in n.attachments.all() if a.transcript]


def _transcribe_pending(attachments) -> list[str]:
    """Transcribe each audio attachment once; returns every transcript, in order."""
    for attachment in attachments:
        if attachment.transcript_status != TranscriptStatus.PENDING:
            continue
        if not ai.ai_enabled():
            attachment.transcript_status = TranscriptStatus.UNAVAILABLE
        else:
            try:
                with storage.attachment_storage().open(attachment.storage_name, "rb") as fh:
                    attachment.transcript = ai.transcribe(attachment.original_name, fh, attachment.content_type)
                attachment.transcript_status = TranscriptStatus.DONE
            except ai.AIError as exc:
                if exc.retryable:
                    raise
                attachment.transcript_status = TranscriptStatus.FAILED
        Attachment.objects.filter(pk=attachment.pk).update(transcript=attachment.transcript,
                                                           transcript_status=attachment.transcript_status)
    return [a.transcript for a in attachments if a.transcript]


def _set_status(session_id, version, *, status, error, now) -> None:
    Summary.objects.filter(pk=session_id, version=version).update(
        status=status, last_error=error[:2000], attempts=F("attempts") + 1, updated_at=now or timezone.now())


def _store(session_id, version, result: "ai.SummaryResult", *, status, error, now) -> str:
    """Write the summary only if no newer notes arrived while it was being made."""
    written = Summary.objects.filter(pk=session_id, version=version).update(
        data=result.data, source=result.source, model=result.model, summarized_version=version, status=status,
        last_error=error[:2000], attempts=F("attempts") + 1, updated_at=now or timezone.now())
    return status if written else "superseded"
