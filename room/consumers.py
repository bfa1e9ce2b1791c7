"""The built-in room's socket, /ws/session/<id>/: WebRTC signaling between the session's two
participants and their presence (heartbeats).

Who: the socket is signed in with the Django session cookie (AuthMiddlewareStack in
tutoring/asgi.py; the Origin must be this site's). Only the session's tutor and student are admitted,
and only while the room is open (sessions.room_states.entry_refusal, the rule the video join also follows);
each admitted socket joins that session's group and no other.

With a video provider (PlugNmeet, BigBlueButton) the call runs in the provider's client framed by
the room page, and the socket only watches: its heartbeats read the room's presence (fed by the
provider, video.attendance) instead of writing it, and it relays nothing; the state messages are
the same.
Every refusal is sent as {"type": "error", "code", "detail"} and then the socket is closed with a
code the page understands:

    4401 not_signed_in     4403 not_participant     4404 not_found      4409 not_open
    4400 malformed         1009 too_large           4429 rate_limited   4001 superseded
    (4429: over RATE_PER_SECOND messages on one connection, or ROOM_CONNECTS_PER_MINUTE connection
    attempts by one user; the detail says when to try again, and for the attempts "retry_after"
    gives the seconds, which the page waits before it connects again)
    1011 unavailable (Redis or the database did not answer)

Messages from the browser (JSON text, at most MAX_MESSAGE_BYTES; anything else closes the socket):

    {"type": "heartbeat"}                                   -> {"type": "state", ...}
    {"type": "offer" | "answer", "to": <conn>, "sdp": "..."}  relayed to that connection
    {"type": "ice", "to": <conn>, "candidate": {...} | null}   relayed to that connection
    {"type": "media", "audio": bool, "video": bool}         relayed to the other side
    {"type": "bye", "end": bool (default false)}            leave the room; "end": the Leave button
                                                            (not a closing tab): the tutor leaving a
                                                            provider's room ends it there

To the browser: "welcome" (connection_id, role, heartbeat seconds and the room's state), "state"
(after every heartbeat and every change: state, label, detail, peers, can_check_in, status_label),
the relayed messages with "from", "superseded" when the same person joined from another tab (the
newest tab keeps the call), and "error".
"""

import logging
import time
from typing import Annotated, Literal

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import connections
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from sessions import room_states as states
from sessions.access import Viewer
from sessions.models import AssessmentRole, Session, VideoProvider
from tutoring import limits
from video import presence
from video import services as video_services

from . import services

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
# a token bucket per connection: an ICE burst is a few dozen messages, a heartbeat one per 10 s
RATE_PER_SECOND = 20
BURST = 60
# the session's status and reschedule thread are re-read this often (and at once when the room
# hears of a change made through it); presence and time are current on every heartbeat
RELOAD_SECONDS = 30

# a connection id is its socket's channel name on the layer ("specific.<process>!<random>")
ConnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.!-]{8,100}$")]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Heartbeat(Message):
    type: Literal["heartbeat"]


class Bye(Message):
    type: Literal["bye"]
    end: bool = False


class Description(Message):
    type: Literal["offer", "answer"]
    to: ConnId
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_BYTES)]


class Candidate(Message):
    candidate: Annotated[str, StringConstraints(max_length=2048)]
    sdpMid: Annotated[str, StringConstraints(max_length=64)] | None = None  # noqa: N815 - WebRTC's names
    sdpMLineIndex: Annotated[int, Field(ge=0, le=64)] | None = None  # noqa: N815
    usernameFragment: Annotated[str, StringConstraints(max_length=256)] | None = None  # noqa: N815


class Ice(Message):
    type: Literal["ice"]
    to: ConnId
    candidate: Candidate | None


class Media(Message):
    type: Literal["media"]
    audio: bool
    video: bool


INCOMING = TypeAdapter(Annotated[Heartbeat | Bye | Description | Ice | Media, Field(discriminator="type")])


class Closing(Exception):
    def __init__(self, code: int, reason: str, detail: str, retry_after: int | None = None):
        super().__init__(detail)
        self.code, self.reason, self.detail, self.retry_after = code, reason, detail, retry_after


NOT_FOUND = Closing(4404, "not_found", states.NOT_FOUND)
NOT_PARTICIPANT = Closing(4403, "not_participant", states.NOT_PARTICIPANT)


