"""The notifications channel for Telegram, registered into notifications.channels.CHANNELS by
TelegramBotConfig.ready (notifications sits below the feature apps and imports none of them)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from notifications.outcomes import Outcome
from notifications.models import Channel

from .delivery import send_all
from .models import TelegramLink


class Telegram:
    """The tutor's linked Telegram chat: on while the bot is configured and the person has linked a
    chat. A person who blocked the bot is unlinked and told in the app (delivery.send_all)."""

    name = Channel.TELEGRAM

    @property
    def reachable_sql(self) -> str:
        if not settings.TELEGRAM_BOT_TOKEN:
            return "FALSE"
        return "EXISTS (SELECT 1 FROM telegram_bot_telegramlink t WHERE t.user_id = u.id)"

    def preload(self, user_ids: list[int]) -> set[int]:
        """The linked among these people (one query a batch)."""
        if not settings.TELEGRAM_BOT_TOKEN or not user_ids:
            return set()
        return set(TelegramLink.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))

    def offered(self, user) -> bool:
        """Shown in the person's notification settings only once they linked a chat."""
        return bool(self.preload([user.id]))

    def unreachable(self, user, linked: set[int]) -> str:
        return "" if user.id in linked else "no linked Telegram chat"

    def deliver(self, items: list, now: datetime) -> list[Outcome]:
        return send_all(items, now)
