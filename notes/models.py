"""Session notes: what the tutor wrote after a session, its attachments on object storage, and
the AI summary of all of it.

A session gathers one Note per submission (the tutor can add until the parent acknowledges);
attachments belong to the note they came with. The summary covers every note of the session:
each submission bumps `Summary.version`, and a summary is written only for the version it read,
so a slow run never overwrites the summary of newer notes.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from sessions.models import Channel, Session

from .uploads import Kind


class Note(models.Model):
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["session", "created_at"], name="note_session_time")]

    def __str__(self) -> str:
        return f"Notes for session {self.session_id} ({self.created_at:%Y-%m-%d %H:%M})"


class TranscriptStatus(models.TextChoices):
    NOT_AUDIO = "", "Not audio"
    PENDING = "pending", "Transcript pending"
    DONE = "done", "Transcribed"
    FAILED = "failed", "Transcription failed"
    UNAVAILABLE = "unavailable", "No transcription service configured"


class Attachment(models.Model):
    """A file under a generated storage name; the uploader's filename is display metadata only."""

    note = models.ForeignKey(Note, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    storage_name = models.CharField(max_length=200, unique=True)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    transcript = models.TextField(blank=True)
    transcript_status = models.CharField(max_length=16, choices=TranscriptStatus.choices, blank=True,
                                         default=TranscriptStatus.NOT_AUDIO)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def inline_viewable(self) -> bool:
        """Photos and audio play in the page; documents download."""
        return self.kind in (Kind.PHOTO, Kind.AUDIO)


class SummaryStatus(models.TextChoices):
    PENDING = "pending", "Summary pending"
    RETRYING = "retrying", "Summary failed, retrying"
    READY = "ready", "Summary ready"
    FAILED = "failed", "AI summary unavailable: sentences taken from the notes are shown instead"


# The summary is still being made: a task owes it (notes.services.stalled_summaries re-enqueues a lost one).
IN_PROGRESS = (SummaryStatus.PENDING, SummaryStatus.RETRYING)


class Summary(models.Model):
    """The summary of a session's notes. `version` counts note submissions; `summarized_version`
    is the version `data` describes. status tells the reader where the work stands."""

    session = models.OneToOneField(Session, on_delete=models.PROTECT, primary_key=True,
                                   related_name="notes_summary")
    version = models.PositiveIntegerField(default=0)
    summarized_version = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=SummaryStatus.choices, default=SummaryStatus.PENDING)
    source = models.CharField(max_length=16, blank=True)  # "openai" or "local"
    model = models.CharField(max_length=100, blank=True)
    data = models.JSONField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "summaries"

    def __str__(self) -> str:
        return f"Summary of session {self.session_id} (v{self.version}, {self.status})"

    @property
    def is_local(self) -> bool:
        return self.source == "local"

    @property
    def is_stale(self) -> bool:
        """Data exists but describes older notes than the latest submission."""
        return self.data is not None and self.summarized_version < self.version
