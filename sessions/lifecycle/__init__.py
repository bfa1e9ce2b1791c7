"""The session lifecycle: the only code that changes a session's status, slot or threads.

Web views, the JSON API, the Telegram bot, admin actions and the Celery sweeps all call these,
through this one face: `from sessions import lifecycle; lifecycle.check_in(...)`. Each transition
runs in one transaction: lock the session row and re-read it, check the guards of rules.py against
an injected `now`, write, append exactly one SessionEvent (its edge checked against rules.EDGES),
and register its side effects (notifications: the event is the outbox's message) after commit.
A refusal raises errors.Refused.

The package, one module per concern (none imports the face; see docs/lifecycle.md):
  core          the row lock, the guards' context, the event, the after-commit hook (plumbing)
  transitions   attendance and approval: check-in/out, notes, acknowledge, dispute, verify, ...
  negotiations  cancel (the terms shown first), the reschedule thread (a coordinator may answer for
                a side), a coordinator's direct move
  sweeps        the set-based beat sweeps in raw SQL (expiry, the tutor's no-show)
  creation      scheduling a session, batch-logging ad-hoc sessions, importing past sessions,
                moving or withdrawing a weekly pattern's untouched sessions
  waivers       a coordinator waives a cancellation's penalty (an event, no status change)
"""

from .core import clashing_sessions, silenced
from .creation import (
    IMPORTABLE_STATUSES,
    MAX_ADHOC_ROWS,
    PLANNED_KINDS,
    adhoc_pairings,
    create_session,
    import_past_session,
    log_adhoc_sessions,
    move_planned_session,
    untouched,
    withdraw_planned_session,
)
from .negotiations import (
    EXPIRED_REASON,
    accept_reschedule,
    cancel,
    cancellation_guidance,
    cancellation_policy,
    counter_reschedule,
    expire_reschedule,
    move_conflicts,
    move_session,
    propose_reschedule,
    reject_reschedule,
    withdraw_reschedule,
)
from .sweeps import NO_SHOW_REASON, expire_due_reschedules, mark_due_no_shows
from .transitions import (
    acknowledge,
    check_in,
    check_out,
    dispute,
    mark_no_show,
    record_notes,
    resolve_dispute,
    verify,
)
from .waivers import waive_penalty

__all__ = [
    "EXPIRED_REASON", "IMPORTABLE_STATUSES", "MAX_ADHOC_ROWS", "NO_SHOW_REASON", "PLANNED_KINDS", "accept_reschedule", "acknowledge", "adhoc_pairings",
    "cancel", "cancellation_guidance", "cancellation_policy", "check_in", "check_out", "clashing_sessions",
    "counter_reschedule",
    "create_session", "dispute", "expire_due_reschedules", "expire_reschedule", "import_past_session", "log_adhoc_sessions",
    "mark_due_no_shows", "mark_no_show", "move_conflicts",
    "move_planned_session", "move_session", "propose_reschedule", "record_notes",
    "reject_reschedule", "resolve_dispute", "silenced", "untouched", "verify", "waive_penalty",
    "withdraw_planned_session", "withdraw_reschedule",
]
