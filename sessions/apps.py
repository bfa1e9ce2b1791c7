from django.apps import AppConfig


class SessionsConfig(AppConfig):
    name = "sessions"
    # `sessions` would collide with django.contrib.sessions
    label = "tutoring_sessions"
    verbose_name = "Tutoring sessions"
