"""The bot's action table, in one place: each inline button's key, its label, the lifecycle
guard (sessions.rules.GUARDS) that decides whether it is offered now, and what pressing it does.
A button runs straight into the lifecycle ("run"), or opens a short conversation ("starts"), whose
steps live in telegram_bot.core. The lifecycle checks every press again under the session lock;
its refusal is what the tutor reads."""

from collections.abc import Callable
from dataclasses import dataclass

from sessions import lifecycle
from sessions.models import Channel

TELEGRAM = Channel.TELEGRAM


@dataclass(frozen=True)
class BotAction:
    label: str
    guard: str  # the rules.GUARDS action that must allow it
    run: Callable | None = None  # (session, user, proposal_id, now) -> done text
    starts: str = ""  # or: the conversation it opens


def _check_in(session, user, proposal_id, now):
    lifecycle.check_in(session, by=user, now=now, channel=TELEGRAM)
    return "Checked in."


def _check_out(session, user, proposal_id, now):
    lifecycle.check_out(session, by=user, now=now, channel=TELEGRAM)
    return "Checked out."


def _absent(session, user, proposal_id, now):
    lifecycle.check_out(session, by=user, student_absent=True, now=now, channel=TELEGRAM)
    return "Checked out: the student did not attend."


def _accept(session, user, proposal_id, now):
    lifecycle.accept_reschedule(session, proposal_id, by=user, now=now, channel=TELEGRAM)
    return "Accepted: the session moves to the new time."


ACTIONS: dict[str, BotAction] = {
    "ci": BotAction("Check in", "check_in", run=_check_in),
    "co": BotAction("Check out", "check_out", run=_check_out),
    "ab": BotAction("Student did not attend", "check_out", run=_absent),
    "nt": BotAction("Add notes", "add_notes", starts="notes"),
    "cx": BotAction("Cancel…", "cancel", starts="cancel"),
    "rs": BotAction("Reschedule…", "reschedule", starts="reschedule"),
    "ac": BotAction("Accept new time", "accept_reschedule", run=_accept),
    "rj": BotAction("Reject…", "reject_reschedule", starts="reject"),
    "ct": BotAction("Counter…", "counter_reschedule", starts="counter"),
}
# after this, the chat takes notes for the session (a no-show has none)
NOTES_AFTER = frozenset({"co"})
# the buttons that answer an open proposal carry its id
PROPOSAL_ACTIONS = frozenset({"ac", "rj", "ct"})
