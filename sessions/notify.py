"""Who hears about which session event (the event row is the outbox)."""

from datetime import datetime

from tutoring.models import Guardianship, User
from tutoring.notifications import coordinators, fit, notify

from .models import Party, SessionEvent, counterparty


def _parents(session):
    return User.objects.filter(pk__in=Guardianship.objects.filter(student_id=session.student_id)
                               .values("parent_id"))


def _side(session, party):
    return [session.tutor] if party == Party.TUTOR else list(_parents(session))


def local(moment, user) -> str:
    """A time as the recipient reads it: their zone, named."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment.astimezone(user.tzinfo):%a %d %b %H:%M} ({user.time_zone})"


# the part of a notification that quotes people's words (the whole reason is on the session's page)
REASON_LIMIT = 280


def _literal(text: str) -> str:
    """People's words go into a format template: their braces must stay braces."""
    return str(text).replace("{", "{{").replace("}", "}}")


def recipients_and_text(event: SessionEvent):
    """The recipients and the text, with {when} / {proposed} filled in per recipient."""
    s = event.session
    who = _literal(f"{s.student} with {s.tutor}")
    reason = _literal(fit(event.reason, REASON_LIMIT))
    when = "{when}"
    data = event.data or {}
    match event.kind:
        case "check_out":
            return _parents(s), f"Session of {who} on {when} is awaiting your acknowledgement."
        case "notes_added":
            return _parents(s), f"{_literal(s.tutor)} added notes for the session of {who} on {when}."
        case "dispute":
            return coordinators(), f"A parent disputed the session of {who} on {when}: {reason}"
        case "no_show":
            return list(_parents(s)) + list(coordinators()), f"No-show recorded for the session of {who} on {when}."
        case "cancel":
            party = data.get("role")
            return _side(s, counterparty(party)), f"The session of {who} on {when} was cancelled ({reason})."
        case "reschedule_proposed" | "reschedule_countered":
            party = data.get("proposed_by_role")
            return (_side(s, counterparty(party)),
                    f"New time proposed for the session of {who} on {when}: {{proposed}}. Please answer.")
        case "reschedule_accepted" | "reschedule_rejected" | "reschedule_withdrawn":
            verb = event.kind.removeprefix("reschedule_")
            party = data.get("proposed_by_role")
            return _side(s, party), f"The proposed new time for the session of {who} was {verb}."
        case "reschedule_expired":
            return ([s.tutor] + list(_parents(s)),
                    f"The reschedule request for the session of {who} on {when} expired; the session is "
                    "Not Completed.")
    return [], ""


def notify_event(event: SessionEvent) -> int:
    users, template = recipients_and_text(event)
    if not template:
        return 0
    proposed = (event.data or {}).get("proposed_start")

    def text_for(user) -> str:
        return template.format(when=local(event.session.scheduled_start, user),
                               proposed=local(proposed, user) if proposed else "")

    return notify(users, kind=event.kind, text=text_for, url=f"/sessions/{event.session_id}/", event_id=event.id)
