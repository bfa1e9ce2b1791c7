"""A fake PlugNmeet server on 127.0.0.1 that checks what the real one checks.

Authentication is mynaparrot/plugNmeet-server pkg/controllers/auth.go (HandleAuthHeaderCheck),
statement by statement: API-KEY missing (401 MISSING_REQUIRED_PARAMETER) or not the key (401
INVALID_API_KEY), HASH-SIGNATURE missing (401) or not hex(HMAC-SHA256(secret, raw body)) compared
in constant time (401 INVALID_TOKEN_OR_SIGNATURE). Bodies are read like parseAndValidateRequest
(protojson, unknown fields discarded, then the protovalidate rules of the fields used here: room_id
^[a-zA-Z0-9-_]+$, a room title, user_info.name, record_id). Answers are protojson with
EmitUnpopulated and proto names (plugnmeet-protocol utils/common.go). getJoinToken refuses a room
that is not active (pkg/controllers/user.go) and, unless the room's features auto-generate user ids,
a user_info.user_id that is empty or not ^[a-zA-Z0-9-_]+$ (pkg/models/user_join.go GetPNMJoinToken,
step 7; the controller answers its error as INTERNAL_SERVER_ERROR); getActiveRoomInfo lists the room's participants
(pkg/models/room_info.go); recordings download through /download/recording/<token> with HTTP Range,
as fiber's SendFile serves them.

Webhooks are signed as plugnmeet-protocol webhook/notifier.go signs them (`webhook_headers`).

The client: GET /?access_token=<join token> is a minimal stand-in for plugNmeet's web client (what
the room page frames). Opening it puts the token's user in the room (a participant with a sid, as
getActiveRoomInfo lists them) and sends the room's webhook_url a signed participant_joined, as the
real server does; the page's pagehide beacon (POST /client/leave) takes them out again with a
participant_left. `webhooks` keeps (event, HTTP status or the error) of every delivery.

    with FakePlugNmeet() as fake:
        fake.add_recording("rec-1", room_id, data=b"...")
        fake.queue("/auth/room/create", Reply(500, b"oops"), "hang")
        fake.cut_next_download_after = 1000   # the next download stops after 1000 bytes
"""

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from .fakeserver import Download, FakeServer, Reply, Request

ROOM_ID = re.compile(r"^[a-zA-Z0-9-_]+$")
USER_ID = re.compile(r"^[a-zA-Z0-9-_]+$")  # pkg/models/user_join.go validUserIDRegex


def common(status: bool, msg: str, code: str, http: int = 200) -> Reply:
    return Reply(http, json.dumps({"status": status, "msg": msg, "status_code": code}).encode())


def answer(**fields) -> Reply:
    return Reply(200, json.dumps({"status": True, "msg": "success", "status_code": "SUCCESS", **fields}).encode())


class Invalid(Exception):
    pass


@dataclass
class FakeRoom:
    room_id: str
    sid: str
    title: str
    metadata: dict
    active: bool = True
    participants: dict = field(default_factory=dict)  # sid -> {"identity", "name", "is_admin"}


@dataclass
class FakeRecording:
    record_id: str
    room_id: str
    room_sid: str
    data: bytes
    creation_time: int = field(default_factory=lambda: int(time.time()))


