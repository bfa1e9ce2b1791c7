"""Product analytics: one row per event, written by analytics.events.record() (server side) or by
the beacon endpoint (browser side). Coordinators read them in the admin."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class EventName(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    SESSION_VIEWED = "session_viewed", "Session viewed"
    RECORDING_PLAYED = "recording_played", "Recording played"
    FILTER_APPLIED = "filter_applied", "Filter applied"
    # the Session Room (page SROM)
    SESSION_JOINED = "session_joined", "Session joined"
    SESSION_STARTED = "session_started", "Session started"
    SESSION_ENDED = "session_ended", "Session ended"
    FEEDBACK_SUBMITTED = "feedback_submitted", "Feedback submitted"
    TECH_ISSUE = "tech_issue", "Technical issue"


class EventSource(models.TextChoices):
    SERVER = "server", "Server"
    BROWSER = "browser", "Browser"


class Event(models.Model):
    name = models.CharField(max_length=32, choices=EventName.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="analytics_events")
    page = models.CharField(max_length=200, help_text='The page\'s code ("CSES") or its path.')
    data = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=8, choices=EventSource.choices, default=EventSource.SERVER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["name", "-created_at"], name="analytics_event_name_time"),
            # the admin's ordering and its date filters (either direction reads this index)
            models.Index(fields=["created_at", "id"], name="analytics_event_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.source}) at {self.created_at:%Y-%m-%d %H:%M}"
