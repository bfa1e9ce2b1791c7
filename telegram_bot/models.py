"""The bot's state: which chat is whose (TelegramLink), the one-time codes of the deep link that
binds them (LinkCode), the updates already handled (ProcessedUpdate: Telegram retries a webhook,
a poller may see an update twice, a Celery task may run again) and each chat's place in a short conversation (ChatState:
kept in the database, since each webhook update is handled by whichever worker takes it)."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

LINK_CODE_TTL = timedelta(minutes=10)


class TelegramLink(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link")
    chat_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=64, blank=True)
    linked_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} ↔ chat {self.chat_id}"


class LinkCode(models.Model):
    """One-time, 10-minute code carried by t.me/<bot>?start=<code>."""

    code = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user, now=None) -> "LinkCode":
        now = now or timezone.now()
        cls.objects.filter(user=user, used_at__isnull=True).delete()  # the newest link is the only one
        return cls.objects.create(code=secrets.token_urlsafe(24), user=user, created_at=now,
                                  expires_at=now + LINK_CODE_TTL)


class ProcessedUpdate(models.Model):
    """An update whose work is done: written in the same transaction as the work (telegram_bot.bot
    .handle_once), so a crash before the commit leaves no row and a redelivery does the work, and a
    second delivery finds the row (or waits on its insert) and does nothing again. `answer` is what
    the bot says back, kept until it is sent (`answered_at`); `answering_since` is the claim of
    whoever is sending it, taken over once older than bot.ANSWER_CLAIM (a sender that died)."""

    update_id = models.BigIntegerField(primary_key=True)
    received_at = models.DateTimeField(db_index=True)  # when the work was done
    answer = models.JSONField(default=list, blank=True)  # [{"text": ..., "buttons": [[[label, data]]]}]
    answering_since = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)


class ChatState(models.Model):
    """Where a chat is in a conversation: {"step": ..., "session": id, ...}."""

    chat_id = models.BigIntegerField(primary_key=True)
    data = models.JSONField(default=dict)
    updated_at = models.DateTimeField()
