from importlib import import_module
from importlib.util import find_spec

from django.apps import AppConfig, apps


class TutoringConfig(AppConfig):
    name = "tutoring"
    verbose_name = "People and courses"

    def ready(self):
        # Every installed app's tasks module is imported once here, at start-up, in one thread:
        # a web process publishes tasks by name (tutoring.celery.publish), and autodiscovery left
        # to the first requests raced between threads under gunicorn (bench/load.py found check-ins
        # committed and answered 500 with NotRegistered('notifications.tasks.relay_events')).
        for config in apps.get_app_configs():
            if find_spec(f"{config.name}.tasks") is not None:
                import_module(f"{config.name}.tasks")
