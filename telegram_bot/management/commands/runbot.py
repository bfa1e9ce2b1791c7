"""Development (and `docker compose --profile bot`): the bot in polling mode (bot.poll). Run one
poller per token; production uses the webhook instead, and starting a poller deletes the token's
webhook (Telegram refuses getUpdates while one is set), so never point runbot at the production
token. The database connection is given back after each update (bot.poller), so the poller keeps
working after PostgreSQL restarts or drops its connection."""

from django.conf import settings
from django.core.management.base import BaseCommand

from telegram_bot import bot


class Command(BaseCommand):
    help = "Run the Telegram bot in polling mode (needs TELEGRAM_BOT_TOKEN)."

    def handle(self, *args, **options):
        if not settings.TELEGRAM_BOT_TOKEN:
            self.stdout.write("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off.")
            return
        application = bot.poller()  # each update's work once, also across restarts; survives a database restart
        self.stdout.write(f"Polling as @{settings.TELEGRAM_BOT_USERNAME}; Ctrl-C stops.")
        bot.poll(application)
