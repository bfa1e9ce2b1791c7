"""A small fake of Resend's HTTP API on 127.0.0.1, for the real `resend` SDK to talk to (it reads
RESEND_API_URL / resend.api_url), and Svix's webhook signing for Resend's webhooks.

It checks what Resend checks before answering (https://resend.com/docs/api-reference/errors):
the bearer key (401 missing_api_key, 403 invalid_api_key), JSON bodies, the required fields and
address formats of POST /emails and POST /emails/batch (422 validation_error /
missing_required_field; at most 50 recipients, at most 100 emails a batch; in permissive batch
mode a bad email comes back in `errors` and the others are sent), and the Idempotency-Key as
Resend documents it (https://resend.com/docs/dashboard/emails/idempotency-keys, /api-reference/
errors): 1-256 characters (else 400 invalid_idempotency_key); the same key with the same request
(endpoint and body) within 24 hours answers the first answer again without sending anything; the
same key with another request is a 409 invalid_idempotent_request; the same key while its first
request is still being handled is a 409 concurrent_idempotent_requests; only an accepted request
is remembered (a refused one may be sent again). Errors have Resend's shape
{"statusCode", "name", "message"}; a rate limit answers 429 rate_limit_exceeded with the
ratelimit-* and retry-after headers.

    with FakeResend() as fake:
        settings.MAILERS = fake.mailers()
        fake.queue(server_error(), rate_limited(retry_after=2))   # the next two requests
        ...
        fake.sent       # every email accepted, in order: {"id", "to", "subject", "text", "html", "headers"}
        fake.queue(LOST)  # the next request is handled (sent) but its answer never arrives: the
                          # connection drops, as when a timeout or a network cut loses the response

`svix_headers(secret, body)` signs a webhook body the way Svix does for Resend: HMAC-SHA256 of
"<svix-id>.<svix-timestamp>.<body>" under the base64-decoded key after "whsec_", sent as
"v1,<base64>" in svix-signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import socket
import threading
import time
import uuid
from collections import deque
from typing import Any, NamedTuple

from .loopback import HANG, JSONHandler, LoopbackFake, Reply

EMAILS = "/emails"
LOST = "lost"  # scripted: handle the request, then drop the connection instead of answering
KEY_KEPT_SECONDS = 24 * 3600  # how long Resend remembers an Idempotency-Key
BATCH = "/emails/batch"
# An address, or "Name <address>", as Resend accepts them.
ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
NAMED = re.compile(r"[^<>]*<\s*([^<>\s]+)\s*>")


class Request(NamedTuple):
    path: str
    headers: dict  # lower-cased names
    body: Any


def error(status: int, name: str, message: str, headers: dict | None = None) -> Reply:
    return Reply(json={"statusCode": status, "name": name, "message": message}, status=status,
                 headers=headers or {})


def server_error() -> Reply:
    return error(500, "application_error", "An unexpected error occurred, please try again later.")


def rate_limited(retry_after: int = 1) -> Reply:
    return error(429, "rate_limit_exceeded",
                 "Too many requests. You can only make 2 requests per second. See rate limit response headers "
                 "for more information. Or contact support to increase rate limit.",
                 headers={"ratelimit-limit": "2", "ratelimit-remaining": "0", "ratelimit-reset": str(retry_after),
                          "retry-after": str(retry_after)})


class _Refused(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


def _valid_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    named = NAMED.fullmatch(value.strip())
    return bool(ADDRESS.fullmatch(named.group(1) if named else value.strip()))


def _check_email(email: Any, *, batch: bool) -> None:
    """Resend's checks on one email (422 with its messages)."""
    if not isinstance(email, dict):
        raise _Refused(error(422, "validation_error", "The email must be an object."))
    for name in ("from", "to", "subject"):
        if name not in email or email[name] in ("", None, []):
            raise _Refused(error(422, "missing_required_field", f"Missing `{name}` field."))
    if not _valid_address(email["from"]):
        raise _Refused(error(422, "validation_error", "Invalid `from` field. The email address needs to follow the "
                                                      "`email@example.com` or `Name <email@example.com>` format."))
    to = email["to"] if isinstance(email["to"], list) else [email["to"]]
    if len(to) > 50:
        raise _Refused(error(422, "validation_error", "Too many recipients: `to` takes at most 50 addresses."))
    if not all(_valid_address(a) for a in to):
        raise _Refused(error(422, "validation_error", "Invalid `to` field. The email address needs to follow the "
                                                      "`email@example.com` or `Name <email@example.com>` format."))
    if not isinstance(email["subject"], str):
        raise _Refused(error(422, "validation_error", "Invalid `subject` field."))
    if not email.get("html") and not email.get("text"):
        raise _Refused(error(422, "missing_required_field", "Missing `html` or `text` field."))
    headers = email.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise _Refused(error(422, "validation_error", "Invalid `headers` field: an object of strings."))
    if batch and ("attachments" in email or "scheduled_at" in email):
        raise _Refused(error(422, "validation_error", "Attachments and scheduled_at are not supported in batch."))


