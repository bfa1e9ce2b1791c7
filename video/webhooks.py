"""What providers tell us, verified before anything is done with it (the signature schemes are in
video/providers/plugnmeet.py and bbb.py, with the upstream files they follow).

Every verified delivery is stored once as a ProviderEvent ((provider, key) is unique): a replayed
or re-sent delivery is answered 200 and changes nothing. A join or a leave is kept with its
session, user, the provider's connection id and time, and feeds the room's presence
(video.attendance: the same presence the built-in room's sockets feed); a room that finished takes
everyone out of it. A recording that is ready is registered and copied
(video.services.register_recording), once."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from sessions.models import VideoProvider
from tutoring.input import from_epoch, parse_int

from . import attendance, services
from .models import ProviderEvent, ProviderEventKind, VideoRoom
from .providers import bbb, plugnmeet

log = logging.getLogger("video")

PLUGNMEET_KINDS = {
    "participant_joined": ProviderEventKind.JOINED,
    "participant_left": ProviderEventKind.LEFT,
    "room_started": ProviderEventKind.ROOM_STARTED,
    "room_finished": ProviderEventKind.ROOM_FINISHED,
    "session_ended": ProviderEventKind.ROOM_FINISHED,
    "recording_proceeded": ProviderEventKind.RECORDING_READY,
}


@dataclass(frozen=True)
class Outcome:
    status: int
    text: str


ACCEPTED = Outcome(200, "ok")
DUPLICATE = Outcome(200, "duplicate")
IGNORED = Outcome(200, "ignored")


# --- PlugNmeet ------------------------------------------------------------------------------------


def plugnmeet_delivery(body: bytes, headers, *, now: datetime) -> Outcome:
    """One POST from PlugNmeet's webhook notifier."""
    conf = settings.PLUGNMEET
    if not conf:
        return Outcome(404, "PlugNmeet is not configured")
    token = headers.get("Authorization") or headers.get("Hash-Token") or ""
    try:
        event = plugnmeet.verify_webhook(body, token, api_key=conf["api_key"], secret=conf["secret"], now=now)
    except plugnmeet.WebhookRejected as exc:
        log.warning("plugnmeet webhook refused: %s", exc)
        return Outcome(403, "forbidden")  # what pkg/controllers/webhook.go answers a bad token
    name = str(event.get("event") or "").lower()
    room = event.get("room") if isinstance(event.get("room"), dict) else {}
    room_id = str(room.get("room_id") or "")
    session = services.session_for_room(VideoProvider.PLUGNMEET, room_id) if room_id else None
    participant = event.get("participant") if isinstance(event.get("participant"), dict) else {}
    recording = event.get("recording_info") if isinstance(event.get("recording_info"), dict) else {}
    kind = PLUGNMEET_KINDS.get(name, ProviderEventKind.OTHER)
    key = str(event.get("id") or "") or "sha256:" + hashlib.sha256(body).hexdigest()
    saved = _save(VideoProvider.PLUGNMEET, key=key, kind=kind, name=name, session=session,
                  user_id=attendance.participant(session, participant.get("identity")) if session else None,
                  connection_id=str(participant.get("sid") or ""), occurred_at=_when(event.get("created_at"), now),
                  received_at=now, data={"room_id": room_id, "room_sid": room.get("sid"),
                                         "record_id": recording.get("record_id")})
    if saved is None:
        return DUPLICATE
    if session is None:
        return IGNORED
    return _act(saved, recording_id=str(recording.get("record_id") or ""), room_id=room_id,
                size=recording.get("file_size"))


# --- BigBlueButton ---------------------------------------------------------------------------------


def bbb_recording_ready(signed_parameters: str, *, now: datetime) -> Outcome:
    """One POST from BBB's post_publish_recording_ready_callback.rb."""
    conf = settings.BBB
    if not conf:
        return Outcome(404, "BigBlueButton is not configured")
    try:
        meeting_id, record_id = bbb.verify_recording_ready(signed_parameters, secret=conf["secret"])
    except bbb.CallbackRejected as exc:
        log.warning("bbb recording-ready callback refused: %s", exc)
        return Outcome(401, "unauthorized")
    session = services.session_for_room(VideoProvider.BBB, meeting_id)
    if session is None:
        return Outcome(404, "unknown meeting")  # the script logs a 404 and ignores it
    saved = _save(VideoProvider.BBB, key=f"recording_ready:{record_id}", kind=ProviderEventKind.RECORDING_READY,
                  name="recording_ready", session=session, user_id=None, connection_id="", occurred_at=now,
                  received_at=now, data={"meeting_id": meeting_id, "record_id": record_id})
    if saved is None:
        return DUPLICATE
    return _act(saved, recording_id=record_id, room_id=meeting_id, size=None)


# --- shared -------------------------------------------------------------------------------------------


def _save(provider: str, **fields) -> ProviderEvent | None:
    """The stored event, or None when this delivery was seen before."""
    try:
        with transaction.atomic():
            return ProviderEvent.objects.create(provider=provider, **fields)
    except IntegrityError:
        log.info("%s webhook %s seen before: nothing done", provider, fields["key"])
        return None


def _act(event: ProviderEvent, *, recording_id: str, room_id: str, size) -> Outcome:
    if event.kind == ProviderEventKind.RECORDING_READY and recording_id:
        services.register_recording(provider=event.provider, room_id=room_id, recording_id=recording_id,
                                    session=event.session, size=int(size) if isinstance(size, int | float) and size else None)
    elif event.kind == ProviderEventKind.ROOM_FINISHED:
        VideoRoom.objects.filter(session=event.session, ended_at__isnull=True).update(ended_at=event.occurred_at)
        attendance.on_event(event)
    elif event.kind in (ProviderEventKind.JOINED, ProviderEventKind.LEFT) and event.user_id:
        attendance.on_event(event)
    return ACCEPTED


def _when(created_at, now: datetime) -> datetime:
    return from_epoch(parse_int(created_at) if isinstance(created_at, int | str) else None) or now
