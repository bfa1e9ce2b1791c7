"""Presence from the providers: who is in a PlugNmeet or BigBlueButton room feeds the same presence
the built-in room's sockets feed (video.presence), so Waiting, In Progress, No Show, the room_joined /
room_left events and the session_joined / session_started / session_ended analytics come out the
same whichever provider carries the call.

Two sources, one presence:

- Webhooks (PlugNmeet's participant_joined / participant_left / room_finished), verified and stored
  once in video.webhooks, arrive here as ProviderEvent rows: a join marks the connection present, a
  leave marks it absent, the room finishing takes everyone out. A replayed delivery never gets here.
- Polls (video.tasks.poll_presence, every VIDEO_PRESENCE_POLL_SECONDS): the provider's own list of
  who is in the room (PlugNmeet getActiveRoomInfo, BBB getMeetingInfo's attendees) is made the
  truth: listed connections are refreshed, the provider's other connections in presence are marked
  absent. BigBlueButton has no participant webhooks, so its presence comes from polls alone.

A provider connection is "<provider>:<the provider's connection id>" (PlugNmeet's participant sid;
BBB names none, so its userID) and stays present VIDEO_PRESENCE_TTL_SECONDS after it was last seen:
with the webhooks and polls gone quiet (provider or beat down) it runs out like a built-in socket
whose heartbeats stop. Only the session's tutor and student count; anyone else at the provider
(an identity that is not theirs) is ignored.
"""

import logging
from datetime import datetime, timedelta

import redis
from django.conf import settings

from sessions.models import LIVE, Session, VideoProvider
from tutoring.input import parse_id

from . import presence, services
from .errors import VideoUnavailable
from .models import ProviderEvent, ProviderEventKind, VideoRoom

log = logging.getLogger("video")

# a call may run past its scheduled end: rooms are polled this long after it
RUNNING_OVER = timedelta(hours=2)


def connection_id(provider: str, connection: str) -> str:
    return f"{provider}:{connection}"[:100]


def participant(session: Session, identity) -> int | None:
    """Our user id from the provider's identity (people join as str(user.pk)), only for the
    session's own tutor or student."""
    user_id = parse_id(identity) if isinstance(identity, str) else None
    return user_id if user_id is not None and user_id in (session.tutor_id, session.student_id) else None


def provider_connections(session_id: int, provider: str, *, now: datetime) -> dict[str, int]:
    """This provider's live connections in the session's presence (connection id -> user id)."""
    prefix = connection_id(provider, "")
    return {conn: user for conn, user in presence.connections(session_id, now=now).items() if conn.startswith(prefix)}


def _present(session_id: int, user_id: int, conn: str, now: datetime) -> None:
    presence.mark_present(session_id, user_id, connection_id=conn, now=now, ttl=settings.VIDEO_PRESENCE_TTL_SECONDS)


# --- webhooks ---------------------------------------------------------------------------------------


def on_event(event: ProviderEvent) -> None:
    """A verified, first-seen provider event of one of our sessions. Presence that cannot be
    written now (Redis down) is left to the next poll: the event row is kept either way."""
    try:
        if event.kind == ProviderEventKind.ROOM_FINISHED:
            room_emptied(event.session_id, event.provider, now=event.occurred_at)
            return
        if event.user_id is None or event.kind not in (ProviderEventKind.JOINED, ProviderEventKind.LEFT):
            return
        conn = connection_id(event.provider, event.connection_id or str(event.user_id))
        if event.kind == ProviderEventKind.JOINED:
            _present(event.session_id, event.user_id, conn, event.occurred_at)
        else:
            presence.mark_absent(event.session_id, event.user_id, connection_id=conn, now=event.occurred_at)
    except redis.RedisError:
        log.warning("%s event %s: presence not updated (Redis); the next poll will", event.provider, event.pk,
                    exc_info=True)


def room_emptied(session_id: int, provider: str, *, now: datetime) -> int:
    """The provider's room is over: every connection it had is gone."""
    gone = provider_connections(session_id, provider, now=now)
    for conn, user_id in gone.items():
        presence.mark_absent(session_id, user_id, connection_id=conn, now=now)
    return len(gone)


# --- polls ---------------------------------------------------------------------------------------


def poll(room: VideoRoom, *, now: datetime) -> dict[str, int]:
    """Make the session's presence say what the provider says about its room now. Raises
    VideoUnavailable when the provider does not answer (presence is then left to run out)."""
    session = room.session
    status = services.room_status(session, now=now)
    seen: dict[str, int] = {}
    if status is not None and status.active:
        for identity, conn in status.connections:
            user_id = participant(session, identity)
            if user_id is not None:
                seen[connection_id(room.provider, conn)] = user_id
    for conn, user_id in seen.items():
        _present(session.id, user_id, conn, now)
    gone = {c: u for c, u in provider_connections(session.id, room.provider, now=now).items() if c not in seen}
    for conn, user_id in gone.items():
        presence.mark_absent(session.id, user_id, connection_id=conn, now=now)
    return {"present": len(seen), "gone": len(gone)}


def rooms_in_use(now: datetime):
    """Provider rooms whose session's room is open now (or its call may still be running)."""
    return (VideoRoom.objects.exclude(provider=VideoProvider.P2P)
            .filter(ended_at__isnull=True, session__status__in=LIVE,
                    session__scheduled_start__lte=now + settings.ROOM_OPENS_BEFORE,
                    session__scheduled_end__gte=now - RUNNING_OVER)
            .select_related("session").order_by("pk"))


def poll_rooms(*, now: datetime) -> dict[str, int]:
    """Poll every room in use; one provider that is down does not stop the others."""
    counts = {"rooms": 0, "failed": 0, "present": 0, "gone": 0}
    for room in rooms_in_use(now):
        counts["rooms"] += 1
        try:
            result = poll(room, now=now)
        except (VideoUnavailable, LookupError, redis.RedisError) as exc:  # LookupError: no longer configured
            counts["failed"] += 1
            log.warning("presence of %s not polled: %s", room, exc)
            continue
        counts["present"] += result["present"]
        counts["gone"] += result["gone"]
    return counts
