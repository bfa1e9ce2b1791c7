"""Who is in a session's room right now: presence kept in Redis with an expiry, what its changes
mean, and the room's sockets told of them. It lies beneath both the built-in room's sockets
(room.consumers) and the video providers' webhooks and polls (video.attendance).

One sorted set per session holds its connections: each member is "<user id>:<connection id>",
scored with the moment (epoch seconds) its presence runs out. A connection is present while its
score lies ahead: the built-in room's sockets refresh it with each heartbeat
(settings.ROOM_HEARTBEAT_SECONDS), so a browser that vanished without closing its socket drops
out after settings.ROOM_PRESENCE_TTL_SECONDS all the same.

The API (the video providers' webhooks feed the same presence):

    mark_present(session_id, user_id, *, connection_id, now=None, ttl=None, channel="web") -> Change
        A connection is in the room (a join, or a heartbeat: same call).
    mark_absent(session_id, user_id, *, connection_id, now=None, channel="web") -> Change
        A connection left (socket closed, provider "left" webhook).
    present_user_ids(session_id, *, now=None) -> set[int]
        The users with at least one live connection. Read-only.
    connections(session_id, *, now=None) -> dict[str, int]
        Live connection id -> user id. Read-only.

mark_present and mark_absent change Redis in one MULTI/EXEC and then apply the consequences
(presence_changed, below): a user who becomes present gets a `room_joined` session event
and the `session_joined` analytics event, a user whose last connection leaves or expires gets
`room_left` (stamped with the moment it expired), both participants present starts a call
(`session_started`), the room emptying ends it (`session_ended`, with its duration), and the
room's sockets are told. A heartbeat that changes nothing writes nothing but its own score.
Reads never write: an expired member is only removed by the next mark_* call, which reports it.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics.events import ROOM_PAGE, record
from sessions import room_states as states
from sessions.models import Session, SessionEvent

log = logging.getLogger(__name__)

JOINED, LEFT = "room_joined", "room_left"


def namespace() -> str:
    """Keys and groups are scoped by the database, so two databases on one Redis (test workers,
    a staging copy) never see each other's rooms (session ids repeat across databases)."""
    return f"{settings.DATABASES['default']['NAME']}"


def presence_key(session_id: int) -> str:
    return f"room:{namespace()}:{int(session_id)}:presence"


def call_key(session_id: int) -> str:
    """When the current call began (both participants present), until the room empties."""
    return f"room:{namespace()}:{int(session_id)}:call"


@functools.cache
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)


def client() -> redis.Redis:
    return _client_for(settings.REDIS_URL)


def _ts(now: datetime | None) -> float:
    return (now or timezone.now()).timestamp()


def _parse(member: str) -> tuple[str, int]:
    user, _, conn = member.partition(":")
    return conn, int(user)


@dataclass(frozen=True)
class Change:
    """What one mark_* call changed: the live connections before and after it, and those that had
    run out meanwhile (connection id -> (user id, when it expired))."""

    session_id: int
    user_id: int
    connection_id: str
    now: datetime
    before: dict[str, int]
    after: dict[str, int]
    expired: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    channel: str = "web"  # the SessionEvent channel of the join/leave rows

    @property
    def users_before(self) -> set[int]:
        return set(self.before.values())

    @property
    def users_after(self) -> set[int]:
        return set(self.after.values())

    @property
    def joined(self) -> set[int]:
        return self.users_after - self.users_before - {u for u, _ in self.expired.values()}

    @property
    def left(self) -> dict[int, datetime]:
        """Users with no live connection any more: when each left (or ran out)."""
        gone = {}
        for user, when in self.expired.values():
            if user not in self.users_after:
                gone[user] = min(when, gone.get(user, when))
        for user in self.users_before - self.users_after:
            gone.setdefault(user, self.now)
        return gone

    @property
    def other_connections_of_user(self) -> list[str]:
        """This user's other live connections (a second tab): the newest one takes over."""
        return [c for c, u in self.after.items() if u == self.user_id and c != self.connection_id]

    @property
    def changed(self) -> bool:
        return set(self.before) != set(self.after) or bool(self.expired)


def _apply(session_id: int, user_id: int, connection_id: str, now: datetime | None, channel: str,
           write) -> Change:
    now = now or timezone.now()
    stamp = now.timestamp()
    key = presence_key(session_id)
    pipe = client().pipeline(transaction=True)
    pipe.zrangebyscore(key, "-inf", stamp, withscores=True)
    pipe.zremrangebyscore(key, "-inf", stamp)
    pipe.zrange(key, 0, -1)
    write(pipe, key, f"{int(user_id)}:{connection_id}", stamp)
    pipe.zrange(key, 0, -1)
    expired, _, before, *_, after = pipe.execute()
    change = Change(
        session_id=int(session_id), user_id=int(user_id), connection_id=connection_id, now=now,
        before=dict(map(_parse, before)), after=dict(map(_parse, after)),
        expired={conn: (user, datetime.fromtimestamp(score, tz=UTC))
                 for (conn, user), score in ((_parse(m), s) for m, s in expired)},
        channel=channel,
    )
    if change.changed:
        presence_changed(change)
    return change


