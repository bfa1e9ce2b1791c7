"""Celery entry points: thin adapters that take ids and call the lifecycle."""

from celery import shared_task

from . import lifecycle
from .models import SessionEvent
from .notify import notify_event


@shared_task
def expire_reschedules() -> int:
    return lifecycle.expire_due_reschedules()


@shared_task
def mark_no_shows() -> int:
    return lifecycle.mark_due_no_shows()


@shared_task(autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=600, max_retries=8)
def notify_events(event_ids: list[int]) -> int:
    events = SessionEvent.objects.filter(pk__in=event_ids).select_related("session__tutor", "session__student")
    return sum(notify_event(event) for event in events)
