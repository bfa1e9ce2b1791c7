"""Notes: who may read them, and the reads (web, API, admin, the session page, the creator's
pages). The writes are in services.py."""

from datetime import datetime

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone

from sessions import projections, rules
from sessions.access import Relation, Viewer, get_session_for
from sessions.errors import Refused
from sessions.models import Session

from .models import Attachment, Note, Summary

# Who reads a session's notes, attachments and summary (the student alone does not).
READERS = frozenset({Relation.TUTOR, Relation.PARENT, Relation.COORDINATOR, Relation.CREATOR})


# --- reading ---------------------------------------------------------------------------------


def can_read(rels) -> bool:
    return bool(set(rels) & READERS)


def session_for_reader(viewer: Viewer, session_id) -> Session:
    """The session if this viewer may read its notes, else Http404 (as for a session they cannot see)."""
    session = get_session_for(viewer, session_id, queryset=Session.objects.select_related(
        "course", "tutor", "student", "notes_summary"))
    if not can_read(viewer.relations(session)):
        raise Http404("Session not found.")
    return session


def notes_prefetch(prefix: str = "") -> list:
    """Prefetches that let a list of sessions show their notes with two queries in all."""
    return [Prefetch(f"{prefix}notes", queryset=Note.objects.select_related("author")
                     .prefetch_related("attachments"))]


def notes_of(session: Session) -> list[Note]:
    """The session's notes, oldest first, with authors and attachments (three queries)."""
    return list(Note.objects.filter(session=session).select_related("author").prefetch_related("attachments"))


def can_add(viewer: Viewer, session: Session, now: datetime | None = None) -> Refused | None:
    """None if this viewer may add notes now, else the lifecycle's refusal."""
    return rules.refusal(rules.guard_add_notes, projections.context(session, viewer, now or timezone.now()))


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
