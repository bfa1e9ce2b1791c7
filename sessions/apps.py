from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "sessions"
    # `sessions` would collide with django.contrib.sessions
    label = "tutoring_sessions"
    verbose_name = "Tutoring sessions"

    def ready(self) -> None:
        # the app mounts its own API routes on the project's API (tutoring imports no app)
        from tutoring.api import mount

        from .api import root_router, router

        mount("", root_router)  # /api/me, /api/cancellation-reasons
        mount("/sessions", router)
