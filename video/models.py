"""Video rooms at a provider, what the providers tell us (webhooks), recordings on their way to
storage, and provider incidents for coordinators.

The session's own fields (Session.video_provider, video_room_id) say which provider and room a
session used; VideoRoom keeps what the provider needs again later (BBB's createTime)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from sessions.models import Recording, Session, VideoProvider


def configured_providers() -> set[str]:
    """The providers this deployment can use: the built-in room always, the others when their
    credentials are set (tutoring/settings.py)."""
    made = {VideoProvider.P2P}
    if settings.PLUGNMEET:
        made.add(VideoProvider.PLUGNMEET)
    if settings.BBB:
        made.add(VideoProvider.BBB)
    return made


class CourseVideo(models.Model):
    """A course's own video settings; without a row (or with a field left empty) the deployment's
    VIDEO_PROVIDER and VIDEO_RECORD_DEFAULT apply."""

    course = models.OneToOneField("tutoring.Course", primary_key=True, on_delete=models.CASCADE,
                                  related_name="video")
    provider = models.CharField(max_length=16, choices=VideoProvider.choices, blank=True,
                                help_text="Empty: the deployment's provider (VIDEO_PROVIDER).")
    record = models.BooleanField(null=True, blank=True,
                                 help_text="Record sessions of this course. Unknown: the deployment's default.")

    class Meta:
        verbose_name = "course video setting"

    def __str__(self) -> str:
        return f"Video of {self.course}"

    def clean(self):
        if self.provider and self.provider not in configured_providers():
            raise ValidationError({"provider": f"{self.get_provider_display()} is not configured on this "
                                               "deployment (see Configuration in the README)."})


class VideoRoom(models.Model):
    """A session's room at its provider. Created on the first join; a room the provider has ended
    (or lost) is created again under the same room id with a new create_time, so a join link of
    the earlier room cannot enter the new one (BBB's createTime)."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="video_room")
    provider = models.CharField(max_length=16, choices=VideoProvider.choices)
    room_id = models.CharField(max_length=100, unique=True)
    create_time = models.CharField(max_length=40, blank=True,
                                   help_text="BBB: the meeting's createTime (ms); PlugNmeet: the room's sid.")
    record = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.get_provider_display()} room {self.room_id}"


class ProviderEventKind(models.TextChoices):
    JOINED = "joined", "Participant joined"
    LEFT = "left", "Participant left"
    ROOM_STARTED = "room_started", "Room started"
    ROOM_FINISHED = "room_finished", "Room finished"
    RECORDING_READY = "recording_ready", "Recording ready"
    OTHER = "other", "Other"


class ProviderEvent(models.Model):
    """One verified webhook delivery. (provider, key) is unique, so a replayed or re-sent delivery
    is recognised and does nothing twice. Joins and leaves carry what the room's presence needs:
    session, user, the provider's connection id and the time."""

    provider = models.CharField(max_length=16, choices=VideoProvider.choices)
    key = models.CharField(max_length=200, help_text="The provider's event id, or a digest of the delivery.")
    kind = models.CharField(max_length=20, choices=ProviderEventKind.choices)
    name = models.CharField(max_length=60, help_text="The provider's own event name.")
    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    connection_id = models.CharField(max_length=100, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "key"], name="provider_event_once")]
        indexes = [models.Index(fields=["session", "occurred_at"], name="provider_event_session")]

    def __str__(self) -> str:
        return f"{self.provider} {self.name} ({self.key})"


class CopyStatus(models.TextChoices):
    PENDING = "pending", "Waiting to copy"
    COPYING = "copying", "Copying"
    DONE = "done", "Copied"
    FAILED = "failed", "Failed"


class RecordingCopy(models.Model):
    """The transfer of one provider recording into storage, resumable: the parts already stored
    (with their MD5, which the store checked on upload) and the multipart upload they belong to
    are saved after every part, so an interrupted copy continues where it stopped."""

    recording = models.OneToOneField(Recording, on_delete=models.CASCADE, related_name="copy")
    provider = models.CharField(max_length=16, choices=VideoProvider.choices)
    provider_recording_id = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=CopyStatus.choices, default=CopyStatus.PENDING)
    storage_key = models.CharField(max_length=500)
    source_size = models.BigIntegerField(null=True, blank=True)
    bytes_done = models.BigIntegerField(default=0)
    upload_id = models.CharField(max_length=300, blank=True)
    parts = models.JSONField(default=list, blank=True)
    checksum = models.CharField(max_length=100, blank=True,
                                help_text="What the stored object was verified against (S3 multipart ETag or sha256).")
    attempts = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "recording copies"
        constraints = [models.UniqueConstraint(fields=["provider", "provider_recording_id"],
                                               name="recording_copy_once")]
        indexes = [models.Index(fields=["status"], condition=~Q(status="done"), name="recording_copy_open")]

    def __str__(self) -> str:
        return f"{self.provider} recording {self.provider_recording_id} ({self.status})"


class ProviderIncident(models.Model):
    """A problem coordinators must fix (wrong credentials), open until a call succeeds again. At most
    one open incident per provider and kind: coordinators hear of it once, not on every request."""

    CREDENTIALS = "credentials"

    provider = models.CharField(max_length=16, choices=VideoProvider.choices)
    kind = models.CharField(max_length=30, default=CREDENTIALS)
    detail = models.TextField(blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "kind"], condition=Q(closed_at__isnull=True),
                                               name="provider_incident_one_open")]

    def __str__(self) -> str:
        state = "open" if self.closed_at is None else "closed"
        return f"{self.get_provider_display()} {self.kind} ({state})"
