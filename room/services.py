"""The session room's writes: the participants' feedback, the tutor's resources, and check-in from
the room (through the action registry). Each is one way in, atomic, and leaves a SessionEvent row.
What a presence change means (room_joined / room_left, the call's analytics, telling the room's
sockets) is video.presence's, beneath the room and the video providers alike.

Session events written here (none changes the session's status; none notifies anyone):

    feedback_submitted  a participant rated the session (data: role, rating)
    feedback_changed    ... and changed it within 24 hours
    resources_added     the tutor uploaded resources (data: ids, names)
"""

import mimetypes
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from analytics.events import ROOM_PAGE, record
from notes import storage, uploads
from sessions import actions as registry
from sessions import projections, rules
from sessions import room_states as states
from sessions.access import Relation
from sessions.errors import FORBIDDEN, INVALID, Refused
from sessions.models import (
    CANCELLED,
    DID_NOT_TAKE_PLACE,
    Channel,
    ResourceType,
    Session,
    SessionAssessment,
    SessionEvent,
    SessionResource,
)
from tutoring.input import InvalidInput, clean_text
from tutoring.models import User
from video import presence
from video.browser_recordings import recording_now


FEEDBACK_EDIT_WINDOW = timedelta(hours=24)
MAX_COMMENT = 2000
MAX_RESOURCES = 50


# --- presence ----------------------------------------------------------------------------------


def joined_user_ids(session_id: int) -> set[int]:
    """Everyone who has ever entered this session's room (attendance evidence)."""
    return set(SessionEvent.objects.filter(session_id=session_id, kind=presence.JOINED)
               .values_list("actor_id", flat=True).distinct())


# --- what the room shows a participant ---------------------------------------------------------


def check_in_refusal(session: Session, user_id: int, now: datetime, thread=None):
    """None when this user may check in now (the registry's check_in guard, which the lifecycle
    runs), else its Refused. `thread`: the session's open reschedule thread (read from the database
    when not given, and only for the tutor: the guard refuses anyone else first)."""
    rels = frozenset({Relation.TUTOR} if user_id == session.tutor_id else ())
    if thread is None and rels:
        thread = projections.open_thread(session)
    ctx = rules.Ctx(session=session, rels=rels, now=now, open_thread=thread or None,
                    open_proposal=projections.open_proposal(thread) if thread else None)
    return registry.refusal("check_in", ctx)


@dataclass
class RoomData:
    """What a socket keeps of its session between reloads: the room's state is computed from it and
    the live connections without touching the database."""

    session: Session
    joined: set
    thread: object  # the open reschedule thread (blocks check-in) or False
    recording: bool = False  # the tutor's browser is recording the call (video.browser_recordings)


def room_data(session_id: int) -> RoomData:
    session = Session.objects.select_related("tutor", "student", "course").get(pk=session_id)
    return RoomData(session=session, joined=joined_user_ids(session_id),
                    thread=projections.open_thread(session) or False, recording=recording_now(session_id))


def room_view(data: RoomData, user_id: int, connections: dict, *, now: datetime | None = None) -> dict:
    """The room as this participant sees it now (sent to their socket): state, the other side's
    connections (to address signaling to), whether Check in is offered. No queries."""
    now = now or timezone.now()
    session, present = data.session, set(connections.values())
    view = states.room_state(session, viewer_id=user_id, present=present, joined=data.joined | present, now=now)
    rels = frozenset({Relation.TUTOR if user_id == session.tutor_id else Relation.STUDENT})
    in_room = user_id in present
    return view.as_dict() | {
        "status": session.status,
        "status_label": projections.status_label(session, rels),
        "peers": sorted(conn for conn, uid in connections.items() if uid != user_id),
        "can_check_in": in_room and check_in_refusal(session, user_id, now, data.thread) is None,
        "recording": data.recording,
    }


def page_viewed(session: Session, user: User, now: datetime | None = None) -> None:
    record("page_view", user=user, page=ROOM_PAGE, now=now,
           data={"session_id": session.id, "user_role": states.role_of(session, user.id)})


# --- check-in from the room --------------------------------------------------------------------


def check_in(session: Session, *, by: User, now: datetime | None = None) -> Session:
    """One click in the room: the registry's check_in (its guard, same refusals), then the room
    hears of it."""
    session = registry.BY_NAME["check_in"].perform(session, by=by, channel=Channel.WEB, now=now)
    transaction.on_commit(lambda: presence.broadcast(session.id, "session"))
    return session


# --- feedback ----------------------------------------------------------------------------------


def clean_comment(comment: str | None) -> str:
    """The comment as stored, through the shared text type (tutoring.input: control characters and
    NUL refused, at most MAX_COMMENT characters, both said plainly); else a 422 Refused."""
    try:
        return clean_text(comment, max_length=MAX_COMMENT, what="comment")
    except InvalidInput as exc:
        raise Refused(str(exc), code=exc.code, status=INVALID) from None


def clean_rating(rating) -> int:
    try:
        value = int(str(rating).strip())
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        raise Refused("Choose a rating from 1 to 5 stars.", code="invalid_rating", status=INVALID)
    return value


