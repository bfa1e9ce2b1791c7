from django.apps import AppConfig


class CreatorsConfig(AppConfig):
    name = "creators"

    def ready(self) -> None:
        # the app mounts its own API routes on the project's API (tutoring imports no app)
        from tutoring.api import mount

        from .api import creators_router, recordings_router, tutor_router

        mount("/creators", creators_router)  # /api/creators/me/...
        mount("/me", tutor_router)  # /api/me/st-sessions, /api/me/st-analytics/sessions
        mount("/sessions", recordings_router)  # /api/sessions/{id}/recording
