"""The video actions: which provider a session uses, entering its room with the right role, ending
it, asking who is in it, and taking note of a recording the provider made.

No provider call runs inside a database transaction (a slow provider must not hold locks), and
every provider failure leaves as video.errors.VideoUnavailable: "Video service unavailable. Try
again." Wrong credentials also open one incident for coordinators (video.incidents)."""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import redis

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from sessions import room_states as states
from sessions.errors import FORBIDDEN, Refused
from sessions.models import Recording, RecordingStatus, Session, VideoProvider
from tutoring.celery import publish
from tutoring.csp import origin_of

from . import incidents, presence
from .errors import CredentialsRejected
from .models import CourseVideo, RecordingCopy, VideoRoom, configured_providers
from .providers import JoinInfo, Role, RoomSpec, RoomStatus, SourceRecording, get_provider

log = logging.getLogger("video")


# --- which provider -----------------------------------------------------------------------------


def course_video(session: Session) -> CourseVideo | None:
    if session.course_id is None:
        return None
    return CourseVideo.objects.filter(course_id=session.course_id).first()


def provider_name_for(session: Session) -> str:
    """The room's provider once it exists (a session never changes provider mid-call), else the
    course's override, else the deployment's VIDEO_PROVIDER."""
    room = VideoRoom.objects.filter(session=session).only("provider").first()
    if room is not None:
        return room.provider
    override = course_video(session)
    if override is not None and override.provider:
        if override.provider in configured_providers():
            return override.provider
        log.warning("course %s asks for %s, which is not configured: using %s", session.course_id,
                    override.provider, settings.VIDEO_PROVIDER)
    return settings.VIDEO_PROVIDER


def client_origin(name: str) -> str | None:
    """The origin of the provider's web client, which the room page frames (its CSP frame-src):
    the join links point there (PlugNmeet's client at PLUGNMEET_URL, BBB's join redirecting into
    its HTML5 client on the BBB_URL host). None for the built-in room or an unconfigured provider."""
    conf = {VideoProvider.PLUGNMEET: settings.PLUGNMEET, VideoProvider.BBB: settings.BBB}.get(name)
    return origin_of(conf["url"]) if conf else None


def records(session: Session) -> bool:
    override = course_video(session)
    if override is not None and override.record is not None:
        return override.record
    return settings.VIDEO_RECORD_DEFAULT


def room_id_for(session: Session) -> str:
    return f"{settings.VIDEO_ROOM_PREFIX}-{session.pk}"


def session_for_room(provider: str, room_id: str) -> Session | None:
    room = VideoRoom.objects.filter(provider=provider, room_id=room_id).select_related("session").first()
    return room.session if room else None


@contextmanager
def calling(provider: str, *, now=None) -> Iterator[None]:
    """Around provider calls: wrong credentials open an incident (once), success closes it."""
    try:
        yield
    except CredentialsRejected as exc:
        incidents.credentials_rejected(provider, detail=exc.cause, now=now)
        raise
    incidents.provider_answered(provider, now=now)


# --- entering, ending, watching a room ------------------------------------------------------------


def role_of(session: Session, user) -> Role:
    if user.pk == session.tutor_id:
        return Role.HOST
    if user.pk == session.student_id:
        return Role.GUEST
    raise Refused(states.NOT_PARTICIPANT, code="not_participant", status=FORBIDDEN)


def require_entry(session: Session, user, now) -> None:
    """The room's one entry rule (sessions.room_states.entry_refusal): a join URL or token is never handed
    out to anyone else, nor before the room opens, nor once the session is over."""
    other = session.student_id if user.pk == session.tutor_id else session.tutor_id
    try:
        other_present = other in presence.present_user_ids(session.pk)
    except redis.RedisError:  # presence unknown: the scheduled times alone decide
        log.warning("session %s: presence unavailable for the entry rule", session.pk, exc_info=True)
        other_present = False
    refused = states.entry_refusal(session, user.pk, now, other_present=other_present)
    if refused is not None:
        raise refused


def join(session: Session, *, user, now=None) -> JoinInfo:
    """A way into the session's room for its tutor (host) or student (guest). With a provider,
    the room is created there first (creating a running room answers that room)."""
    now = now or timezone.now()
    require_entry(session, user, now)
    role = role_of(session, user)
    name = provider_name_for(session)
    provider = get_provider(name)
    if name == VideoProvider.P2P:
        return provider.join(None, user_id=str(user.pk), name=user.name, role=role)
    record = records(session)
    spec = RoomSpec(room_id=room_id_for(session), title=_title(session), record=record,
                    duration_minutes=_minutes(session), webhook_url=_absolute("video-webhook-plugnmeet"),
                    recording_ready_url=_absolute("video-webhook-bbb-recording-ready"))
    with calling(name, now=now):
        room = provider.create_room(spec)
        info = provider.join(room, user_id=str(user.pk), name=user.name, role=role)
    VideoRoom.objects.update_or_create(session=session, defaults={
        "provider": name, "room_id": room.room_id, "create_time": room.create_time, "record": record,
        "created_at": now, "ended_at": None})
    Session.objects.filter(pk=session.pk).update(video_provider=name, video_room_id=room.room_id)
    return info


