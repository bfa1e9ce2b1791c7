"""The notes endpoints of the JSON API: read a session's notes and summary, and add notes with
attachments (multipart). Same rules as the web: readers are the tutor, the student's parents,
coordinators and the course's creator; everyone else gets 404. Errors are {"detail", "code"}."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status as Reply

from sessions.access import Viewer
from sessions.errors import Refused
from sessions.models import Channel, Session
from sessions.schemas import ERRORS, PersonOut, person
from tutoring.input import parse_json

from . import selectors, services, storage

router = Router(tags=["notes"])


class AttachmentOut(Schema):
    id: int
    kind: str
    name: str
    content_type: str
    size: int
    sha256: str
    url: str
    download_url: str
    download_expires_at: datetime
    transcript: str
    transcript_status: str


class NoteOut(Schema):
    id: int
    author: PersonOut
    text: str
    channel: str
    created_at: datetime
    attachments: list[AttachmentOut]


class SummaryData(Schema):
    engagement: str
    confidence_level: str
    confidence_notes: str
    learning_patterns: list[str]
    next_steps: list[str]


class SummaryOut(Schema):
    status: str
    status_label: str
    source: str
    model: str
    version: int
    summarized_version: int
    stale: bool
    data: SummaryData | None
    updated_at: datetime


class RejectedOut(Schema):
    file: str
    detail: str


class NotesOut(Schema):
    session_id: int
    can_add: bool
    notes: list[NoteOut]
    summary: SummaryOut | None
    rejected: list[RejectedOut] = []


def _attachment(a, now) -> dict:
    return {
        "id": a.id, "kind": a.kind, "name": a.original_name, "content_type": a.content_type, "size": a.size,
        "sha256": a.sha256, "url": f"/notes/attachments/{a.id}/",
        "download_url": storage.link(a, inline=False),
        "download_expires_at": now + timedelta(seconds=settings.NOTES_LINK_SECONDS),
        "transcript": a.transcript, "transcript_status": a.transcript_status,
    }


def _summary(summary) -> dict | None:
    if summary is None:
        return None
    return {
        "status": summary.status, "status_label": summary.get_status_display(), "source": summary.source,
        "model": summary.model, "version": summary.version, "summarized_version": summary.summarized_version,
        "stale": summary.is_stale, "data": summary.data, "updated_at": summary.updated_at,
    }


def _reader_session(request, session_id) -> tuple[Viewer, Session]:
    viewer = Viewer.of(request.user)
    return viewer, selectors.session_for_reader(viewer, session_id)


def notes_payload(session) -> dict:
    """{"notes": [...], "summary": ...} of a session, for readers already checked (also the
    creator's detail panel)."""
    now = timezone.now()
    notes = selectors.notes_of(session)
    return {
        "notes": [{"id": n.id, "author": person(n.author), "text": n.text, "channel": n.channel,
                   "created_at": n.created_at, "attachments": [_attachment(a, now) for a in n.attachments.all()]}
                  for n in notes],
        "summary": _summary(selectors.summary_of(session)),
    }


def _notes_body(viewer, session, rejected=()) -> dict:
    return {
        "session_id": session.id,
        "can_add": selectors.can_add(viewer, session) is None,
        **notes_payload(session),
        "rejected": [{"file": r.filename, "detail": str(r)} for r in rejected],
    }


@router.get("/{session_id}/notes", response={200: NotesOut, **ERRORS})
def get_notes(request, session_id: int):
    """The session's notes, each attachment with a download link valid for 5 minutes, and the summary."""
    viewer, session = _reader_session(request, session_id)
    return _notes_body(viewer, session)


@router.post("/{session_id}/notes", response={201: NotesOut, **ERRORS}, openapi_extra={
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "text": {"type": "string", "maxLength": services.MAX_TEXT},
            "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        }}},
        "application/json": {"schema": {"type": "object", "properties": {"text": {"type": "string"}}}},
    }},
})
def add_notes(request, session_id: int):
    """The tutor adds notes (text and attachments, each at most 10 MB) until the parent acknowledges.
    Attachments that fail validation are listed in `rejected`; the rest is saved."""
    text, files = _notes_input(request)  # malformed input is a 422 before the session is looked up
    if not text and not files:
        raise Refused("Write a note or attach a file.", code="empty_note", status=422,
                      errors=[{"field": "text", "detail": "Write a note or attach a file."}])
    viewer, session = _reader_session(request, session_id)
    submission = services.add_notes(session, by=request.user, text=text, files=files, channel=Channel.API)
    session = _reader_session(request, session_id)[1]
    return Reply(201, _notes_body(viewer, session, rejected=submission.refusals))


def _notes_input(request) -> tuple[str, list]:
    """The text (cleaned by the notes' rules) and the files; Refused (422, `errors` naming the
    field) when the body is not what the document describes, whoever asks and for whatever session."""
    content_type = request.content_type or ""
    if content_type == "application/json":
        try:
            body = parse_json(request.body or b"{}")
        except ValueError as exc:  # also bad UTF-8 and JSON nested too deep
            raise HttpError(400, f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise Refused("The body must be a JSON object like {\"text\": \"...\"}.", code="invalid", status=422,
                          errors=[{"field": "", "detail": "must be an object"}])
        if not isinstance(body.get("text", ""), str):
            raise Refused("text: must be a string", code="invalid", status=422,
                          errors=[{"field": "text", "detail": "must be a string"}])
        text, files = body.get("text", ""), []
    elif content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        text, files = request.POST.get("text", ""), request.FILES.getlist("files")
    else:
        raise Refused("Send the notes as multipart/form-data (text and files) or JSON ({\"text\": ...}).",
                      code="unsupported_media_type", status=422,
                      errors=[{"field": "", "detail": "use multipart/form-data or application/json"}])
    try:
        return services.clean_text(text), files
    except Refused as refused:
        refused.errors = refused.errors or [{"field": "text", "detail": refused.message}]
        raise


@router.get("/{session_id}/notes/summary", response={200: SummaryOut, **ERRORS})
def get_summary(request, session_id: int):
    """The AI summary of the session's notes with where it stands (pending, retrying, ready, failed)."""
    _, session = _reader_session(request, session_id)
    summary = selectors.summary_of(session)
    if summary is None:
        raise Refused("This session has no notes yet, so there is no summary.", code="no_notes", status=404)
    return _summary(summary)
