from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo world (`manage.py seed_demo`): people, courses and sessions in every state, made
    through the lifecycle and the notes' services. A composition of the apps beneath it, with no
    models of its own; development's only (production refuses to run it)."""

    name = "demo"
    verbose_name = "Demo world"
