"""BigBlueButton, the alternative provider of spec 002: its API (GET with a checksum, XML answers)
and its recording-ready callback.

Signing, as the real server checks it (read from the sources, not guessed):

- Checksum. bigbluebutton/bigbluebutton `bbb-common-web/.../api/model/shared/GetChecksum.java`
  takes the raw query string and removes "&checksum=<value>" (or "checksum=<value>&", or
  "checksum=<value>"); `.../api/model/validator/ChecksumValidator.java` and
  `.../api/ParamsProcessorUtil.java` (isChecksumSame) compute hex(SHA(callName + that query string
  + shared secret)) with SHA-1 for a 40-character checksum and SHA-256 for 64 (SHA-384/512 by
  length where `supportedChecksumAlgorithms` allows them), and compare. So the query string is
  built once, and exactly those characters are hashed and sent. The API documentation's create
  example (checksum 1fcbb0c4...) is a test of this module.
- createTime. bigbluebutton-web `ApiController.groovy` (join) refuses a join whose createTime is
  not the running meeting's ("mismatchCreateTimeParam"): every join link carries the createTime
  of the meeting it was made for, so an old link cannot enter a later meeting of the same room.
- Recording ready. `record-and-playback/core/scripts/post_publish/post_publish_recording_ready_callback.rb`
  POSTs the form field signed_parameters = JWT.encode({meeting_id: <external meeting id>,
  record_id: <record id>}, securitySalt), i.e. HS256 with the shared secret and no other claim, to
  the meeting's meta_bbb-recording-ready-url. `verify_recording_ready` checks exactly that.

Recordings are copied from the "video" playback format (one file, video-0.m4v beside the format's
URL): the BBB server must have that format enabled (docs/operations.md). Formats are published one
by one and the recording-ready callback may come before the video format: the copy then waits for
it (NotYetAtProvider, retried for video.recordings.PLAYBACK_WAIT)."""

import hashlib
from urllib.parse import urlencode
from xml.etree.ElementTree import Element

import jwt
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from tutoring.input import from_epoch, parse_int

from ..errors import CredentialsRejected, NotAtProvider, NotYetAtProvider, ProviderDown, ProviderRefused
from .base import (
    Download,
    JoinInfo,
    Role,
    Room,
    RoomSpec,
    RoomStatus,
    SourceRecording,
    VideoProvider,
    http_client,
    log,
    transport_errors,
)

RECORDING_FORMAT = "video"
RECORDING_FILE = "video-0.m4v"
ROLES = {Role.HOST: "MODERATOR", Role.GUEST: "VIEWER"}
# getRecordings states of a recording on its way to being published (docs: getRecordings "state")
WAITING_STATES = {"processing", "processed", "published"}


class CallbackRejected(Exception):
    """A recording-ready callback whose signed_parameters do not check out."""


def checksum(call: str, query: str, secret: str, algorithm: str) -> str:
    return hashlib.new(algorithm, (call + query + secret).encode()).hexdigest()


def signed_query(call: str, params: dict, *, secret: str, algorithm: str) -> str:
    query = urlencode(params)
    digest = checksum(call, query, secret, algorithm)
    return f"{query}&checksum={digest}" if query else f"checksum={digest}"


def verify_recording_ready(signed_parameters: str, *, secret: str) -> tuple[str, str]:
    """(meeting_id, record_id) of a callback that BBB signed with the shared secret, else CallbackRejected."""
    if not signed_parameters:
        raise CallbackRejected("no signed_parameters")
    try:
        claims = jwt.decode(signed_parameters, secret, algorithms=["HS256"],
                            options={"verify_aud": False, "verify_iss": False})
    except jwt.InvalidTokenError as exc:
        raise CallbackRejected(f"signed_parameters: {exc}") from None
    meeting_id, record_id = claims.get("meeting_id"), claims.get("record_id")
    if not (isinstance(meeting_id, str) and meeting_id and isinstance(record_id, str) and record_id):
        raise CallbackRejected("signed_parameters without meeting_id and record_id")
    return meeting_id, record_id



def _text(node: Element | None, path: str, default: str = "") -> str:
    found = node.find(path) if node is not None else None
    return (found.text or "").strip() if found is not None and found.text else default


