from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import bot


@shared_task(acks_late=True)
def handle_update(payload: dict) -> bool:
    """One webhook update: handled the first time its update_id is seen, else dropped."""
    if not bot.claim(int(payload["update_id"])):
        return False
    bot.process(payload)
    return True


KEEP_UPDATES = timedelta(days=2)  # Telegram gives up on an update after 24 hours


@shared_task(acks_late=True)
def prune_updates(now=None) -> int:
    """Beat, daily: forget the update ids Telegram can no longer send again."""
    from .models import ProcessedUpdate

    now = now or timezone.now()
    return ProcessedUpdate.objects.filter(received_at__lt=now - KEEP_UPDATES).delete()[0]
