"""PlugNmeet, the provider spec 002 selects: its REST API (POST JSON under /auth) and its webhooks.

Signing, as the real server checks it (read from the sources, not guessed):

- Requests. mynaparrot/plugNmeet-server `pkg/controllers/auth.go` (HandleAuthHeaderCheck, the
  middleware of every /auth route in `pkg/app/router.go`): header API-KEY must equal the server's
  key (else 401 "Invalid API key provided.", INVALID_API_KEY); header HASH-SIGNATURE must equal
  hex(HMAC-SHA256(secret, raw request body)), compared in constant time (else 401 "Failed to verify
  provided authentication details.", INVALID_TOKEN_OR_SIGNATURE). The official SDKs sign the exact
  string they POST: mynaparrot/plugNmeet-sdk-js `src/ApiTransport.ts` (prepareHeader) and
  mynaparrot/plugNmeet-sdk-php `src/PlugNmeet.php` (sendRequest). So the body is serialised once
  and those bytes are both signed and sent.
- Webhooks. mynaparrot/plugnmeet-protocol `webhook/notifier.go` (sendWebhookRequest) POSTs the event
  as protojson (snake_case names) with a livekit access token (livekit/protocol `auth/accesstoken.go`
  ToJWT: HS256 with the API secret, iss = API key, nbf/iat = now, exp = now + 5 minutes, claim
  sha256 = base64(SHA-256(body))) in both Authorization and Hash-Token. `webhook/verify.go`
  (VerifyRequest) is the server's own check: HS256 only, issuer = API key, time valid (go-jose's
  default leeway of one minute), then the body's hash against the claim. `verify_webhook` below
  does exactly that; the events are `participant_joined`, `participant_left`, `room_started`,
  `room_finished` (livekit's, forwarded by pkg/models/webhook.go) and `recording_proceeded`
  (RecordingTasks_RECORDING_PROCEEDED lower-cased, pkg/models/recording.go).

Responses are protojson with status, msg and status_code (the StatusCode enum's name), from
plugnmeet-protocol `utils/common.go` (SendCommonProtoJsonResponse, SendProtoJsonResponse)."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import jwt

from tutoring.input import parse_json

from ..errors import CredentialsRejected, NotAtProvider, ProviderDown, ProviderRefused
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

# go-jose's jwt.DefaultLeeway, which webhook/verify.go's Claims.Validate applies
WEBHOOK_LEEWAY_SECONDS = 60
CREDENTIAL_CODES = {"INVALID_API_KEY", "INVALID_TOKEN_OR_SIGNATURE"}
NOT_FOUND_CODES = {"NOT_FOUND", "ROOM_NOT_FOUND", "ROOM_NOT_ACTIVE"}


class WebhookRejected(Exception):
    """A webhook whose signature, issuer, time or body hash does not check out."""


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def verify_webhook(body: bytes, token: str, *, api_key: str, secret: str, now: datetime | None = None) -> dict:
    """The event of a webhook delivery whose token is good (webhook/verify.go), else WebhookRejected."""
    if not token:
        raise WebhookRejected("no Authorization or Hash-Token header")
    moment = (now or datetime.now(UTC)).timestamp()
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=api_key, leeway=WEBHOOK_LEEWAY_SECONDS,
                            options={"require": ["exp", "iss"], "verify_iat": False, "verify_exp": False,
                                     "verify_nbf": False})
    except jwt.InvalidTokenError as exc:
        raise WebhookRejected(f"token: {exc}") from None
    # times checked against the injected clock (PyJWT would read the wall clock)
    if claims["exp"] + WEBHOOK_LEEWAY_SECONDS < moment:
        raise WebhookRejected("token: expired")
    for name in ("nbf", "iat"):
        if name in claims and claims[name] - WEBHOOK_LEEWAY_SECONDS > moment:
            raise WebhookRejected(f"token: {name} is in the future")
    if not hmac.compare_digest(str(claims.get("sha256", "")), body_hash(body)):
        raise WebhookRejected("the body does not match the token's sha256")
    try:
        event = parse_json(body)  # also JSON nested too deep
    except ValueError:
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookRejected("the body is not a JSON object")
    return event


class PlugNmeet(VideoProvider):
    name = "plugnmeet"

    def __init__(self, *, url: str, api_key: str, secret: str):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.secret = secret

    # --- the calls ----------------------------------------------------------------------------

    def create_room(self, spec: RoomSpec) -> Room:
        """Creating a room that is already active returns it (pkg/models/room_create.go
        handleExistingRoom), so every join may call this first."""
        features = {
            "allow_webcams": True, "mute_on_start": False, "allow_screen_share": True,
            "allow_view_other_webcams": True, "allow_view_other_users_list": True,
            "room_duration": spec.duration_minutes,
            "recording_features": {"is_allow": spec.record, "is_allow_cloud": spec.record, "is_allow_local": False,
                                   "enable_auto_cloud_recording": spec.record},
            "chat_features": {"is_allow": True, "is_allow_file_upload": False},
        }
        metadata = {"room_title": spec.title, "room_features": features}
        if spec.webhook_url:
            metadata["webhook_url"] = spec.webhook_url
        answer = self._call("/room/create", {"room_id": spec.room_id, "metadata": metadata})
        info = answer.get("room_info") or {}
        return Room(room_id=spec.room_id, create_time=str(info.get("sid", "")))

    def join(self, room: Room, *, user_id: str, name: str, role: Role) -> JoinInfo:
        answer = self._call("/room/getJoinToken", {"room_id": room.room_id, "user_info": {
            "name": name, "user_id": user_id, "is_admin": role == Role.HOST,
            "user_metadata": {"is_admin": role == Role.HOST}}})
        token = answer.get("token") or ""
        if not token:
            raise ProviderDown("plugnmeet getJoinToken: no token in a successful answer")
        # the client reads the token from ?access_token= (plugNmeet-docs docs/api/room/join.md)
        return JoinInfo(provider=self.name, kind="url", url=f"{self.url}/?{urlencode({'access_token': token})}",
                        token=token)

    def end_room(self, room_id: str) -> None:
        try:
            self._call("/room/endRoom", {"room_id": room_id})
        except NotAtProvider:
            pass  # already ended: what was asked is done

    def room_status(self, room_id: str) -> RoomStatus:
        """isRoomActive, then for an active room getActiveRoomInfo for who is in it (its
        participants_info: livekit ParticipantInfo, sid and identity; pkg/models/room_info.go)."""
        answer = self._call("/room/isRoomActive", {"room_id": room_id}, not_found_is_answer=True)
        if not answer.get("is_active"):
            return RoomStatus(active=False)
        info = self._call("/room/getActiveRoomInfo", {"room_id": room_id}, not_found_is_answer=True)
        room = info.get("room") if isinstance(info.get("room"), dict) else None
        if room is None:  # ended between the two calls
            return RoomStatus(active=False)
        connections = tuple(
            (str(p.get("identity") or ""), str(p.get("sid") or ""))
            for p in room.get("participants_info") or [] if isinstance(p, dict)
            and p.get("identity") and p.get("sid") and p.get("state") != "DISCONNECTED")
        return RoomStatus(active=True, participants=tuple(dict.fromkeys(u for u, _ in connections)),
                          connections=connections)

    def recordings(self, room_id: str) -> list[SourceRecording]:
        try:
            answer = self._call("/recording/fetch", {"room_ids": [room_id], "from": 0, "limit": 100,
                                                     "order_by": "DESC"})
        except NotAtProvider:  # "no recording found"
            return []
        found = []
        for item in (answer.get("result") or {}).get("recordings_list") or []:
            created = item.get("creation_time")
            found.append(SourceRecording(
                recording_id=str(item["record_id"]), room_id=str(item.get("room_id", room_id)),
                size=int(item["file_size"]) if item.get("file_size") else None,
                created_at=datetime.fromtimestamp(int(created), UTC) if created else None))
        return found

    def download(self, recording: SourceRecording) -> Download:
        """A fresh, short-lived download link (a token per attempt: it expires in minutes)."""
        answer = self._call("/recording/getDownloadToken", {"record_id": recording.recording_id})
        token = answer.get("token") or ""
        if not token:
            raise ProviderDown("plugnmeet getDownloadToken: no token in a successful answer")
        return Download(url=f"{self.url}/download/recording/{token}")

    # --- the wire -----------------------------------------------------------------------------

    def _call(self, path: str, payload: dict, *, not_found_is_answer: bool = False) -> dict:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "API-KEY": self.api_key,
                   "HASH-SIGNATURE": sign(self.secret, body)}
        with transport_errors(self.name, path), http_client() as client:
            response = client.post(f"{self.url}/auth{path}", content=body, headers=headers)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        code = answer.get("status_code", "") if isinstance(answer, dict) else ""
        message = answer.get("msg", "") if isinstance(answer, dict) else response.text[:200]
        if response.status_code == 401 or code in CREDENTIAL_CODES:
            raise CredentialsRejected(f"plugnmeet {path}: {response.status_code} {message}")
        if response.status_code >= 500 or not isinstance(answer, dict) or response.status_code != 200:
            raise ProviderDown(f"plugnmeet {path}: HTTP {response.status_code}")
        if answer.get("status") is True or (not_found_is_answer and code in NOT_FOUND_CODES):
            return answer
        log.info("plugnmeet %s refused: %s %s", path, code, message)
        if code in NOT_FOUND_CODES or "not found" in message.lower():
            raise NotAtProvider(f"plugnmeet {path}: {code} {message}")
        if code == "INTERNAL_SERVER_ERROR":
            raise ProviderDown(f"plugnmeet {path}: {message}")
        raise ProviderRefused(f"plugnmeet {path}: {code} {message}")