def admission(user, session_id: int) -> tuple[Closing | None, str, bool]:
    """(None, role, watching) when this user may enter this session's room now (the one entry
    rule, sessions.room_states.entry_refusal), else (why not, "", False). `watching`: the session's call
    runs at a video provider, so this socket only follows the room's state; the provider's
    presence (video.attendance) says who is in the room, not the socket."""
    session = Session.objects.select_related("course", "tutor", "student").filter(pk=session_id).first()
    if session is None or not Viewer.of(user).relations(session):
        return NOT_FOUND, "", False
    role = states.role_of(session, user.id)
    other = states.other_participant(session, user.id) if role else None
    other_present = other is not None and other.id in presence.present_user_ids(session.id)
    refused = states.entry_refusal(session, user.id, timezone.now(), other_present=other_present)
    if refused is not None:
        if refused.code == "not_participant":
            return NOT_PARTICIPANT, "", False
        return Closing(4409, "not_open", refused.message), "", False
    return None, role, video_services.provider_name_for(session) != VideoProvider.P2P


def _in_pool_thread(func, *args, **kwargs):
    """Run in one of the loop's pool threads; a database connection the call opened (a join or a
    leave writes its event) is closed after it: pool threads are never cleaned up otherwise."""
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class RoomConsumer(AsyncJsonWebsocketConsumer):
    admitted = False
    watching = False
    gone = False  # a send found the browser gone (send_json)

    async def connect(self):
        # accepted first, so that a refusal reaches the page with its reason and close code
        await self.accept()
        try:
            await self._enter()
        except Closing as closing:
            await self._close(closing)
        except Exception as exc:
            if isinstance(exc, OSError) and self.gone:
                raise  # the browser went away as it was welcomed (send_json): it has left; the server ends it
            log.exception("room socket: could not admit")
            await self._close(Closing(1011, "unavailable", states.CONNECTION_FAILED))

    async def _enter(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise Closing(4401, "not_signed_in", "Sign in to join the session.")
        self.user_id = user.id
        connects = limits.Limit("room-connects", settings.ROOM_CONNECTS_PER_MINUTE, 60)
        if wait := await sync_to_async(limits.hit)(connects, str(user.id)):
            raise Closing(4429, "rate_limited",
                          f"Too many connection attempts: try again in {limits.in_words(wait)}.", retry_after=wait)
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        refused, self.role, self.watching = await database_sync_to_async(admission)(user, self.session_id)
        if refused is not None:
            raise refused
        # the socket's own address on the channel layer: signaling goes straight to it, and only
        # ever to an address among this room's live connections (self.connections)
        self.connection_id = self.channel_name
        self.group = presence.group_name(self.session_id)
        self.bucket = TokenBucket(RATE_PER_SECOND, BURST)
        await self._load()
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.admitted = True
        if self.watching:
            await self._read_presence()
            await self.send_json({"type": "welcome", "connection_id": self.connection_id, "role": self.role,
                                  "heartbeat": settings.ROOM_HEARTBEAT_SECONDS, **self._view()})
            return
        change = await self._presence(presence.mark_present)
        if change.other_connections_of_user:
            await self.channel_layer.group_send(self.group, {"type": "room.superseded", "user_id": self.user_id,
                                                             "keep": self.connection_id})
        await self.send_json({"type": "welcome", "connection_id": self.connection_id, "role": self.role,
                              "heartbeat": settings.ROOM_HEARTBEAT_SECONDS, **self._view()})

    async def disconnect(self, code):
        await self._leave()

    async def send_json(self, content, close=False):
        """To the browser (every message the room sends goes through here). A browser that went
        away while the server wrote to it (the welcome, a relay, or the room's news of someone
        else's arrival as it closed the page) has left: the server raises (uvicorn's
        ClientDisconnected, an OSError) and ends this socket without a disconnect, so the leave is
        written here first; it was lost, the room showing the person until their presence expired
        and their join never closed by a leave."""
        try:
            await super().send_json(content, close=close)
        except OSError:
            self.gone = True
            await self._leave()
            raise

    async def _leave(self):
        """Out of the group and out of the room, once (a "bye", the socket closing, or both)."""
        if not self.admitted:
            return
        self.admitted = False
        try:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            if not self.watching:
                await self._presence(presence.mark_absent)
        except Exception:  # noqa: BLE001 - the presence expires by itself
            log.warning("room %s: leaving failed", self.session_id, exc_info=True)

    # --- from the browser ------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self.admitted:
            return
        try:
            message = self._parse(text_data, bytes_data)
        except Closing as closing:
            await self._close(closing)
            return
        if message.type == "heartbeat":
            await (self._read_presence() if self.watching else self._presence(presence.mark_present))
            if time.monotonic() - self.loaded_at > RELOAD_SECONDS:
                await self._load()
            await self.send_json({"type": "state", **self._view()})
        elif message.type == "bye":
            if message.end and self.watching and self.role == AssessmentRole.TUTOR:
                # the tutor left the provider's room on purpose: it is ended there after this
                await database_sync_to_async(video_services.end_room_after_commit)(self.session_id)
            # leave now: the other side hears it at once, whenever the closing handshake ends
            await self._leave()
            await self.close(code=1000)
        elif self.watching:
            pass  # the call is at the provider: nothing to relay
        elif message.type == "media":
            await self._relay(self.channel_layer.group_send, self.group, {
                "type": "room.media", "from": self.connection_id, "audio": message.audio, "video": message.video})
        elif self.connections.get(message.to) not in (None, self.user_id):
            await self._relay(self.channel_layer.send, message.to, {
                "type": "room.signal", "from": self.connection_id, "to": message.to,
                "data": message.model_dump(exclude={"to"})})
        # else: a connection that has left (or one's own): dropped, as the network would

    async def _relay(self, send, to, event):
        """A full inbox on the layer drops the message (WebRTC repeats what matters), never the socket."""
        try:
            await send(to, event)
        except ChannelFull:
            log.warning("room %s: the channel layer is full; a %s was dropped", self.session_id, event["type"])

    def _parse(self, text_data, bytes_data):
        if text_data is None:
            raise Closing(4400, "malformed", "Messages must be JSON text.")
        if len(text_data) > MAX_MESSAGE_BYTES or len(text_data.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise Closing(1009, "too_large", f"A message may be at most {MAX_MESSAGE_BYTES // 1024} KB.")
        if not self.bucket.take():
            raise Closing(4429, "rate_limited", "Too many messages.")
        try:
            return INCOMING.validate_json(text_data)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in error["loc"]) or "message"
            raise Closing(4400, "malformed", f"Malformed message ({where}: {error['msg']}).") from None

    # --- from the group --------------------------------------------------------------------------

    async def room_signal(self, event):
        if self.admitted and event["to"] == self.connection_id:
            await self.send_json({**event["data"], "from": event["from"]})

    async def room_media(self, event):
        if self.admitted and event["from"] != self.connection_id:
            await self.send_json({"type": "media", "from": event["from"], "audio": event["audio"],
                                  "video": event["video"]})

    async def room_presence(self, event):
        if self.admitted:
            self.connections = {conn: int(user) for conn, user in event["connections"].items()}
            await self.send_json({"type": "state", **self._view()})

    async def room_session(self, event):
        if self.admitted:
            await self._load()
            await self.send_json({"type": "state", **self._view()})

    async def room_superseded(self, event):
        if self.admitted and not self.watching and event["user_id"] == self.user_id and event["keep"] != self.connection_id:
            await self._close(Closing(4001, "superseded", "You joined this session in another tab or window."))

    # --- helpers ---------------------------------------------------------------------------------

    async def _close(self, closing: Closing):
        await self._leave()
        frame = {"type": "error", "code": closing.reason, "detail": closing.detail}
        if closing.retry_after is not None:
            frame["retry_after"] = closing.retry_after  # seconds: the page waits that long before trying again
        await self.send_json(frame)
        await self.close(code=closing.code)

    async def _presence(self, mark):
        """A heartbeat is one Redis round trip in a pool thread (the database only when someone
        joins or leaves), so thousands of sockets never queue behind one thread."""
        change = await sync_to_async(_in_pool_thread, thread_sensitive=False)(
            mark, self.session_id, self.user_id, connection_id=self.connection_id)
        self.connections = change.after
        return change

    async def _read_presence(self):
        """A watching socket reads who is in the room (the provider's presence) without writing."""
        self.connections = await sync_to_async(_in_pool_thread, thread_sensitive=False)(
            presence.connections, self.session_id)

    async def _load(self):
        self.data = await database_sync_to_async(services.room_data)(self.session_id)
        self.loaded_at = time.monotonic()

    def _view(self) -> dict:
        return services.room_view(self.data, self.user_id, self.connections)
