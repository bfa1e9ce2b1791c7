from datetime import timedelta

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from . import bot
from .models import ProcessedUpdate


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True, max_retries=5)
def handle_update(payload: dict) -> bool:
    """One webhook update, at least once (a database error is retried, a killed worker's task is
    delivered again) and its work once (bot.handle_once): True when this run did the work, False
    when it was done before (then at most the answer that never went out is sent)."""
    return bot.process(payload)


KEEP_UPDATES = timedelta(days=2)  # Telegram gives up on an update after 24 hours


@shared_task(acks_late=True)
def prune_updates(now=None) -> int:
    """Beat, daily: forget the update ids Telegram can no longer send again."""
    now = now or timezone.now()
    return ProcessedUpdate.objects.filter(received_at__lt=now - KEEP_UPDATES).delete()[0]
