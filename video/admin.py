"""The coordinators' view of video: per-course provider settings (editable), and the rooms,
provider events, recording copies and provider incidents the application writes (read only)."""

from django.contrib import admin

from sessions.admin import SessionRecordAdmin
from tutoring.admin import CoordinatorAccess, ReadOnlyAccess

from .models import CourseVideo, ProviderEvent, ProviderIncident, RecordingCopy, VideoRoom


@admin.register(CourseVideo)
class CourseVideoAdmin(CoordinatorAccess, admin.ModelAdmin):
    list_display = ("course", "provider", "record")
    list_select_related = ("course",)
    autocomplete_fields = ("course",)
    search_fields = ("course__title",)


@admin.register(VideoRoom)
class VideoRoomAdmin(SessionRecordAdmin):
    list_display = ("room_id", "session_ref", "provider", "record", "created_at", "ended_at")
    list_filter = ("provider",)
    search_fields = ("room_id",)


@admin.register(ProviderEvent)
class ProviderEventAdmin(SessionRecordAdmin):
    list_display = ("occurred_at", "provider", "name", "kind", "session_ref", "user", "connection_id")
    list_select_related = ("user",)
    list_filter = ("provider", "kind")
    raw_id_fields = ("session", "user")


@admin.register(RecordingCopy)
class RecordingCopyAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("id", "provider", "provider_recording_id", "status", "bytes_done", "source_size", "attempts",
                    "short_error", "created_at", "finished_at")
    list_filter = ("status", "provider")
    ordering = ("-id",)
    raw_id_fields = ("recording",)
    exclude = ("upload_id",)

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]


@admin.register(ProviderIncident)
class ProviderIncidentAdmin(ReadOnlyAccess, admin.ModelAdmin):
    list_display = ("provider", "kind", "opened_at", "last_seen_at", "occurrences", "closed_at")
    list_filter = ("provider", "kind")
    ordering = ("-opened_at",)
