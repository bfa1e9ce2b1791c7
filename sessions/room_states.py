"""The session room's states (spec 002), derived read-only from the session and the room's
presence: nothing here writes, and the room never changes a session's status (the lifecycle's
transitions and sweeps do).

    Early        more than ROOM_OPENS_BEFORE (15 minutes) before the start: not joinable yet
    Joinable     the room is open; the pre-join screen (before the session is under way)
    Waiting      one participant is in the room, the other is not (also the other waiting for a
                 viewer who left a checked-in session)
    In Progress  both are in the room; or the session is checked in (under way) and the viewer,
                 who left, sees neither of them in it
    No Show      the other participant has not joined ROOM_NO_SHOW_GRACE after the start
                 (or the session was recorded as a no-show)
    Ended        the session is over (checked out, acknowledged, past its end with the call
                 over), cancelled or not completed: the post-session screen
    Technical Issues is the browser's own state (no connection, no media, provider down); the
                 server never derives it.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.conf import settings

from sessions.errors import FORBIDDEN, Refused
from sessions.models import CANCELLED, LIVE, AssessmentRole, Session, Status


class State(StrEnum):
    EARLY = "early"
    JOINABLE = "joinable"
    WAITING = "waiting"
    IN_PROGRESS = "in_progress"
    NO_SHOW = "no_show"
    ENDED = "ended"
    TECHNICAL = "technical"


LABELS = {
    State.EARLY: "Early",
    State.JOINABLE: "Joinable",
    State.WAITING: "Waiting",
    State.IN_PROGRESS: "In Progress",
    State.NO_SHOW: "No Show",
    State.ENDED: "Ended",
    State.TECHNICAL: "Technical Issues",
}

SESSION_ENDED = "This session has ended."
NOT_PARTICIPANT = "You're not part of this session."
NOT_FOUND = "Session not found. Check your dashboard."  # a room nobody may see, or none
CONNECTION_FAILED = "Unable to connect."


def opens_at(session: Session) -> datetime:
    return session.scheduled_start - settings.ROOM_OPENS_BEFORE


def no_show_at(session: Session) -> datetime:
    return session.scheduled_start + settings.ROOM_NO_SHOW_GRACE


def is_open(session: Session, now: datetime) -> bool:
    """The room can be entered now (Join is a link): live status, from 15 minutes before the
    start until the scheduled end (a call already running may go on past it)."""
    return session.status in LIVE and opens_at(session) <= now < session.scheduled_end


def can_enter(session: Session, now: datetime, *, other_present: bool) -> bool:
    """Whether a participant may (re)enter the room: while it is open, and past the scheduled end
    while the other one is still in the call (a lesson that runs over, a dropped connection)."""
    if session.status not in LIVE or now < opens_at(session):
        return False
    return now < session.scheduled_end or other_present


def entry_refusal(session: Session, user_id: int, now: datetime, *, other_present: bool) -> Refused | None:
    """The one entry rule: why this user may not enter the session's room now (None: they may).
    The built-in room's socket, the video join (a provider's join URL or token is handed out only
    past this check) and the room page's Rejoin all ask it. Only the session's tutor and student
    enter; the room opens ROOM_OPENS_BEFORE before the start and stays open until the scheduled
    end, and past it while the other participant is still in the call."""
    if user_id not in (session.tutor_id, session.student_id):
        return Refused(NOT_PARTICIPANT, code="not_participant", status=FORBIDDEN)
    if session.status in LIVE and now < opens_at(session):
        minutes = int(settings.ROOM_OPENS_BEFORE.total_seconds() // 60)
        return Refused(f"The room opens {minutes} minutes before the start.", code="room_not_open")
    if not can_enter(session, now, other_present=other_present):
        return Refused(ended_detail(session), code="session_ended")
    return None


def join_link(session: Session, user, now: datetime) -> dict | None:
    """What a session card shows its tutor or student about the room: Join (a link) from the
    moment the room opens, "Opens at 17:45" (the viewer's zone, not a link) before; nothing for
    anyone else, nor once the session is over."""
    if user.id not in (session.tutor_id, session.student_id) or session.status not in LIVE:
        return None
    if now >= session.scheduled_end:
        return None
    opens = opens_at(session)
    return {"open": now >= opens, "url": f"/session/{session.id}", "opens": f"{opens.astimezone(user.tzinfo):%H:%M}",
            "opens_iso": opens.isoformat()}


def role_of(session: Session, user_id: int) -> str | None:
    if user_id == session.tutor_id:
        return AssessmentRole.TUTOR
    if user_id == session.student_id:
        return AssessmentRole.STUDENT
    return None


def other_participant(session: Session, viewer_id: int):
    return session.student if session.tutor_id == viewer_id else session.tutor


@dataclass(frozen=True)
class RoomView:
    state: State
    detail: str  # one sentence for the viewer
    other_present: bool = False
    # over for good (the post-session screen), unlike a No Show that is still waiting
    final: bool = False

    @property
    def label(self) -> str:
        return LABELS[self.state]

    @property
    def enterable(self) -> bool:
        return self.state != State.EARLY and not self.final

    def as_dict(self) -> dict:
        return {"state": self.state.value, "label": self.label, "detail": self.detail,
                "other_present": self.other_present, "final": self.final}


def ended_detail(session: Session) -> str:
    if session.status in CANCELLED:
        return "This session was cancelled."
    if session.status == Status.NOT_COMPLETED:
        return "This session did not take place."
    return SESSION_ENDED


def room_state(session: Session, *, viewer_id: int, present: set[int], joined: set[int],
               now: datetime) -> RoomView:
    """The room as `viewer_id` (the tutor or the student) sees it now. `present`: users in the room
    now; `joined`: users who have ever joined it (room_joined events)."""
    other = other_participant(session, viewer_id)
    here, there = viewer_id in present, other.id in present
    if session.status == Status.NO_SHOW:
        who = "the student" if session.no_show_party == "student" else "the tutor"
        return RoomView(State.NO_SHOW, f"Recorded as a no-show: {who} did not attend.", there, final=True)
    if session.status not in LIVE:
        return RoomView(State.ENDED, ended_detail(session), there, final=True)
    if now < opens_at(session):
        return RoomView(State.EARLY, "The room opens 15 minutes before the start.", there)
    if here and there:
        return RoomView(State.IN_PROGRESS, f"You and {other.name} are in the session.", True)
    if now >= session.scheduled_end:
        return RoomView(State.ENDED, SESSION_ENDED, there, final=True)
    if other.id not in joined and now >= no_show_at(session):
        minutes = int(settings.ROOM_NO_SHOW_GRACE.total_seconds() // 60)
        return RoomView(State.NO_SHOW, f"{other.name} has not joined {minutes} minutes after the start.", there)
    if here:
        again = session.status == Status.CHECKED_IN and other.id in joined
        verb = "come back" if again else "join"
        return RoomView(State.WAITING, f"Waiting for {other.name} to {verb}.", there)
    if session.status == Status.CHECKED_IN:
        # the session is under way and the viewer left the room: not the pre-session Joinable (R10)
        if there:
            return RoomView(State.WAITING, f"{other.name} is in the room, waiting for you.", True)
        return RoomView(State.IN_PROGRESS, "The session is under way: join again to continue.", False)
    if there:
        return RoomView(State.JOINABLE, f"{other.name} is in the room.", True)
    return RoomView(State.JOINABLE, f"{other.name} has not joined yet.", False)
