from django.apps import AppConfig
from django.db.models.signals import post_save


class VideoConfig(AppConfig):
    name = "video"
    verbose_name = "Video rooms and recordings"

    def ready(self):
        from sessions.models import SessionEvent

        post_save.connect(_session_event_saved, sender=SessionEvent,
                          dispatch_uid="video.end_room_on_check_out")


def _session_event_saved(sender, instance, created, **kwargs):
    """Check-out (sessions.lifecycle writes its event in the change's transaction) ends the
    session's provider room after commit (video.services.end_room_after_commit)."""
    from . import services

    if created and services.ends_the_room(instance):
        services.end_room_after_commit(instance.session_id)
