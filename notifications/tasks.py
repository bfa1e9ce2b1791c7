"""Celery entry points: thin adapters over the outbox relay, the reminder sweep and the dispatcher.
Beat runs relay, plan and dispatch_due every minute (CELERY_BEAT_SCHEDULE); relay_events and
dispatch are what a commit hook asks for at once. Every one is safe to run twice or concurrently."""

from celery import shared_task

from . import dispatch as dispatcher
from . import email, outbox, planning


@shared_task(acks_late=True)
def relay_events(event_ids: list[int]) -> int:
    """Right after a change commits: relay its events and send what they made."""
    made = outbox.relay(ids=[int(i) for i in event_ids])
    dispatcher.deliver(made)
    return len(made)


@shared_task(name="sessions.tasks.notify_events", acks_late=True)
def notify_events(event_ids: list[int]) -> int:
    """Kept under its old name for tasks queued before the outbox took over (relay_events): the
    name is sessions', the work is the relay's, so it lives here and sessions imports nothing."""
    return relay_events(event_ids)


@shared_task(acks_late=True)
def summary_done(session_id: int) -> None:
    """Right after a notes summary is written (notes.services publishes this by name): the
    parents' notices that waited for it are due now. Beat's dispatch_due sends them anyway once
    they stop waiting, if this is lost."""
    outbox.summary_done(int(session_id))


@shared_task(acks_late=True)
def relay() -> int:
    """Beat: every event nobody has been told about yet (the hook's publish failed, the broker lost
    the task, a worker died)."""
    made = outbox.relay()
    dispatcher.deliver(made)
    return len(made)


@shared_task(acks_late=True)
def plan() -> int:
    """Beat: the reminders and nudges that are due."""
    made = planning.plan()
    dispatcher.deliver(made)
    return len(made)


@shared_task(acks_late=True)
def dispatch(delivery_ids: list[int]) -> dict:
    return dict(dispatcher.dispatch([int(i) for i in delivery_ids]))


@shared_task(acks_late=True)
def dispatch_due() -> dict:
    """Beat: retries that are due, deliveries that waited, claims a dead worker left behind (and
    the kept email batches too old to be repeated)."""
    counts = dict(dispatcher.dispatch())
    email.forget_old_batches()
    return counts