def mark_present(session_id: int, user_id: int, *, connection_id: str, now: datetime | None = None,
                 ttl: int | None = None, channel: str = "web") -> Change:
    """This connection is in the room for the next `ttl` seconds (default ROOM_PRESENCE_TTL_SECONDS)."""
    ttl = ttl or settings.ROOM_PRESENCE_TTL_SECONDS

    def write(pipe, key, member, stamp):
        pipe.zadd(key, {member: stamp + ttl})
        pipe.expire(key, ttl + 60)

    return _apply(session_id, user_id, connection_id, now, channel, write)


def mark_absent(session_id: int, user_id: int, *, connection_id: str, now: datetime | None = None,
                channel: str = "web") -> Change:
    """This connection left the room."""

    def write(pipe, key, member, stamp):
        pipe.zrem(key, member)

    return _apply(session_id, user_id, connection_id, now, channel, write)


def connections(session_id: int, *, now: datetime | None = None) -> dict[str, int]:
    members = client().zrangebyscore(presence_key(session_id), f"({_ts(now)}", "+inf")
    return dict(map(_parse, members))


def present_user_ids(session_id: int, *, now: datetime | None = None) -> set[int]:
    return set(connections(session_id, now=now).values())


def start_call(session_id: int, now: datetime) -> bool:
    """Note that both participants are present; True only for the first time in this call."""
    return bool(client().set(call_key(session_id), now.timestamp(), nx=True, ex=2 * 86400))


def end_call(session_id: int) -> datetime | None:
    """The room emptied: when the call had begun (None when no call was on)."""
    pipe = client().pipeline(transaction=True)
    pipe.get(call_key(session_id))
    pipe.delete(call_key(session_id))
    started, _ = pipe.execute()
    return datetime.fromtimestamp(float(started), tz=UTC) if started else None


# --- the room's sockets: one group per session on the channel layer --------------------------------


def group_name(session_id: int) -> str:
    """The channel-layer group of one session's sockets (only its two participants are added)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"room.{namespace()}.{int(session_id)}")[:99]


def broadcast(session_id: int, kind: str, **data) -> None:
    """Tell the room's sockets ("presence": who is in now, as connections; "session": its status
    changed, reload it). A channel layer that is down costs the sockets an update (their next
    heartbeat brings it), never the change that was made."""
    try:
        async_to_sync(get_channel_layer().group_send)(group_name(session_id), {"type": f"room.{kind}", **data})
    except Exception:  # noqa: BLE001 - the change is saved; the sockets catch up on their heartbeat
        log.warning("room %s: could not tell the sockets (%s)", session_id, kind, exc_info=True)


# --- what a change means -----------------------------------------------------------------------


def presence_changed(change: Change) -> None:
    """Record what a presence change means, then tell the room's sockets."""
    session = Session.objects.select_related("tutor", "student").filter(pk=change.session_id).first()
    if session is None:
        return
    people = {session.tutor_id: session.tutor, session.student_id: session.student}
    with transaction.atomic():
        for user_id in sorted(change.joined & set(people)):
            SessionEvent.objects.create(session=session, actor_id=user_id, channel=change.channel, kind=JOINED,
                                        data={"role": states.role_of(session, user_id)}, created_at=change.now)
            early = int((session.scheduled_start - change.now).total_seconds())
            record("session_joined", user=people[user_id], page=ROOM_PAGE, now=change.now,
                   data={"session_id": session.id, "time_before_start": early})
        expired_users = {user for user, _ in change.expired.values()}
        for user_id, when in sorted(change.left.items()):
            if user_id not in people:
                continue
            timed_out = user_id in expired_users and user_id not in change.users_before
            SessionEvent.objects.create(session=session, actor_id=user_id, channel=change.channel, kind=LEFT,
                                        data={"role": states.role_of(session, user_id),
                                              "reason": "timed_out" if timed_out else "left"},
                                        created_at=when)
        both = set(people)
        if both <= change.users_after and not both <= change.users_before and start_call(
                session.id, change.now):
            record("session_started", user=people.get(change.user_id), page=ROOM_PAGE, now=change.now,
                   data={"session_id": session.id})
        if not change.users_after & both:
            started = end_call(session.id)
            if started is not None:
                duration = max(0, int((change.now - started).total_seconds()))
                record("session_ended", user=people.get(change.user_id), page=ROOM_PAGE, now=change.now,
                       data={"session_id": session.id, "duration": duration})
    broadcast(session.id, "presence", connections=change.after)
