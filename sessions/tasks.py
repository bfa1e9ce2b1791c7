"""Celery entry points: thin adapters that take ids and call the lifecycle."""

from celery import shared_task

from . import lifecycle


@shared_task
def expire_reschedules() -> int:
    return lifecycle.expire_due_reschedules()


@shared_task
def mark_no_shows() -> int:
    return lifecycle.mark_due_no_shows()