class FakePlugNmeet(FakeServer):
    name = "fake-plugnmeet"

    def __init__(self, *, api_key: str = "plugnmeet-test", secret: str | None = None):
        super().__init__()
        self.api_key = api_key
        self.secret = secret or secrets.token_urlsafe(27)
        self.rooms: dict[str, FakeRoom] = {}
        self.join_tokens: dict[str, dict] = {}
        self.recordings: dict[str, FakeRecording] = {}
        self.download_tokens: dict[str, str] = {}
        self.ids = itertools.count(1)
        self.webhooks: list[tuple[str, int | str]] = []

    # --- scripting -------------------------------------------------------------------------------

    def add_recording(self, record_id: str, room_id: str, *, data: bytes) -> FakeRecording:
        room = self.rooms.get(room_id)
        rec = FakeRecording(record_id, room_id, room.sid if room else f"RM_{next(self.ids)}", data)
        self.recordings[record_id] = rec
        return rec

    def webhook_headers(self, body: bytes, *, now: float | None = None, valid_for: int = 300,
                        api_key: str | None = None, secret: str | None = None) -> dict:
        """The headers notifier.go sends with a webhook body: a livekit access token (HS256, iss =
        API key, nbf/iat = now, exp = now + 5 min, sha256 = base64(SHA-256(body))) in both
        Authorization and Hash-Token."""
        now = int(now if now is not None else time.time())
        claims = {"iss": api_key or self.api_key, "nbf": now, "iat": now, "exp": now + valid_for,
                  "sha256": base64.b64encode(hashlib.sha256(body).digest()).decode()}
        token = jwt.encode(claims, secret or self.secret, algorithm="HS256")
        return {"Authorization": token, "Hash-Token": token, "Content-Type": "application/json"}

    def event(self, name: str, room_id: str, **extra) -> bytes:
        """A CommonNotifyEvent as protojson (proto names, unpopulated fields left out)."""
        room = self.rooms.get(room_id)
        body = {"event": name, "room": {"room_id": room_id, "sid": room.sid if room else "RM_unknown"},
                "id": str(uuid.uuid4()), "created_at": int(time.time()), **extra}
        return json.dumps(body).encode()

    # --- the server ------------------------------------------------------------------------------

    def send_webhook(self, name: str, room: FakeRoom, **extra) -> None:
        """POST a signed event to the room's webhook_url (notifier.go), noting what came back."""
        url = room.metadata.get("webhook_url")
        if not url:
            return
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):  # a test never reaches out
            self.webhooks.append((name, "not on loopback"))
            return
        body = self.event(name, room.room_id, **extra)
        try:
            with httpx.Client(timeout=10) as client:
                answer = client.post(url, content=body, headers=self.webhook_headers(body))
            self.webhooks.append((name, answer.status_code))
        except httpx.HTTPError as exc:
            self.webhooks.append((name, type(exc).__name__))

    # --- the server ------------------------------------------------------------------------------

    def answer(self, request: Request):
        if request.method == "GET" and request.path.startswith("/download/recording/"):
            return self.download(request.path.removeprefix("/download/recording/"))
        if request.method == "GET" and request.path == "/":
            return self.client_page(parse_qs(request.query).get("access_token", [""])[0])
        if request.method == "POST" and request.path == "/client/leave":
            return self.client_leave(parse_qs(request.query).get("sid", [""])[0])
        if request.method != "POST" or not request.path.startswith("/auth/"):
            return Reply(404, b"not found", "text/plain")
        refused = self.check_auth(request)
        if refused is not None:
            return refused
        route = {"/auth/room/create": self.create, "/auth/room/getJoinToken": self.join_token,
                 "/auth/room/isRoomActive": self.is_active, "/auth/room/getActiveRoomInfo": self.active_room_info,
                 "/auth/room/endRoom": self.end,
                 "/auth/recording/fetch": self.fetch_recordings,
                 "/auth/recording/getDownloadToken": self.download_token}.get(request.path)
        if route is None:
            return Reply(404, b"not found", "text/plain")
        try:
            body = json.loads(request.body)
            if not isinstance(body, dict):
                raise Invalid("proto: syntax error: unexpected token")
            return route(body)
        except (ValueError, Invalid) as exc:
            return common(False, str(exc), "INVALID_PARAMETERS")

    def check_auth(self, request: Request) -> Reply | None:
        api_key = request.headers.get("api-key", "")
        signature = request.headers.get("hash-signature", "")
        if not api_key:
            return common(False, "Missing API-KEY header.", "MISSING_REQUIRED_PARAMETER", 401)
        if api_key != self.api_key:
            return common(False, "Invalid API key provided.", "INVALID_API_KEY", 401)
        if not signature:
            return common(False, "Missing HASH-SIGNATURE header.", "MISSING_REQUIRED_PARAMETER", 401)
        expected = hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return common(False, "Failed to verify provided authentication details.", "INVALID_TOKEN_OR_SIGNATURE",
                          401)
        return None

    def create(self, body: dict) -> Reply:
        room_id = _room_id(body)
        metadata = body.get("metadata")
        if not isinstance(metadata, dict) or not metadata.get("room_title"):
            raise Invalid("validation error: metadata.room_title: value is required")
        if not isinstance(metadata.get("room_features"), dict):
            raise Invalid("validation error: metadata.room_features: value is required")
        room = self.rooms.get(room_id)
        if room is None or not room.active:  # an active room is answered as it is (handleExistingRoom)
            room = self.rooms[room_id] = FakeRoom(room_id, f"RM_{next(self.ids)}", metadata["room_title"], metadata)
        return answer(room_info={"room_title": room.title, "room_id": room.room_id, "sid": room.sid,
                                 "is_running": 1, "webhook_url": room.metadata.get("webhook_url", "")})

    def join_token(self, body: dict) -> Reply:
        room_id = _room_id(body)
        user = body.get("user_info")
        if not isinstance(user, dict) or not user.get("name"):
            raise Invalid("validation error: user_info.name: value is required")
        room = self.rooms.get(room_id)
        if room is None or not room.active:
            return common(False, "room is not active", "ROOM_NOT_FOUND")
        if not room.metadata["room_features"].get("auto_gen_user_id") and not USER_ID.fullmatch(
                str(user.get("user_id") or "")):
            return common(False, "user_id should only contain ASCII letters (a-z A-Z), digits (0-9) or -_",
                          "INTERNAL_SERVER_ERROR")
        token = secrets.token_urlsafe(24)
        self.join_tokens[token] = {"room_id": room_id, **user}
        return answer(token=token)

    def is_active(self, body: dict) -> Reply:
        room = self.rooms.get(_room_id(body))
        if room is None:
            return Reply(200, json.dumps({"status": True, "msg": "room not found", "status_code": "ROOM_NOT_FOUND",
                                          "is_active": False}).encode())
        if not room.active:
            return Reply(200, json.dumps({"status": True, "msg": "room is not active",
                                          "status_code": "ROOM_NOT_ACTIVE", "is_active": False}).encode())
        return Reply(200, json.dumps({"status": True, "msg": "room is active", "status_code": "SUCCESS",
                                      "is_active": True}).encode())

    def active_room_info(self, body: dict) -> Reply:
        room = self.rooms.get(_room_id(body))
        if room is None:
            return Reply(200, json.dumps({"status": False, "msg": "room not found in active state",
                                          "status_code": "ROOM_NOT_FOUND", "room": None}).encode())
        if not room.active:
            return Reply(200, json.dumps({"status": False, "msg": "room is not active",
                                          "status_code": "ROOM_NOT_ACTIVE", "room": None}).encode())
        people = [{"sid": sid, "identity": p["identity"], "name": p["name"], "state": "ACTIVE",
                   "metadata": json.dumps({"is_admin": p["is_admin"]}), "joined_at": p["joined_at"]}
                  for sid, p in room.participants.items()]
        return answer(room={"room_info": {"room_title": room.title, "room_id": room.room_id, "sid": room.sid,
                                          "joined_participants": len(people), "is_running": 1},
                            "participants_info": people})

    def end(self, body: dict) -> Reply:
        room = self.rooms.get(_room_id(body))
        if room is None or not room.active:
            return common(False, "room not active", "ROOM_NOT_ACTIVE")
        room.active = False
        room.participants.clear()
        return common(True, "success", "SUCCESS")

    def client_page(self, token: str) -> Reply:
        """The stand-in web client: the token's user enters the room."""
        grant = self.join_tokens.get(token)
        room = self.rooms.get(grant["room_id"]) if grant else None
        if room is None or not room.active:
            return Reply(401, b"<!doctype html><title>plugNmeet</title><p>Invalid or expired token.</p>",
                         "text/html; charset=utf-8")
        sid = f"PA_{next(self.ids)}"
        room.participants[sid] = {"identity": grant.get("user_id", ""), "name": grant["name"],
                                  "is_admin": bool(grant.get("is_admin")), "joined_at": int(time.time())}
        self.send_webhook("participant_joined", room, participant={
            "sid": sid, "identity": grant.get("user_id", ""), "name": grant["name"], "state": "ACTIVE"})
        role = "admin" if grant.get("is_admin") else "participant"
        page = (f"<!doctype html><html lang=en><title>plugNmeet</title><main><h1>plugNmeet test client</h1>"
                f"<p id=who>{escape(grant['name'])} ({role}) in {escape(room.title)}</p></main><script>"
                f"addEventListener('pagehide', () => navigator.sendBeacon('/client/leave?sid={sid}'));</script>")
        return Reply(200, page.encode(), "text/html; charset=utf-8")

    def client_leave(self, sid: str) -> Reply:
        for room in self.rooms.values():
            person = room.participants.pop(sid, None)
            if person is not None:
                self.send_webhook("participant_left", room, participant={
                    "sid": sid, "identity": person["identity"], "name": person["name"], "state": "DISCONNECTED"})
        return Reply(204, b"", "text/plain")

    def fetch_recordings(self, body: dict) -> Reply:
        room_ids = body.get("room_ids") or []
        found = [r for r in self.recordings.values() if not room_ids or r.room_id in room_ids]
        if not found:
            return common(False, "no recording found", "NOT_FOUND")
        return answer(result={"total_recordings": len(found), "from": 0, "limit": 20, "order_by": "DESC",
                              "recordings_list": [{
                                  "record_id": r.record_id, "room_id": r.room_id, "room_sid": r.room_sid,
                                  "file_path": f"node_01/{r.room_sid}/{r.record_id}.mp4",
                                  "file_size": float(len(r.data)), "creation_time": r.creation_time,
                                  "room_creation_time": r.creation_time} for r in found]})

    def download_token(self, body: dict) -> Reply:
        record_id = body.get("record_id")
        if not record_id:
            raise Invalid("validation error: record_id: value is required")
        if record_id not in self.recordings:
            return common(False, "recording not found", "NOT_FOUND")
        token = secrets.token_urlsafe(24)
        self.download_tokens[token] = record_id
        return answer(token=token)

    def download(self, token: str):
        record_id = self.download_tokens.get(token)
        if record_id is None or record_id not in self.recordings:
            return Reply(401, b"invalid token", "text/plain")
        return Download(self.recordings[record_id].data)


def _room_id(body: dict) -> str:
    room_id = body.get("room_id")
    if not isinstance(room_id, str) or not ROOM_ID.match(room_id):
        raise Invalid("validation error: room_id: room_id should only contain letters (a-z A-Z), digits (0-9) or -_")
    return room_id
