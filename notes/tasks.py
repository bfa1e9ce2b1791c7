"""Celery entry point for summaries: enqueued after the notes commit, one task per notes version.

Retries back off exponentially from 30 s and are capped at 10 minutes, well below the broker's
visibility timeout (an unacknowledged task is redelivered after that, so a countdown beyond it
would run twice). After the last retry the note keeps a labelled local extract instead."""

from celery import shared_task

from . import services

RETRY_BACKOFF = 30
RETRY_BACKOFF_MAX = 600
MAX_RETRIES = 6


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def summarize_notes(self, session_id: int, version: int) -> str:
    try:
        return services.summarize(session_id, version, final_attempt=self.request.retries >= MAX_RETRIES)
    except services.SummaryRetry as exc:
        countdown = min(RETRY_BACKOFF * 2 ** self.request.retries, RETRY_BACKOFF_MAX)
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task
def requeue_stalled_summaries() -> int:
    """Beat, every 10 minutes: enqueue again the summaries whose task was lost."""
    stalled = services.stalled_summaries()
    for session_id, version in stalled:
        summarize_notes.delay(session_id, version)
    return len(stalled)