class _Handler(JSONHandler):
    content_type = "application/json; charset=utf-8"

    def handle_request(self):
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = None
        try:
            if (self.command, path) not in {("POST", EMAILS), ("POST", BATCH)}:
                raise _Refused(error(404, "not_found", "The requested endpoint does not exist."))
            fake.check_auth(headers)
            body = fake.parse(headers, raw)
            fake.requests.append(Request(path, headers, body))
            reply = fake.next_reply()
            if reply == HANG:
                return self.hang()
            if reply is None or reply == LOST:
                answer = fake.answer(path, headers, body)
                if reply == LOST:
                    return self.drop()
                reply = answer
        except _Refused as refused:
            if body is None:
                fake.requests.append(Request(path, headers, None))
            reply = refused.reply
        self.send_reply(reply)

    def drop(self):
        """End the connection without an answer (the client sees it closed before any response)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Hold:
    def __init__(self):
        self.entered, self.released = threading.Event(), threading.Event()

    def release(self):
        self.released.set()


class FakeResend(LoopbackFake):
    api_key = "re_test_fake_0123456789"
    handler = _Handler
    name = "fake-resend"

    def __init__(self):
        super().__init__()
        self.requests: list[Request] = []
        self.sent: list[dict] = []
        self.ids = itertools.count(1)
        self._scripted: deque = deque()
        self._idempotent: dict[str, tuple[float, str, Any, Reply]] = {}  # key: (when, path, body, answer)
        self._in_flight: set[str] = set()
        self._hold: Hold | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mailers(self, api_key: str | None = None) -> dict:
        """A MAILERS setting for the project's Resend backend pointed at this server."""
        return {"default": {"BACKEND": "notifications.backends.ResendBackend",
                            "OPTIONS": {"api_key": api_key or self.api_key, "api_url": self.url, "timeout": 5}}}

    # --- scripting ----------------------------------------------------------------------------

    def queue(self, *replies: Reply | str):
        """Answer the next requests (to either endpoint) with these, in order, instead of sending."""
        with self._lock:
            self._scripted.extend(replies)

    def hold(self) -> "Hold":
        """Keep the next request in progress (taken, not answered yet) until hold.release(); its
        `entered` is set once it is in progress."""
        with self._lock:
            self._hold = Hold()
            return self._hold

    def next_reply(self) -> Reply | str | None:
        with self._lock:
            return self._scripted.popleft() if self._scripted else None

    # --- what the API checks ------------------------------------------------------------------

    def check_auth(self, headers: dict) -> None:
        auth = headers.get("authorization", "")
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not key or key == "None":
            raise _Refused(error(401, "missing_api_key", "Missing API key in the authorization header. Include the "
                                                         "following header Authorization: Bearer YOUR_API_KEY in "
                                                         "the request."))
        if key != self.api_key:
            raise _Refused(error(403, "invalid_api_key", "API key is invalid"))

    def parse(self, headers: dict, raw: bytes) -> Any:
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Refused(error(400, "validation_error", "Invalid `Content-Type` header: use application/json."))
        try:
            return json.loads(raw)
        except ValueError:
            raise _Refused(error(400, "validation_error", "Invalid JSON body.")) from None

    def answer(self, path: str, headers: dict, body: Any) -> Reply:
        key = headers.get("idempotency-key")
        if key is None:
            return self._send(path, headers, body)
        if not 1 <= len(key) <= 256:
            raise _Refused(error(400, "invalid_idempotency_key", "The key must be between 1-256 chars."))
        with self._lock:
            seen = self._idempotent.get(key)
            if seen is not None and time.time() - seen[0] >= KEY_KEPT_SECONDS:
                del self._idempotent[key]  # forgotten after 24 hours
                seen = None
            if seen is None:
                if key in self._in_flight:
                    raise _Refused(error(409, "concurrent_idempotent_requests",
                                         "Same idempotency key used while original request is still in progress."))
                self._in_flight.add(key)
        if seen is not None:
            if (seen[1], seen[2]) != (path, body):  # the request as parsed, not its spacing
                raise _Refused(error(409, "invalid_idempotent_request",
                                     "Same idempotency key used with a different request payload."))
            return seen[3]  # the first answer again, nothing sent twice
        try:
            with self._lock:
                hold, self._hold = self._hold, None
            if hold is not None:
                hold.entered.set()
                hold.released.wait(30)
            reply = self._send(path, headers, body)
            if reply.status == 200:
                with self._lock:
                    self._idempotent[key] = (time.time(), path, body, reply)
            return reply
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _send(self, path: str, headers: dict, body: Any) -> Reply:
        return self._send_batch(headers, body) if path == BATCH else self._send_one(body)

    def _accept(self, email: dict) -> str:
        email_id = str(uuid.UUID(int=next(self.ids)))
        to = email["to"] if isinstance(email["to"], list) else [email["to"]]
        with self._lock:
            self.sent.append({"id": email_id, "from": email["from"], "to": to, "subject": email["subject"],
                              "text": email.get("text", ""), "html": email.get("html", ""),
                              "headers": email.get("headers", {}), "at": time.time()})
        return email_id

    def _send_one(self, body: Any) -> Reply:
        _check_email(body, batch=False)
        return Reply(json={"id": self._accept(body)})

    def _send_batch(self, headers: dict, body: Any) -> Reply:
        if not isinstance(body, list) or not body:
            raise _Refused(error(422, "validation_error", "The batch must be a non-empty array of emails."))
        if len(body) > 100:
            raise _Refused(error(422, "validation_error", "Too many emails: a batch takes at most 100."))
        permissive = headers.get("x-batch-validation", "strict") == "permissive"
        problems = {}
        for index, email in enumerate(body):
            try:
                _check_email(email, batch=True)
            except _Refused as refused:
                if not permissive:
                    raise
                problems[index] = refused.reply.json["message"]
        data = [{"id": self._accept(email)} for index, email in enumerate(body) if index not in problems]
        answer = {"data": data}
        if permissive:
            answer["errors"] = [{"index": i, "message": m} for i, m in sorted(problems.items())]
        return Reply(json=answer)


# --- Svix webhook signing (what Resend's webhooks carry) -----------------------------------------


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()


def svix_headers(secret: str, body: bytes | str, *, msg_id: str | None = None,
                 timestamp: int | None = None) -> dict[str, str]:
    """The three headers Svix sends with a webhook: its id, its time, and the signature."""
    body = body.decode() if isinstance(body, bytes) else body
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return {"svix-id": msg_id, "svix-timestamp": str(timestamp),
            "svix-signature": f"v1,{base64.b64encode(digest).decode()}"}
