import os

from django.apps import AppConfig

# python-telegram-bot 22.2+ deprecates its int time periods (RetryAfter.retry_after and the like:
# reading one, even PTB building a RetryAfter, warns); this opts in to the coming datetime.timedelta
# ones, the only non-deprecated form, for every process that sets Django up (web, worker, runbot).
PTB_TIMEDELTA = "PTB_TIMEDELTA"


class TelegramBotConfig(AppConfig):
    name = "telegram_bot"

    def ready(self) -> None:
        os.environ[PTB_TIMEDELTA] = "true"
        # the bot's notifications channel joins notifications' registry from here, so notifications
        # (a layer below the feature apps) imports nothing of the bot
        from notifications.channels import register

        from .channel import Telegram

        register(Telegram())
