"""The dispatcher: claims due deliveries, writes each message in its reader's words and zone, hands
them to their channels, and records what happened to each.

Claiming is a conditional UPDATE over rows picked with FOR UPDATE SKIP LOCKED: pending and due,
or stuck in `sending` past their lease (a worker died mid-send). Each claim counts an attempt.
Then, per delivery: a stale one (a reminder of a cancelled, moved or started session), one whose
reader switched its topic off or cannot be reached on the channel any more, is skipped with the
reason; one that should wait (notes waiting for their summary) goes back without an attempt; the
rest are sent. A transient failure (a network error, Resend 5xx or 429) is retried with a backoff
that doubles from NOTIFY_RETRY_FIRST_MINUTES up to NOTIFY_RETRY_MAX_MINUTES (at least the
provider's retry-after) and is failed for good after NOTIFY_MAX_ATTEMPTS (an email that already
went in a Resend batch is retried as that same request, not written again: notifications.email); a permanent one (a refused
address, a template error) is failed at once. Failed deliveries are listed in the admin, where a
coordinator can send them again.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from notes.models import IN_PROGRESS, Summary
from sessions.models import Session, SessionEvent
from tutoring.celery import publish_each
from tutoring.models import Guardianship

from .channels import CHANNELS
from .email import KEY_KEPT
from .kinds import KINDS, Ctx
from .models import Delivery, DeliveryStatus
from .outbox import DISPATCH_TASK, Reach
from .outcomes import Outcome

log = logging.getLogger(__name__)

BATCH = 200  # deliveries per claim: two Resend batch requests of email at most
LEASE = timedelta(minutes=10)  # a claim older than this is taken to be lost (the worker died)
INLINE_MAX = 200  # more new deliveries than this are spread over tasks instead of sent in place

_CLAIM = """
UPDATE notifications_delivery d
SET status = 'sending', attempts = d.attempts + 1, claimed_until = %(lease)s, updated_at = %(now)s
WHERE d.id IN (
    SELECT id FROM notifications_delivery
    WHERE ((status = 'pending' AND next_attempt_at <= %(now)s)
           OR (status = 'sending' AND claimed_until < %(now)s)) {only}
    ORDER BY next_attempt_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
AND (d.status = 'pending' OR d.claimed_until < %(now)s)
RETURNING d.id
"""


def claim(ids: list[int] | None, now: datetime, limit: int = BATCH) -> list[int]:
    only = "AND id = ANY(%(ids)s)" if ids is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CLAIM.format(only=only), {"ids": ids, "now": now, "lease": now + LEASE, "limit": limit})
        return [row[0] for row in cursor.fetchall()]


def dispatch(ids: list[int] | None = None, *, now: datetime | None = None, limit: int = BATCH) -> Counter:
    """Deliver the due deliveries (all, or those of `ids`) until none is left; what happened, counted."""
    counts = Counter()
    while True:
        at = now or timezone.now()
        claimed = claim(ids, at, limit)
        if not claimed:
            return counts
        counts.update(o.status for o in deliver_claimed(claimed, at))
        if len(claimed) < limit:
            return counts


def deliver_claimed(claimed: list[int], now: datetime) -> list[Outcome]:
    deliveries = list(Delivery.objects.filter(pk__in=claimed).select_related("recipient")
                      .annotate(batch_at=F("email_batch__created_at")).order_by("id"))
    contexts = _contexts(deliveries)
    reach = Reach.load({d.recipient_id: d.recipient for d in deliveries}.values())
    outcomes, ready = [], defaultdict(list)
    for d in deliveries:
        kind, channel = KINDS.get(d.kind), CHANNELS.get(d.channel)
        if kind is None or channel is None:
            outcomes.append(Outcome(d, "failed", error=f"nothing can send a {d.kind!r} by {d.channel!r}"))
            continue
        ctx = contexts[d.id]
        # asked at every attempt, a retry too: a reader who opted out since the first try is not sent
        reason = kind.stale(ctx, now) if kind.stale else ""
        if not reason and d.channel not in reach.channels(d.recipient, kind.topic, d.kind):
            reason = (reach.unreachable(d.channel, d.recipient)
                      or "turned off in the person's notification settings")
        if reason:
            outcomes.append(Outcome(d, "skipped", error=reason))
            continue
        if d.email_batch_id and d.batch_at > now - KEY_KEPT:
            # handed to Resend already in a batch whose answer was lost or an error: the same
            # request again, as it was (not written anew), never twice; without the emails of its
            # members skipped since (notifications.email)
            ready[d.channel].append((d, None))
            continue
        wait = kind.wait(ctx, now) if kind.wait else None
        if wait:
            outcomes.append(Outcome(d, "wait", after=wait))
            continue
        try:
            with timezone.override(d.recipient.tzinfo):  # the reader's zone, whatever the text uses
                message = kind.render(ctx)
        except Exception as exc:  # noqa: BLE001 - a bug in one text fails that delivery, not the batch
            log.exception("could not write delivery %s (%s)", d.id, d.kind)
            outcomes.append(Outcome(d, "failed", error=f"the message could not be written: {exc!r}"))
            continue
        ready[d.channel].append((d, message))
    # the skipped are written before anything goes: a batch repeated now leaves their emails out
    skipped = [o for o in outcomes if o.status == "skipped"]
    record(skipped, now)
    for o in skipped:
        o.recorded = True
    for name, items in ready.items():
        try:
            outcomes += CHANNELS[name].deliver(items, now)
        except Exception as exc:  # noqa: BLE001 - e.g. the database refused the inbox rows
            log.exception("channel %s failed %d deliveries", name, len(items))
            outcomes += [Outcome(d, "retry", error=f"{type(exc).__name__}: {exc}") for d, _ in items]
    record(outcomes, now)
    return outcomes


def _contexts(deliveries: list[Delivery]) -> dict[int, Ctx]:
    """Everything the texts need, in a fixed number of queries per batch."""
    session_ids = {d.session_id for d in deliveries if d.session_id}
    sessions = {s.id: s for s in Session.objects.filter(pk__in=session_ids)
                .select_related("tutor", "student", "course")}
    events = {e.id: e for e in SessionEvent.objects.filter(pk__in={d.event_id for d in deliveries if d.event_id})
              .select_related("actor")}
    parents = defaultdict(set)
    for student_id, parent_id in Guardianship.objects.filter(
            student_id__in={s.student_id for s in sessions.values()}).values_list("student_id", "parent_id"):
        parents[student_id].add(parent_id)
    pending_summaries, latest_notes = set(), {}
    if any(d.kind == "notes_added" for d in deliveries):
        pending_summaries = set(Summary.objects.filter(
            pk__in=session_ids, status__in=IN_PROGRESS).values_list("pk", flat=True))
        # the newest notes message of each (session, reader, channel) that went or may still go
        noted = {d.session_id for d in deliveries if d.kind == "notes_added"}
        for key in Delivery.objects.filter(
                kind="notes_added", session_id__in=noted,
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT],
        ).values("session_id", "recipient_id", "channel").annotate(newest=Max("id")):
            latest_notes[key["session_id"], key["recipient_id"], key["channel"]] = key["newest"]
    contexts = {}
    for d in deliveries:
        session = sessions.get(d.session_id)
        contexts[d.id] = Ctx(delivery=d, recipient=d.recipient, role=_role(d.recipient, session, parents),
                             session=session, event=events.get(d.event_id),
                             summary_done=d.session_id not in pending_summaries,
                             later_notes=d.kind == "notes_added"
                             and latest_notes.get((d.session_id, d.recipient_id, d.channel), d.id) > d.id)
    return contexts


def _role(user, session, parents) -> str:
    """The reader's closest relation to the session (one person may hold several)."""
    if session is None:
        return ""
    if session.tutor_id == user.id:
        return "tutor"
    if session.student_id == user.id:
        return "student"
    if user.id in parents[session.student_id]:
        return "parent"
    if session.course_id and session.course.creator_id == user.id:
        return "creator"
    return "coordinator" if user.is_coordinator else ""


def backoff(attempts: int) -> timedelta:
    minutes = min(settings.NOTIFY_RETRY_FIRST_MINUTES * 2 ** max(0, attempts - 1), settings.NOTIFY_RETRY_MAX_MINUTES)
    return timedelta(minutes=minutes)


def record(outcomes: list[Outcome], now: datetime) -> None:
    """Write each delivery's new state (one bulk UPDATE; the in-app channel wrote its own)."""
    changed = []
    for o in outcomes:
        if o.recorded:
            continue
        d = o.delivery
        d.claimed_until, d.updated_at = None, now
        if o.status == "sent":
            d.status, d.sent_at, d.provider_id, d.last_error = DeliveryStatus.SENT, now, o.provider_id[:100], ""
        elif o.status == "skipped":
            d.status, d.last_error = DeliveryStatus.SKIPPED, o.error
        elif o.status == "wait":
            d.status, d.next_attempt_at, d.attempts = DeliveryStatus.PENDING, o.after, max(0, d.attempts - 1)
        elif o.status == "retry" and d.attempts < settings.NOTIFY_MAX_ATTEMPTS:
            delay = backoff(d.attempts)
            if o.after:
                delay = max(delay, timedelta(seconds=float(o.after)))
            d.status, d.next_attempt_at, d.last_error = DeliveryStatus.PENDING, now + delay, o.error
        elif o.status == "retry":
            d.status, d.last_error = DeliveryStatus.FAILED, f"gave up after {d.attempts} attempts: {o.error}"
        else:
            d.status, d.last_error = DeliveryStatus.FAILED, o.error
        if d.status == DeliveryStatus.FAILED:
            log.error("delivery %s (%s by %s to user %s) failed: %s", d.id, d.kind, d.channel, d.recipient_id,
                      d.last_error)
        changed.append(d)
    _write(changed)


_WRITE = """
UPDATE notifications_delivery d
SET status = v.status, attempts = v.attempts::smallint, last_error = v.last_error,
    next_attempt_at = v.next_attempt_at::timestamptz, claimed_until = NULL, sent_at = v.sent_at::timestamptz,
    provider_id = v.provider_id, updated_at = v.updated_at::timestamptz
FROM (VALUES {rows}) AS v(id, status, attempts, last_error, next_attempt_at, sent_at, provider_id, updated_at)
WHERE d.id = v.id::bigint
"""


def _write(changed: list[Delivery]) -> None:
    """One UPDATE ... FROM (VALUES ...) per 500 deliveries (Django's bulk_update builds a CASE per
    field and row, which cost seconds per batch)."""
    with connection.cursor() as cursor:
        for start in range(0, len(changed), 500):
            part = changed[start:start + 500]
            values = []
            for d in part:
                values += [d.id, d.status, d.attempts, d.last_error, d.next_attempt_at, d.sent_at, d.provider_id,
                           d.updated_at]
            rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(part))
            cursor.execute(_WRITE.format(rows=rows), values)


def deliver(ids: list[int]) -> None:
    """Send new deliveries now: in place when few, else spread over dispatch tasks (the beat's
    dispatcher picks up any whose task could not be published)."""
    if not ids:
        return
    if len(ids) <= INLINE_MAX:
        dispatch(ids)
        return
    publish_each(DISPATCH_TASK, [[ids[start:start + INLINE_MAX]] for start in range(0, len(ids), INLINE_MAX)])
