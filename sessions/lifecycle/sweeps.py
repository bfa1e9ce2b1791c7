"""Set-based sweeps in raw SQL (Celery beat): expire reschedule requests unresolved at the start,
and mark the tutor's no-show when the check-in day ended. Their edges and the no-show deadline
come from sessions/rules.py, the definitions the row-by-row guards use."""

from datetime import datetime

from django.db import connection, transaction

from .. import rules
from ..models import Channel, NoShowParty, ProposalStatus, Status, ThreadStatus
from .core import _notify_after_commit, _now
from .negotiations import EXPIRED_REASON

NO_SHOW_REASON = "The tutor did not check in on the session's day."

# The two edges the sweeps take, checked against rules.EDGES when this module loads (NotAnEdge
# otherwise), and written into the SQL below from these names, not as second literals.
EXPIRY_EDGE = rules.require_edge(Status.SCHEDULED, Status.NOT_COMPLETED)
NO_SHOW_EDGE = rules.require_edge(Status.SCHEDULED, Status.NO_SHOW)
_E_FROM, _E_TO = (status.value for status in EXPIRY_EDGE)
_N_FROM, _N_TO = (status.value for status in NO_SHOW_EDGE)
_OPEN, _EXPIRED = ThreadStatus.OPEN.value, ThreadStatus.EXPIRED.value
_P_OPEN, _P_EXPIRED = ProposalStatus.OPEN.value, ProposalStatus.EXPIRED.value
_SYSTEM, _TUTOR = Channel.SYSTEM.value, NoShowParty.TUTOR.value

# Each sweep first reads the ids of the due sessions (one query, no locks), then works through
# them in chunks, each chunk its own transaction: lock the chunk's sessions that are still due
# (FOR UPDATE SKIP LOCKED: a row a transition or another sweep holds is left for the next run),
# update by primary-key or partial-index lookups (= ANY(ARRAY(...)), not a join the planner may
# hash over a whole table), and append one event per changed session in the same statement.
# Expiry updates the threads first and derives the sessions from them: a thread answered after
# this statement's snapshot fails the re-check on its own row, so its session is left alone.

_EXPIRE_DUE = f"""
    s.status = '{_E_FROM}' AND s.scheduled_start <= %(now)s
    AND EXISTS (SELECT 1 FROM tutoring_sessions_reschedulethread t
                WHERE t.session_id = s.id AND t.status = '{_OPEN}')
"""
_EXPIRE_FIND = f"SELECT s.id FROM tutoring_sessions_session s WHERE {_EXPIRE_DUE} LIMIT %(cap)s"
_EXPIRE_APPLY = f"""
WITH due AS (
    SELECT s.id FROM tutoring_sessions_session s
    WHERE s.id = ANY(%(ids)s) AND {_EXPIRE_DUE}
    FOR UPDATE SKIP LOCKED
), threads AS (
    UPDATE tutoring_sessions_reschedulethread SET status = '{_EXPIRED}', resolved_at = %(now)s
    WHERE session_id = ANY(ARRAY(SELECT id FROM due)) AND status = '{_OPEN}'
    RETURNING id, session_id
), sessions AS (
    UPDATE tutoring_sessions_session SET status = '{_E_TO}', updated_at = %(now)s
    WHERE id = ANY(ARRAY(SELECT session_id FROM threads)) AND status = '{_E_FROM}'
    RETURNING id
), proposals AS (
    UPDATE tutoring_sessions_rescheduleproposal SET status = '{_P_EXPIRED}', answered_at = %(now)s
    WHERE thread_id = ANY(ARRAY(SELECT id FROM threads)) AND status = '{_P_OPEN}'
)
INSERT INTO tutoring_sessions_sessionevent
    (session_id, actor_id, channel, kind, from_status, to_status, reason, data, created_at)
SELECT threads.session_id, NULL, '{_SYSTEM}', 'reschedule_expired', '{_E_FROM}', '{_E_TO}', %(reason)s,
       jsonb_build_object('thread_id', threads.id), %(now)s
FROM threads JOIN sessions ON sessions.id = threads.session_id
RETURNING id
"""

# The check-in day ends at midnight in the tutor's zone (or at the scheduled end, if later):
# rules.CHECK_IN_DEADLINE_SQL, the SQL twin of rules.check_in_deadline that guard_check_in uses.
_NO_SHOW_DUE = f"""
    s.status = '{_N_FROM}' AND s.scheduled_start < %(now)s
    AND {rules.CHECK_IN_DEADLINE_SQL} <= %(now)s
    AND NOT EXISTS (SELECT 1 FROM tutoring_sessions_reschedulethread t
                    WHERE t.session_id = s.id AND t.status = '{_OPEN}')
"""
_NO_SHOW_FIND = f"""
SELECT s.id FROM tutoring_sessions_session s JOIN tutoring_user u ON u.id = s.tutor_id
WHERE {_NO_SHOW_DUE} LIMIT %(cap)s
"""
_NO_SHOW_APPLY = f"""
WITH due AS (
    SELECT s.id FROM tutoring_sessions_session s JOIN tutoring_user u ON u.id = s.tutor_id
    WHERE s.id = ANY(%(ids)s) AND {_NO_SHOW_DUE}
    FOR UPDATE OF s SKIP LOCKED
), sessions AS (
    UPDATE tutoring_sessions_session SET status = '{_N_TO}', no_show_party = '{_TUTOR}', updated_at = %(now)s
    WHERE id = ANY(ARRAY(SELECT id FROM due)) AND status = '{_N_FROM}'
    RETURNING id
)
INSERT INTO tutoring_sessions_sessionevent
    (session_id, actor_id, channel, kind, from_status, to_status, reason, data, created_at)
SELECT sessions.id, NULL, '{_SYSTEM}', 'no_show', '{_N_FROM}', '{_N_TO}', %(reason)s,
       jsonb_build_object('party', '{_TUTOR}'), %(now)s
FROM sessions
RETURNING id
"""


def _sweep(find_sql: str, apply_sql: str, reason: str, now: datetime | None, batch: int,
           cap: int = 200_000) -> int:
    """Find the due ids, then apply in chunks of `batch`, each its own transaction. Safe to run
    twice or in two workers at once (SKIP LOCKED plus the re-checked conditions); a second run
    finds nothing to do. Reads at most `cap` ids at a time to bound memory."""
    now = _now(now)
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(find_sql, {"now": now, "cap": cap})
            candidates = [row[0] for row in cursor.fetchall()]
        done = 0
        for start in range(0, len(candidates), batch):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(apply_sql, {"now": now, "ids": candidates[start:start + batch], "reason": reason})
                event_ids = [row[0] for row in cursor.fetchall()]
                _notify_after_commit(event_ids)
            done += len(event_ids)
        total += done
        if len(candidates) < cap or done == 0:
            return total


def expire_due_reschedules(*, now: datetime | None = None, batch: int = 5000) -> int:
    return _sweep(_EXPIRE_FIND, _EXPIRE_APPLY, EXPIRED_REASON, now, batch)


def mark_due_no_shows(*, now: datetime | None = None, batch: int = 5000) -> int:
    return _sweep(_NO_SHOW_FIND, _NO_SHOW_APPLY, NO_SHOW_REASON, now, batch)
