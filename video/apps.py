from django.apps import AppConfig
from django.db.models.signals import post_save


class VideoConfig(AppConfig):
    name = "video"
    verbose_name = "Video rooms and recordings"

    def ready(self):
        from sessions.models import SessionEvent
        from tutoring.api import mount

        from .api import router
        from .services import end_room_on_check_out

        post_save.connect(end_room_on_check_out, sender=SessionEvent,
                          dispatch_uid="video.end_room_on_check_out")
        # the app mounts its own API routes on the project's API: /api/sessions/{id}/video/join
        mount("/sessions", router)