def feedback_refusal(session: Session, user_id: int, now: datetime) -> Refused | None:
    """Why this user may not rate the session now (None: they may)."""
    if states.role_of(session, user_id) is None:
        return Refused(states.NOT_PARTICIPANT, code="not_participant", status=FORBIDDEN)
    if session.status in DID_NOT_TAKE_PLACE:
        return Refused("A session that did not take place cannot be rated.", code="not_rateable")
    if now < states.opens_at(session):
        return Refused("You can rate the session once its room has opened.", code="too_early")
    return None


def editable_until(assessment: SessionAssessment) -> datetime:
    return assessment.created_at + FEEDBACK_EDIT_WINDOW


@transaction.atomic
def save_feedback(session: Session, *, by: User, rating, comment: str = "", now: datetime | None = None,
                  channel: str = Channel.WEB) -> SessionAssessment:
    """The participant's rating (1-5) and comment: once each for the student and the tutor,
    changeable for 24 hours after it was first sent (sending the same again changes and records
    nothing). The creator's Session History reads it."""
    now = now or timezone.now()
    session = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)  # one writer at a time
    refused = feedback_refusal(session, by.id, now)
    if refused is not None:
        raise refused
    rating, comment = clean_rating(rating), clean_comment(comment)
    role = states.role_of(session, by.id)
    assessment = SessionAssessment.objects.filter(session=session, author_role=role).first()
    if assessment is None:
        assessment = SessionAssessment.objects.create(session=session, author=by, author_role=role, rating=rating,
                                                      comment=comment)
        kind = "feedback_submitted"
    else:
        if now >= editable_until(assessment):
            raise Refused("Feedback can be changed for 24 hours after it was sent.", code="feedback_closed")
        if (assessment.rating, assessment.comment) == (rating, comment):
            return assessment  # the same feedback again (a double click, a resend): saved once, nothing to record
        assessment.rating, assessment.comment = rating, comment
        assessment.save(update_fields=["rating", "comment"])
        kind = "feedback_changed"
    SessionEvent.objects.create(session=session, actor=by, channel=channel, kind=kind, created_at=now,
                                data={"role": role, "rating": rating})
    record("feedback_submitted", user=by, page=ROOM_PAGE, now=now, data={"session_id": session.id, "rating": rating})
    return assessment


# --- resources ---------------------------------------------------------------------------------

RESOURCE_TYPES = {uploads.Kind.PHOTO: ResourceType.IMAGE, uploads.Kind.DOCUMENT: ResourceType.DOCUMENT,
                  uploads.Kind.AUDIO: ResourceType.AUDIO}


@dataclass
class Upload:
    resources: list = field(default_factory=list)
    refusals: list = field(default_factory=list)


def resources_refusal(session: Session, user_id: int) -> Refused | None:
    if user_id != session.tutor_id:
        return Refused("Only the tutor can upload resources.", code="not_allowed", status=FORBIDDEN)
    if session.status in CANCELLED:
        return Refused("This session was cancelled.", code="cancelled")
    return None


def add_resources(session: Session, *, by: User, files, now: datetime | None = None,
                  channel: str = Channel.WEB) -> Upload:
    """The tutor shares files with the student: checked and stored exactly as notes' attachments
    (notes.uploads, notes.storage), under resources/<session>/. Bad files are reported, good ones kept."""
    now = now or timezone.now()
    refused = resources_refusal(session, by.id)
    if refused is not None:
        raise refused
    checked, refusals = uploads.check_uploads(files)
    if not checked:
        if refusals:
            raise Refused(f"Nothing was uploaded: {'; '.join(str(r) for r in refusals)}",
                          code="invalid_attachment", status=INVALID)
        raise Refused("Choose a file to upload.", code="no_file", status=INVALID)
    stored = []
    try:
        for item in checked:
            stored.append(storage.save(uploads.storage_name(session.id, item.extension, folder="resources"),
                                       item.file))
        resources = _write_resources(session, by=by, checked=checked, stored=stored, now=now, channel=channel)
    except BaseException:
        storage.delete_quietly(stored)
        raise
    return Upload(resources=resources, refusals=refusals)


@transaction.atomic
def _write_resources(session, *, by, checked, stored, now, channel) -> list[SessionResource]:
    session = Session.objects.select_for_update(of=("self",)).get(pk=session.pk)
    refused = resources_refusal(session, by.id)
    if refused is not None:
        raise refused
    if session.resources.count() + len(checked) > MAX_RESOURCES:
        raise Refused(f"A session can have at most {MAX_RESOURCES} resources.", code="too_many", status=INVALID)
    made = [SessionResource.objects.create(session=session, name=item.original_name, type=RESOURCE_TYPES[item.kind],
                                           r2_key=name, uploaded_by=by)
            for item, name in zip(checked, stored, strict=True)]
    SessionEvent.objects.create(session=session, actor=by, channel=channel, kind="resources_added", created_at=now,
                                data={"ids": [r.id for r in made], "names": [r.name for r in made]})
    return made


def resource_link(resource: SessionResource) -> str:
    """A download link valid at most NOTES_LINK_SECONDS (5 minutes)."""
    content_type = mimetypes.guess_type(resource.name)[0] or "application/octet-stream"
    return storage.signed_link(resource.r2_key, filename=resource.name, content_type=content_type, inline=False)
