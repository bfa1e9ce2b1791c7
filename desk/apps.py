from django.apps import AppConfig


class DeskConfig(AppConfig):
    name = "desk"
    verbose_name = "Coordinator desk"

    def ready(self) -> None:
        # the app mounts its own API routes on the project's API (tutoring imports no app)
        from tutoring.api import mount

        from .api import router

        mount("/matches", router)  # /api/matches/{id}/accept, .../pattern
