from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        # the navigation's Messages badge joins notifications' one count query from here, so
        # notifications (a layer below the feature apps) imports nothing of messaging
        from notifications.context_processors import add_badge

        from .services import unread

        add_badge("messages", unread, id_only=True)  # its query reads the user's id alone