class BigBlueButton(VideoProvider):
    name = "bbb"

    def __init__(self, *, url: str, secret: str, checksum: str = "sha256"):
        self.url = url.rstrip("/")  # ends in /bigbluebutton/api
        self.secret = secret
        self.algorithm = checksum

    def call_url(self, call: str, params: dict) -> str:
        return f"{self.url}/{call}?{signed_query(call, params, secret=self.secret, algorithm=self.algorithm)}"

    # --- the calls ----------------------------------------------------------------------------

    def create_room(self, spec: RoomSpec) -> Room:
        """create on a running meeting answers that meeting (with its createTime), so every join may
        call this first."""
        params = {"name": spec.title, "meetingID": spec.room_id, "record": _bool(spec.record),
                  "autoStartRecording": _bool(spec.record), "allowStartStopRecording": _bool(spec.record),
                  "duration": spec.duration_minutes}
        if spec.recording_ready_url:
            params["meta_bbb-recording-ready-url"] = spec.recording_ready_url
        root = self._call("create", params)
        create_time = _text(root, "createTime")
        if not create_time:
            raise ProviderDown("bbb create: no createTime in a successful answer")
        return Room(room_id=spec.room_id, create_time=create_time)

    def join(self, room: Room, *, user_id: str, name: str, role: Role) -> JoinInfo:
        """A signed link into the meeting; the browser follows it (no call from here)."""
        params = {"fullName": name, "meetingID": room.room_id, "role": ROLES[role], "userID": user_id,
                  "createTime": room.create_time, "redirect": "true"}
        return JoinInfo(provider=self.name, kind="url", url=self.call_url("join", params))

    def end_room(self, room_id: str) -> None:
        try:
            self._call("end", {"meetingID": room_id})
        except NotAtProvider:
            pass  # already over

    def room_status(self, room_id: str) -> RoomStatus:
        try:
            root = self._call("getMeetingInfo", {"meetingID": room_id})
        except NotAtProvider:
            return RoomStatus(active=False)
        present = tuple(_text(a, "userID") for a in root.iterfind("attendees/attendee") if _text(a, "userID"))
        # getMeetingInfo names no connection: each attendee's userID stands for its one connection
        return RoomStatus(active=_text(root, "running") == "true", participants=present,
                          connections=tuple((user, user) for user in dict.fromkeys(present)))

    def recordings(self, room_id: str) -> list[SourceRecording]:
        return [rec for rec, url, _state in self._recordings({"meetingID": room_id}) if url]

    def download(self, recording: SourceRecording) -> Download:
        """The video file of a published recording. One that BBB lists without that file yet is
        NotYetAtProvider, retried: its "video" format is still processing (the recording-ready
        callback comes as soon as the first format is published) or it is not published yet.
        One BBB does not list, or lists as unpublished or deleted by a person, is NotAtProvider."""
        listed = [(url, state) for found, url, state in self._recordings({"recordID": recording.recording_id})
                  if found.recording_id == recording.recording_id]
        for url, _state in listed:
            if url:
                return Download(url=url)
        if any(state in WAITING_STATES for _url, state in listed):
            raise NotYetAtProvider(f"bbb getRecordings: {recording.recording_id} has no published "
                                   f"{RECORDING_FORMAT} playback yet")
        raise NotAtProvider(f"bbb getRecordings: no {RECORDING_FORMAT} playback of {recording.recording_id}")

    def _recordings(self, params: dict) -> list[tuple[SourceRecording, str, str]]:
        """Every recording listed, each with the URL of its video file ("" unless the recording is
        published with a "video" playback format) and its state."""
        root = self._call("getRecordings", params)
        found = []
        for rec in root.iterfind("recordings/recording"):
            state = _text(rec, "state", "published")
            video = next((fmt for fmt in rec.iterfind("playback/format")
                          if _text(fmt, "type") == RECORDING_FORMAT and _text(fmt, "url")), None)
            if state != "published":
                video = None
            size, started = _text(video, "size"), _text(rec, "startTime")
            found.append((SourceRecording(
                recording_id=_text(rec, "recordID"), room_id=_text(rec, "meetingID"),
                size=parse_int(size),
                created_at=from_epoch(millis / 1000 if (millis := parse_int(started)) is not None else None)),
                _text(video, "url").rstrip("/") + "/" + RECORDING_FILE if video is not None else "", state))
        return found

    # --- the wire -----------------------------------------------------------------------------

    def _call(self, call: str, params: dict) -> Element:
        with transport_errors(self.name, call), http_client() as client:
            response = client.get(self.call_url(call, params))
        if response.status_code != 200:
            raise ProviderDown(f"bbb {call}: HTTP {response.status_code}")
        try:
            root = ElementTree.fromstring(response.content)
        except (ElementTree.ParseError, DefusedXmlException):
            raise ProviderDown(f"bbb {call}: the answer is not XML") from None
        if _text(root, "returncode") == "SUCCESS":
            return root
        key, message = _text(root, "messageKey"), _text(root, "message")
        log.info("bbb %s refused: %s %s", call, key, message)
        if key == "checksumError":
            raise CredentialsRejected(f"bbb {call}: {key} {message}")
        if key in {"notFound", "invalidMeetingIdentifier"}:
            raise NotAtProvider(f"bbb {call}: {key} {message}")
        if not key:
            raise ProviderDown(f"bbb {call}: an answer without returncode")
        raise ProviderRefused(f"bbb {call}: {key} {message}")


def _bool(value: bool) -> str:
    return "true" if value else "false"
