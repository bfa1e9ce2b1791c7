"""The outbox: every session event is told to the people it concerns exactly once.

The lifecycle writes each SessionEvent in the transaction of the change, with `notified_at` empty.
The relay claims unnotified events (FOR UPDATE SKIP LOCKED, then a conditional UPDATE that stamps
`notified_at` only where it is still empty: one claimer wins) and, in the same transaction, writes
their deliveries (unique per source, recipient and channel). The beat runs the relay every minute;
the commit hook of a change only asks for it at once, over a publish that never fails or holds up
the request. So a broker that is down or frozen delays notices by a minute at most after it is
back, and loses none.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime

from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from sessions.models import Session, SessionEvent
from tutoring.celery import publish
from tutoring.models import Guardianship, User

from .channels import CHANNELS
from .kinds import KINDS, People
from .models import Delivery, Preference, SuppressedAddress

log = logging.getLogger(__name__)

BATCH = 500
# the task that sends deliveries (tasks.dispatch), published by name: the tasks module imports
# this one, so this one does not import it
DISPATCH_TASK = "notifications.tasks.dispatch"

_CLAIM = """
SELECT id FROM tutoring_sessions_sessionevent
WHERE notified_at IS NULL AND id > %(after)s {only}
ORDER BY id LIMIT %(batch)s
FOR UPDATE SKIP LOCKED
"""
_STAMP = """
UPDATE tutoring_sessions_sessionevent SET notified_at = %(now)s
WHERE id = ANY(%(ids)s) AND notified_at IS NULL
RETURNING id
"""


def relay(ids: list[int] | None = None, *, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Claim the unnotified events (all, or those of `ids`), write their deliveries, and return
    the ids of the deliveries made. Safe to run twice or concurrently: each event is claimed once.
    An event whose deliveries cannot be written (a bug) stays unnotified, logged, and is tried again
    on the next run; the others go ahead."""
    now = now or timezone.now()
    only = "AND id = ANY(%(ids)s)" if ids is not None else ""
    made: list[int] = []
    after = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(_CLAIM.format(only=only), {"after": after, "batch": batch, "ids": ids})
                claimed = [row[0] for row in cursor.fetchall()]
            if not claimed:
                return made
            after = max(claimed)
            try:
                with transaction.atomic():
                    made += _notify(claimed, now)
            except Exception:  # noqa: BLE001 - find the bad event, let the others through
                log.exception("relaying events %s..%s failed; retrying them one by one", claimed[0], claimed[-1])
                for event_id in claimed:
                    try:
                        with transaction.atomic():
                            made += _notify([event_id], now)
                    except Exception:  # noqa: BLE001
                        log.exception("event %s could not be relayed; it stays in the outbox", event_id)
        if len(claimed) < batch:
            return made


def _notify(event_ids: list[int], now: datetime) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(_STAMP, {"ids": event_ids, "now": now})
        stamped = [row[0] for row in cursor.fetchall()]
    events = list(SessionEvent.objects.filter(pk__in=stamped).order_by("id"))
    rows = event_deliveries(events, now)
    return insert(rows)


def insert(rows: list[Delivery], chunk: int = 1000) -> list[int]:
    """Write deliveries, skipping any already there (same source, recipient and channel); the ids
    of the new ones. (Django's bulk_create cannot both skip conflicts and return ids.)"""
    fields = ("recipient_id", "channel", "kind", "source", "session_id", "event_id", "due_for", "data",
              "status", "attempts", "last_error", "next_attempt_at", "provider_id", "created_at", "updated_at")
    made = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            values = []
            for d in part:
                values += [d.recipient_id, d.channel, d.kind, d.source, d.session_id, d.event_id, d.due_for,
                           json.dumps(d.data or {}), d.status, 0, "", d.next_attempt_at, "", d.created_at,
                           d.updated_at]
            row = "(" + ",".join(["%s"] * len(fields)) + ")"
            cursor.execute(f"INSERT INTO notifications_delivery ({', '.join(fields)}) VALUES "
                           f"{','.join([row] * len(part))} ON CONFLICT DO NOTHING RETURNING id", values)
            made += [r[0] for r in cursor.fetchall()]
    return made


