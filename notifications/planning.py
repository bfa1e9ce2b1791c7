"""The reminder sweep: set-based, once a minute (beat).

One INSERT ... SELECT writes a delivery for every (session, reminder, person, channel) that is due
and not yet written: reminders 24 h, 1 h and 15 min before each scheduled session to its tutor, its
student and the student's parents; nudges 24 h and 72 h after a session began to wait for its
parents' acknowledgement. The delivery's source names the session, the kind and the time it is
for, and (source, recipient, channel) is unique, so a sweep run twice, two sweeps at once, or a
sweep after an outage writes each one once (ON CONFLICT DO NOTHING). A session moved to a new
time gets reminders of its own (a new source); its old ones are dropped when they come to be sent
(kinds.stale_reminder), as are those of a session cancelled or started meanwhile.

A reminder is due from its lead time before the start until the next one's (the 24 h reminder
until 1 h before, ...), so a session booked 5 hours ahead gets the 1 h and 15 min reminders only
after its "new session" notice, and a sweep that was down catches up with the latest one only.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from .channels import CHANNELS
from .kinds import NUDGE_UNTIL, NUDGES, REMINDERS
from .models import Topic


def _channels_sql() -> tuple[str, str]:
    """A VALUES list of the channels that can send, and the SQL that says who each reaches."""
    names = list(CHANNELS)
    values = ", ".join(f"('{name}')" for name in names)
    reach = " OR ".join(f"(c.channel = '{name}' AND ({channel.reachable_sql}))" for name, channel in CHANNELS.items())
    return values, reach


def _leads(pairs, until) -> str:
    """(kind, from, until) rows: each due from its lead until the next kind's lead."""
    rows = []
    for index, (kind, lead) in enumerate(pairs):
        end = until(index)
        rows.append(f"('{kind}', interval '{int(lead.total_seconds())} seconds', "
                    f"interval '{int(end.total_seconds())} seconds')")
    return ", ".join(rows)


def _insert(people_sql: str, topic: str) -> str:
    values, reach = _channels_sql()
    return f"""
    WITH people AS ({people_sql})
    INSERT INTO notifications_delivery
        (recipient_id, channel, kind, source, session_id, event_id, due_for, data, status, attempts,
         last_error, next_attempt_at, provider_id, created_at, updated_at)
    SELECT DISTINCT ON (p.source, p.user_id, c.channel)
           p.user_id, c.channel, p.kind, p.source, p.session_id, NULL, p.due_for, '{{}}'::jsonb, 'pending', 0,
           '', %(now)s, '', %(now)s, %(now)s
    FROM people p
    JOIN tutoring_user u ON u.id = p.user_id AND u.is_active
    CROSS JOIN (VALUES {values}) AS c(channel)
    WHERE ({reach})
      AND NOT EXISTS (SELECT 1 FROM notifications_preference pr
                      WHERE pr.user_id = u.id AND pr.topic = '{topic}' AND pr.channel = c.channel
                        AND NOT pr.enabled)
    ON CONFLICT DO NOTHING
    RETURNING id
    """


def _reminders_sql() -> str:
    leads = _leads(REMINDERS, lambda i: REMINDERS[i + 1][1] if i + 1 < len(REMINDERS) else REMINDERS[i][1] * 0)
    due = f"""
        SELECT * FROM (
            SELECT s.id AS session_id, s.tutor_id, s.student_id, s.scheduled_start AS due_for, k.kind,
                   k.kind || ':' || s.id || ':' || extract(epoch FROM s.scheduled_start)::bigint AS source
            FROM (VALUES {leads}) AS k(kind, lead, next_lead)
            JOIN tutoring_sessions_session s
              ON s.status = 'scheduled'
             AND s.scheduled_start > %(now)s + k.next_lead
             AND s.scheduled_start <= %(now)s + k.lead
        ) candidates
        -- written by an earlier sweep: one index probe per session, not one conflict per person and channel
        WHERE NOT EXISTS (SELECT 1 FROM notifications_delivery d WHERE d.source = candidates.source)
    """
    people = f"""
        WITH due AS ({due})
        SELECT session_id, kind, source, due_for, tutor_id AS user_id FROM due
        UNION ALL SELECT session_id, kind, source, due_for, student_id FROM due
        UNION ALL SELECT d.session_id, d.kind, d.source, d.due_for, g.parent_id
                  FROM due d JOIN tutoring_guardianship g ON g.student_id = d.student_id
    """
    return _insert(people, Topic.REMINDERS)


def _nudges_sql() -> str:
    leads = _leads(NUDGES, lambda i: NUDGES[i + 1][1] if i + 1 < len(NUDGES) else NUDGE_UNTIL)
    # the wait began when the session last entered awaiting_approval_parent (check-out, ad-hoc log)
    people = f"""
        WITH waiting AS (
            SELECT s.id, s.student_id,
                   (SELECT max(e.created_at) FROM tutoring_sessions_sessionevent e
                    WHERE e.session_id = s.id AND e.to_status = 'awaiting_approval_parent') AS since
            FROM tutoring_sessions_session s
            WHERE s.status = 'awaiting_approval_parent'
        ), candidates AS (
            SELECT w.id AS session_id, w.student_id, w.since AS due_for, k.kind,
                   k.kind || ':' || w.id || ':' || extract(epoch FROM w.since)::bigint AS source
            FROM waiting w
            JOIN (VALUES {leads}) AS k(kind, after, until)
              ON w.since <= %(now)s - k.after AND w.since > %(now)s - k.until
        ), due AS (
            SELECT * FROM candidates c
            WHERE NOT EXISTS (SELECT 1 FROM notifications_delivery d WHERE d.source = c.source)
        )
        SELECT d.session_id, d.kind, d.source, d.due_for, g.parent_id AS user_id
        FROM due d JOIN tutoring_guardianship g ON g.student_id = d.student_id
    """
    return _insert(people, Topic.APPROVALS)


def plan(*, now: datetime | None = None) -> list[int]:
    """Write every due reminder and nudge not written yet; the ids of the new deliveries."""
    now = now or timezone.now()
    made = []
    with connection.cursor() as cursor:
        for sql in (_reminders_sql(), _nudges_sql()):
            cursor.execute(sql, {"now": now})
            made += [row[0] for row in cursor.fetchall()]
    return made
