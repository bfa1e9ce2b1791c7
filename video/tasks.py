"""Celery entry points for recordings and for ending a provider's room: thin adapters that take
ids and call video.recordings / video.services.

A copy that stops part-way is retried with backoff (30 s doubling, capped at 10 minutes, well
under the broker's visibility timeout); what it stored is kept and the retry resumes. So is a copy
whose recording the provider has not finished (NotYetAtProvider), until recordings.PLAYBACK_WAIT.
Run eagerly (tests, a worker-less setup) an attempt is not retried in place: the sweep picks it up."""

import redis
from celery import shared_task
from django.utils import timezone

from . import attendance, browser_recordings, recordings, services
from .errors import VideoUnavailable

RETRY_BACKOFF = 30
RETRY_BACKOFF_MAX = 600


@shared_task(bind=True, max_retries=recordings.MAX_ATTEMPTS, acks_late=True)
def copy_recording(self, copy_id: int) -> str:
    try:
        return recordings.copy_recording(copy_id)
    except (recordings.CopyInterrupted, VideoUnavailable):
        if self.request.is_eager or self.request.retries >= self.max_retries:
            return "interrupted"
        raise self.retry(countdown=min(RETRY_BACKOFF * 2 ** self.request.retries, RETRY_BACKOFF_MAX)) from None


@shared_task(bind=True, max_retries=5, acks_late=True)
def end_room(self, session_id: int) -> str:
    """End the session's provider room (the tutor left it, or checked out); retried with backoff
    while the provider does not answer. Everyone it had is out of the room's presence at once (as
    PlugNmeet's room_finished does; the polls skip an ended room)."""
    now = timezone.now()
    try:
        provider = services.end_open_room(session_id, now=now)
    except VideoUnavailable:
        if self.request.is_eager or self.request.retries >= self.max_retries:
            return "failed"
        raise self.retry(countdown=min(RETRY_BACKOFF * 2 ** self.request.retries, RETRY_BACKOFF_MAX)) from None
    if provider is None:
        return "nothing to end"
    try:
        attendance.room_emptied(session_id, provider, now=now)
    except redis.RedisError:  # the presence runs out by itself (VIDEO_PRESENCE_TTL_SECONDS)
        pass
    return "ended"


@shared_task
def sweep_recordings() -> dict:
    """Beat, every 15 minutes: recordings no webhook announced, copies whose worker died, and
    browser recordings of the built-in room left open (their tab closed mid-call)."""
    now = timezone.now()
    found = services.discover_recordings(now=now)
    stalled = recordings.stalled(now=now)
    for copy_id in stalled:
        copy_recording.delay(copy_id)
    closed = browser_recordings.close_abandoned(now=now)
    return {"discovered": found, "requeued": len(stalled), "browser_closed": closed["completed"] + closed["dropped"]}


@shared_task(ignore_result=True)
def poll_presence() -> dict:
    """Beat, every VIDEO_PRESENCE_POLL_SECONDS: who is in each provider room in use (video.attendance)."""
    return attendance.poll_rooms(now=timezone.now())