def event_deliveries(events: list[SessionEvent], now: datetime) -> list[Delivery]:
    """The deliveries of session events: each event's audience (never the person who acted),
    on each channel that reaches them and that they have not switched off for the kind's topic.
    A fixed number of queries per batch."""
    events = [e for e in events if e.kind in KINDS and KINDS[e.kind].audience is not None]
    if not events:
        return []
    sessions = {s.id: s for s in Session.objects.filter(pk__in={e.session_id for e in events})
                .select_related("tutor", "student", "course__creator")}
    parents = defaultdict(list)
    for link in Guardianship.objects.filter(student_id__in={s.student_id for s in sessions.values()},
                                            parent__is_active=True).select_related("parent"):
        parents[link.student_id].append(link.parent)
    coordinators = tuple(User.objects.filter(roles__contains=["coordinator"], is_active=True).order_by("id"))
    audiences = {}
    for event in events:
        s = sessions[event.session_id]
        people = People(tutor=s.tutor, student=s.student, parents=tuple(parents[s.student_id]),
                        creator=s.course.creator if s.course_id else None, coordinators=coordinators)
        seen, users = set(), []
        for user in KINDS[event.kind].audience(event, people):
            if user is None or not user.is_active or user.id in seen or user.id == event.actor_id:
                continue
            seen.add(user.id)
            users.append(user)
        audiences[event.id] = users
    everyone = {u.id: u for users in audiences.values() for u in users}
    reach = Reach.load(everyone.values())
    rows = []
    for event in events:
        topic = KINDS[event.kind].topic
        for user in audiences[event.id]:
            for channel in reach.channels(user, topic, event.kind):
                rows.append(Delivery(recipient_id=user.id, channel=channel, kind=event.kind,
                                     source=f"event:{event.id}", session_id=event.session_id, event_id=event.id,
                                     data={}, next_attempt_at=now, created_at=now, updated_at=now))
    return rows


class Reach:
    """Who can be reached on which channel, and who switched what off: loaded once per batch."""

    def __init__(self, off: set, suppressed: set, loaded: dict | None = None):
        self.off, self.suppressed = off, suppressed
        self.loaded = loaded or {}  # what a channel with `preload` read for this batch (Telegram: linked ids)

    @classmethod
    def load(cls, users) -> "Reach":
        users = list(users)
        ids = [u.id for u in users]
        off = set(Preference.objects.filter(user_id__in=ids, enabled=False)
                  .values_list("user_id", "topic", "channel"))
        loaded = {name: channel.preload(ids) for name, channel in CHANNELS.items() if hasattr(channel, "preload")}
        return cls(off, suppressed_among(u.email for u in users), loaded)

    def unreachable(self, name: str, user) -> str:
        """Why this person cannot be reached on that channel now ("" if they can)."""
        return CHANNELS[name].unreachable(user, self.loaded.get(name, self.suppressed))

    def channels(self, user, topic: str, kind: str) -> list[str]:
        """The channels this person hears `kind` on: a kind with forced channels (account notices
        in the app) uses just those; others every channel that reaches them and is not off."""
        forced = KINDS[kind].forced_channels
        return [name for name, channel in CHANNELS.items()
                if (name in forced if forced else (user.id, topic, name) not in self.off)
                and not self.unreachable(name, user)]


def suppressed_among(emails) -> set[str]:
    """The suppressed addresses among `emails`, lower-cased (one query, none for no address)."""
    emails = sorted({e.lower() for e in emails if e})
    if not emails:
        return set()
    return set(SuppressedAddress.objects.annotate(low=Lower("email")).filter(low__in=emails)
               .values_list("low", flat=True))


def notify(users, *, kind: str, source: str, data: dict, session_id: int | None = None,
           now: datetime | None = None) -> list[int]:
    """Deliveries that do not come from a session event (a message, an account notice), written in
    the caller's transaction and dispatched once it commits (the beat's dispatcher catches up on
    any that a failed publish left behind)."""
    now = now or timezone.now()
    users = [u for u in users if u.is_active]
    reach = Reach.load(users)
    topic = KINDS[kind].topic
    rows = [Delivery(recipient_id=u.id, channel=channel, kind=kind, source=source, session_id=session_id,
                     data=data, next_attempt_at=now, created_at=now, updated_at=now)
            for u in users for channel in reach.channels(u, topic, kind)]
    ids = insert(rows)
    if ids:
        transaction.on_commit(lambda: publish(DISPATCH_TASK, ids))
    return ids


def summary_done(session_id: int) -> None:
    """The notes' summary is written: the notices that waited for it are due now."""
    now = timezone.now()
    ids = list(Delivery.objects.filter(session_id=session_id, kind="notes_added", status="pending")
               .values_list("id", flat=True))
    if ids:
        Delivery.objects.filter(pk__in=ids, status="pending").update(next_attempt_at=now, updated_at=now)
        transaction.on_commit(lambda: publish(DISPATCH_TASK, ids))