def end_room(session: Session, *, now=None) -> None:
    """End the session's provider room (the tutor ends the call, or the session is checked out)."""
    now = now or timezone.now()
    room = VideoRoom.objects.filter(session=session).first()
    if room is None or room.provider == VideoProvider.P2P:
        return
    with calling(room.provider, now=now):
        get_provider(room.provider).end_room(room.room_id)
    VideoRoom.objects.filter(pk=room.pk, ended_at__isnull=True).update(ended_at=now)


def end_room_after_commit(session_id: int) -> None:
    """The tutor left the provider's room, or the session was checked out: once the change commits,
    a worker ends the provider's room (video.tasks.end_room; never inside the transaction). Only a
    room still open is ended; one that already ended, or the built-in room, costs nothing."""
    if _open_provider_rooms(session_id).exists():  # the built-in room, or none: nothing to end
        transaction.on_commit(lambda: publish("video.tasks.end_room", session_id))


def _open_provider_rooms(session_id: int):
    return VideoRoom.objects.filter(session_id=session_id, ended_at__isnull=True).exclude(provider=VideoProvider.P2P)


def end_open_room(session_id: int, *, now=None) -> str | None:
    """End the session's provider room if it is still open: the provider's name when it was
    ended now, else None."""
    room = _open_provider_rooms(session_id).select_related("session").first()
    if room is None:
        return None
    end_room(room.session, now=now)
    return room.provider


def ends_the_room(event) -> bool:
    """A session event after which its provider room has no use: the tutor checked out (or
    recorded the student absent at check-out)."""
    return event.kind in ("check_out", "no_show")


def end_room_on_check_out(sender, instance, created: bool, **kwargs) -> None:
    """The post_save receiver of sessions.SessionEvent (VideoConfig.ready connects it): check-out
    (sessions.lifecycle writes its event in the change's transaction) ends the session's provider
    room after commit."""
    if created and ends_the_room(instance):
        end_room_after_commit(instance.session_id)


def room_status(session: Session, *, now=None) -> RoomStatus | None:
    """Whether the provider's room runs and who is in it (None: no provider room)."""
    room = VideoRoom.objects.filter(session=session).first()
    if room is None or room.provider == VideoProvider.P2P:
        return None
    with calling(room.provider, now=now):
        return get_provider(room.provider).room_status(room.room_id)


# --- recordings ------------------------------------------------------------------------------------


def storage_key(session_id: int, provider: str, recording_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", recording_id)[:150]
    return f"recordings/{session_id}/{provider}-{safe}.mp4"


def register_recording(*, provider: str, room_id: str, recording_id: str, size: int | None = None,
                       session: Session | None = None) -> tuple[RecordingCopy | None, bool]:
    """Take note of a provider recording and enqueue its copy, once: (copy, created). A recording
    already known (a repeated webhook, the poll finding it again) changes nothing."""
    existing = RecordingCopy.objects.filter(provider=provider, provider_recording_id=recording_id).first()
    if existing is not None:
        return existing, False
    session = session or session_for_room(provider, room_id)
    if session is None:
        log.info("%s recording %s of unknown room %s ignored", provider, recording_id, room_id)
        return None, False
    try:
        with transaction.atomic():
            recording = Recording.objects.create(session=session, provider=provider, status=RecordingStatus.PROCESSING,
                                                 provider_recording_id=recording_id[:200])
            copy = RecordingCopy.objects.create(recording=recording, provider=provider,
                                                provider_recording_id=recording_id, source_size=size,
                                                storage_key=storage_key(session.pk, provider, recording_id))
    except IntegrityError:  # a concurrent delivery registered it first
        return RecordingCopy.objects.get(provider=provider, provider_recording_id=recording_id), False
    # a broker that is down must not fail the request: the recordings sweep enqueues the copy later
    transaction.on_commit(lambda: publish("video.tasks.copy_recording", copy.pk))
    return copy, True


def discover_recordings(*, now=None, days: int = 3) -> int:
    """Ask the providers for recordings of recent recorded rooms that no webhook announced."""
    now = now or timezone.now()
    found = 0
    rooms = (VideoRoom.objects.filter(record=True, created_at__gte=now - timedelta(days=days))
             .exclude(provider=VideoProvider.P2P).select_related("session"))
    for room in rooms:
        try:
            with calling(room.provider, now=now):
                listed = get_provider(room.provider).recordings(room.room_id)
        except Refused as exc:
            log.warning("recordings of %s not listed: %s", room, exc)
            continue
        for source in listed:
            found += register_recording(provider=room.provider, room_id=room.room_id, session=room.session,
                                        recording_id=source.recording_id, size=source.size)[1]
    return found


def source_of(copy: RecordingCopy) -> SourceRecording:
    return SourceRecording(recording_id=copy.provider_recording_id, room_id="", size=copy.source_size)


# --- helpers --------------------------------------------------------------------------------------


def _title(session: Session) -> str:
    course = session.course.title if session.course_id else "Tutoring session"
    return f"{course}: {session.tutor.name} and {session.student.name}"[:200]


def _minutes(session: Session) -> int:
    # room_duration / BBB duration: the session's length plus an hour of slack for running over
    return int(session.duration.total_seconds() // 60) + 60


def _absolute(name: str) -> str:
    return f"{settings.SITE_URL}{reverse(name)}"
