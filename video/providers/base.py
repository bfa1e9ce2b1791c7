"""The one interface every video provider implements, and the HTTP plumbing the remote ones share.

A provider creates a room for a session, hands each participant a way in with the right role (the
tutor hosts, the student is a guest), ends the room, says whether it is running and who is in it,
lists its recordings and gives a download for one. Every failure is a video.errors error: the room
page shows "Video service unavailable. Try again." and never a 500."""

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import httpx
from django.conf import settings

from ..errors import ProviderDown

log = logging.getLogger("video")


class Role(StrEnum):
    HOST = "host"  # the tutor: moderator / admin at the provider
    GUEST = "guest"  # the student: viewer / participant


@dataclass(frozen=True)
class RoomSpec:
    room_id: str
    title: str
    record: bool
    duration_minutes: int
    webhook_url: str  # PlugNmeet's per-room webhook
    recording_ready_url: str  # BBB's meta_bbb-recording-ready-url


@dataclass(frozen=True)
class Room:
    room_id: str
    create_time: str = ""  # BBB: the meeting's createTime; PlugNmeet: the room's sid


@dataclass(frozen=True)
class JoinInfo:
    """How a participant enters. kind "builtin": the room page's own P2P call; kind "url": open
    `url` (in a frame or a new tab); `token` is the same credential for a provider SDK. Both are
    secrets of that participant: never log or store them."""

    provider: str
    kind: str
    url: str = ""
    token: str = ""


@dataclass(frozen=True)
class RoomStatus:
    active: bool
    participants: tuple[str, ...] = ()  # the provider's user ids of who is in the room now
    # (user id, the provider's connection id) of each connection in the room now: what the room's
    # presence is fed with (video.attendance); a provider without connection ids repeats the user id
    connections: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SourceRecording:
    recording_id: str
    room_id: str
    size: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Download:
    """Where a recording's bytes are; GET with a Range header resumes."""

    url: str
    headers: dict = field(default_factory=dict)


class VideoProvider(ABC):
    name: str

    @abstractmethod
    def create_room(self, spec: RoomSpec) -> Room: ...

    @abstractmethod
    def join(self, room: Room, *, user_id: str, name: str, role: Role) -> JoinInfo: ...

    @abstractmethod
    def end_room(self, room_id: str) -> None: ...

    @abstractmethod
    def room_status(self, room_id: str) -> RoomStatus: ...

    @abstractmethod
    def recordings(self, room_id: str) -> list[SourceRecording]: ...

    @abstractmethod
    def download(self, recording: SourceRecording) -> Download: ...


def http_client(**kwargs) -> httpx.Client:
    """One client per provider call sequence; every request gives up after VIDEO_HTTP_TIMEOUT_SECONDS."""
    return httpx.Client(timeout=httpx.Timeout(settings.VIDEO_HTTP_TIMEOUT_SECONDS), **kwargs)


@contextmanager
def transport_errors(provider: str, what: str) -> Iterator[None]:
    """A provider that does not answer (refused, reset, timed out) is down, not a 500."""
    try:
        yield
    except httpx.TimeoutException as exc:
        log.warning("%s %s timed out: %r", provider, what, exc)
        raise ProviderDown(f"{provider} {what}: timed out") from exc
    except httpx.HTTPError as exc:
        log.warning("%s %s failed: %r", provider, what, exc)
        raise ProviderDown(f"{provider} {what}: {type(exc).__name__}") from exc
