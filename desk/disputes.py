"""The dispute queue (issue 17 item 3): one page per disputed session with what a coordinator needs
to decide it (the parent's reason, the tutor's notes and summary, attendance and room presence, the
event trail), and the decision, which goes through the action registry (resolve_dispute) and so
tells the parent and the tutor (its event is the notifications' outbox message)."""

from dataclasses import dataclass, field
from datetime import datetime

from notes.models import Note, Summary
from notes.selectors import notes_of, summary_of
from sessions import actions as registry
from sessions.errors import Refused
from sessions.models import Channel, Session, SessionEvent, Status
from tutoring.models import User
# the events video.presence writes when the tutor or the student enters or leaves the session's
# room, whichever provider carries the call
from video.presence import JOINED as ROOM_JOINED
from video.presence import LEFT as ROOM_LEFT

DECIDING = ("resolve_dispute", "verify")

# What the page offers: (the lifecycle's decision, whether the family's lesson credit is waived)
DECISIONS = {
    "approve": ("approve", False),
    "void": ("void", False),
    "approve_waive": ("approve", True),
}
DECISION_LABELS = {
    "approve": "Approve: the session counts and a lesson credit is used",
    "void": "Void: the session did not count (Not Completed, no credit used)",
    "approve_waive": "Approve and waive: the session counts for the tutor, no lesson credit is used",
}


@dataclass
class Stay:
    """One spell of a participant in the session's room."""

    user: User | None
    role: str
    joined_at: datetime
    left_at: datetime | None = None
    how: str = ""  # "left", "timed out", or "" while no leave is recorded


@dataclass
class DisputeFile:
    session: Session
    dispute: SessionEvent | None
    decided: SessionEvent | None
    notes: list[Note]
    summary: Summary | None
    presence: list[Stay]
    trail: list[SessionEvent] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.session.status == Status.DISPUTED


def presence_from(events: list[SessionEvent]) -> list[Stay]:
    """The room's joins and leaves as spells per person, in order."""
    stays, open_by_user = [], {}
    for e in events:
        if e.kind == ROOM_JOINED and e.actor_id not in open_by_user:
            stay = Stay(user=e.actor, role=(e.data or {}).get("role", ""), joined_at=e.created_at)
            stays.append(stay)
            open_by_user[e.actor_id] = stay
        elif e.kind == ROOM_LEFT and e.actor_id in open_by_user:
            stay = open_by_user.pop(e.actor_id)
            stay.left_at = e.created_at
            stay.how = "timed out" if (e.data or {}).get("reason") == "timed_out" else "left"
    return stays


def dispute_file(session: Session) -> DisputeFile:
    """Everything the page shows, in five queries (the trail, notes with authors and attachments,
    the summary), whatever the number of events."""
    trail = list(session.events.select_related("actor").order_by("created_at", "id"))
    disputes = [e for e in trail if e.kind == "dispute"]
    dispute = disputes[-1] if disputes else None
    decided = None
    if dispute is not None:
        later = [e for e in trail if e.kind in DECIDING and e.id > dispute.id]
        decided = later[0] if later else None
    return DisputeFile(session=session, dispute=dispute, decided=decided, notes=notes_of(session),
                       summary=summary_of(session), presence=presence_from(trail), trail=trail)


def resolve(session_id: int, *, by: User, decision: str, reason: str) -> Session:
    """Decide the dispute; Refused with a message naming who decided first when someone else did."""
    if decision not in DECISIONS:
        raise Refused("Choose approve, void, or approve and waive.", code="invalid_decision", status=422)
    verdict, waive = DECISIONS[decision]
    try:
        return registry.BY_NAME["resolve_dispute"].perform(
            session_id, by=by, channel=Channel.ADMIN, data={"decision": verdict, "waive": waive, "reason": reason})
    except Refused as exc:
        if exc.code != "wrong_status":
            raise
        raise Refused(already_decided(session_id), code="already_decided") from None


def already_decided(session_id: int) -> str:
    last = (SessionEvent.objects.filter(session_id=session_id, kind__in=DECIDING).select_related("actor")
            .order_by("-id").first())
    if last is None:
        return "This session is no longer disputed. Nothing was changed."
    who = last.actor.name if last.actor else "Someone"
    outcome = ("verified it" if last.kind == "verify"
               else "approved it" if last.data.get("decision") == "approve" else "voided it")
    return f"{who} already decided this dispute ({outcome}). Nothing was changed."
