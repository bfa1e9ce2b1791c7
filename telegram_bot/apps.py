from django.apps import AppConfig


class TelegramBotConfig(AppConfig):
    name = "telegram_bot"

    def ready(self) -> None:
        # the bot's notifications channel joins notifications' registry from here, so notifications
        # (a layer below the feature apps) imports nothing of the bot
        from notifications.channels import register

        from .channel import Telegram

        register(Telegram())
