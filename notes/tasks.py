"""Celery entry points for summaries: enqueued after the notes commit, one task per notes version.

Retries back off exponentially from 30 s and are capped at 10 minutes, well below the broker's
visibility timeout (an unacknowledged task is redelivered after that, so a countdown beyond it
would run twice). After the last retry the note keeps a labelled local extract instead."""

from dataclasses import dataclass

from celery import shared_task

from . import services

RETRY_BACKOFF = 30
RETRY_BACKOFF_MAX = 600
MAX_RETRIES = 6


@dataclass(frozen=True)
class TryAgain:
    countdown: int


def attempt(session_id: int, version: int, *, retries: int, eager: bool = False) -> str | TryAgain:
    """One attempt: its outcome, or when to try again. Run eagerly (tests, a worker-less setup) a
    retry cannot wait, so the attempt is the last."""
    try:
        return services.summarize(session_id, version, final_attempt=eager or retries >= MAX_RETRIES)
    except services.SummaryRetry:
        return TryAgain(countdown=min(RETRY_BACKOFF * 2 ** retries, RETRY_BACKOFF_MAX))


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def summarize_notes(self, session_id: int, version: int) -> str:
    outcome = attempt(session_id, version, retries=self.request.retries, eager=self.request.is_eager)
    if isinstance(outcome, TryAgain):
        raise self.retry(countdown=outcome.countdown)
    return outcome


@shared_task
def requeue_stalled_summaries() -> int:
    """Beat, every 10 minutes: enqueue again the summaries whose task was lost."""
    stalled = services.stalled_summaries()
    for session_id, version in stalled:
        summarize_notes.delay(session_id, version)
    return len(stalled)
