"""A small fake of the Telegram Bot API on 127.0.0.1, for python-telegram-bot's real client
(`Bot(token, base_url=fake.base_url, base_file_url=fake.base_file_url)`).

It checks what Telegram checks: the token in the path (`/bot<token>/<method>`; another token is
401 Unauthorized, as Telegram answers), the method's required parameters (400 "Bad Request: ..."),
that the chat can be written to (a chat in `blocked` answers 403 "Forbidden: bot was blocked by
the user"), inline buttons' callback_data of 1-64 bytes (400 "Bad Request: BUTTON_DATA_INVALID"),
file ids (400 "Bad Request: invalid file_id") and Telegram's 20 MB getFile limit (400 "Bad
Request: file is too big"). Methods: getMe, sendMessage, editMessageText,
answerCallbackQuery, getFile, the file download at `/file/bot<token>/<file_path>`, and for
polling getUpdates and deleteWebhook.

Messages: the fake holds the text and buttons of each message the bot sent (or a test put there
with `hold`, a message from before), and answers an edit as Telegram does: 400 "Bad Request:
message to edit not found" for a message it does not hold (never sent, or deleted by the person:
`forget`), 400 "Bad Request: message is not modified: ..." for one that changes neither (a
double-tapped button).

Polling, as Telegram: getUpdates refuses with 409 while a webhook is set (deleteWebhook removes it,
and drops the pending updates when asked); `offset` confirms (forgets) every update below it;
with `timeout` the request is held until an update is pushed or the timeout passes (a condition
wait, no sleep; closing the fake lets it go). `delivered` lists the update ids each call returned.

Failures: `fake.queue(fake.path("sendMessage"), flood(30), BAD_GATEWAY)` answers the next calls
with Telegram's 429 (with `parameters.retry_after`) and its front end's HTML 502.

    with FakeTelegram() as fake:
        fake.add_file("doc1", b"%PDF-...", "documents/file_1.pdf")
        ...
        fake.calls("sendMessage")    # the parameters of each call, in order
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl, unquote

from .fakeserver import Download, FakeServer, Reply

TOKEN = "123456:TEST-token-for-the-fake"
BOT_USERNAME = "tutoring_test_bot"
GET_FILE_LIMIT = 20 * 1024 * 1024
BLOCKED = "Forbidden: bot was blocked by the user"
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"  # a callback_data outside 1-64 bytes
WEBHOOK_ACTIVE = ("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                  "the webhook first")

REQUIRED = {
    "getMe": (),
    "sendMessage": ("chat_id", "text"),
    "editMessageText": ("text",),
    "answerCallbackQuery": ("callback_query_id",),
    "getFile": ("file_id",),
    "getUpdates": (),
    "deleteWebhook": (),
}


def _bad_buttons(params) -> bool:
    """Telegram refuses a message whose inline button carries callback_data of 0 or over 64 bytes."""
    rows = (params.get("reply_markup") or {}).get("inline_keyboard", [])
    return any("callback_data" in b and not 1 <= len(b["callback_data"].encode()) <= 64 for row in rows for b in row)


def _ok(result) -> Reply:
    return Reply(200, json.dumps({"ok": True, "result": result}).encode())


def _error(status: int, description: str) -> Reply:
    return Reply(status, json.dumps({"ok": False, "error_code": status, "description": description}).encode())


def flood(retry_after: int) -> Reply:
    """Telegram's answer to a bot over its flood limit."""
    return Reply(429, json.dumps({"ok": False, "error_code": 429,
                                  "description": f"Too Many Requests: retry after {retry_after}",
                                  "parameters": {"retry_after": retry_after}}).encode())


BAD_GATEWAY = Reply(502, b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad "
                         b"Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", "text/html")


def _params(request) -> dict:
    """The parameters as PTB sends them: form-encoded, multipart or JSON; JSON-looking values of
    nested objects (reply_markup) decoded."""
    ctype = request.headers.get("content-type", "")
    body = request.body
    if ctype.startswith("application/json"):
        params = json.loads(body or b"{}")
    elif ctype.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        params = {part.get_param("name", header="content-disposition"): part.get_content()
                  for part in message.iter_parts()}
    else:
        params = dict(parse_qsl((body or b"").decode() or request.query))
    for key in ("reply_markup",):
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params


class FakeTelegram(FakeServer):
    name = "fake-telegram"

    def __init__(self, token: str = TOKEN):
        super().__init__()
        self.token = token
        self.blocked: set[int] = set()
        self.files: dict[str, tuple[bytes, str]] = {}
        self.log: list[tuple[str, dict]] = []
        self._ids = itertools.count(1000)
        self._lock2 = threading.Condition()
        self.messages: dict[tuple[int, int], tuple[str, dict | None]] = {}  # (chat, message) -> text, buttons
        self.refusals: list[tuple[str, str]] = []  # (method, description) of each error answered
        self.webhook = ""
        self.pending: list[dict] = []  # updates waiting for getUpdates
        self.delivered: list[list[int]] = []  # the update ids each getUpdates returned
        self._closing = False

    @property
    def base_url(self) -> str:
        return f"{self.origin}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.origin}/file/bot"

    def add_file(self, file_id: str, data: bytes, file_path: str, size: int | None = None):
        """A file Telegram holds; `size` overrides the reported size (a 25 MB file, say)."""
        self.files[file_id] = (data, file_path, size if size is not None else len(data))

    def calls(self, method: str | None = None) -> list[dict]:
        with self._lock2:
            return [p for m, p in self.log if method is None or m == method]

    def texts(self) -> list[str]:
        """Every text the bot sent or edited in, in order."""
        return [p["text"] for m, p in list(self.log) if m in ("sendMessage", "editMessageText")]

    def wait_for(self, method: str, count: int = 1, timeout: float = 30) -> list[dict]:
        """Block until `count` calls of `method` arrived (from a worker thread, say); those calls."""
        with self._lock2:
            self._lock2.wait_for(lambda: len([m for m, _ in self.log if m == method]) >= count, timeout)
            return [p for m, p in self.log if m == method]

    def clear(self):
        with self._lock2:
            self.log.clear()

    def messages_of(self, chat_id: int) -> list[int]:
        """The ids of the messages the bot sent to (or edited in) this chat, oldest first."""
        with self._lock2:
            return sorted(m for c, m in self.messages if c == chat_id)

    def hold(self, chat_id: int, text: str, reply_markup: dict | None = None) -> int:
        """A message the bot sent in this chat before (the one whose button a test presses): its id."""
        message_id = next(self._ids)
        with self._lock2:
            self.messages[(chat_id, message_id)] = (text, reply_markup)
        return message_id

    def forget(self, chat_id: int, message_id: int) -> None:
        """The person deleted this message in their chat: Telegram no longer holds it."""
        with self._lock2:
            del self.messages[(chat_id, message_id)]

    def path(self, method: str) -> str:
        """The URL path of a method, for queue()."""
        return f"/bot{self.token}/{method}"

    def push(self, *updates: dict):
        """Updates Telegram holds for the bot's next getUpdates."""
        with self._lock2:
            self.pending.extend(updates)
            self._lock2.notify_all()

    def close(self):
        with self._lock2:
            self._closing = True
            self._lock2.notify_all()
        super().close()

    def answer(self, request):
        path = request.path
        prefix = "/file/bot" if path.startswith("/file/bot") else "/bot"
        if not path.startswith(prefix):
            return _error(404, "Not Found")
        token, _, rest = path[len(prefix):].partition("/")
        token = unquote(token)  # httpx sends the file URL's ":" as %3A; Telegram takes both
        if token != self.token:
            return _error(401, "Unauthorized")
        if prefix == "/file/bot":
            for data, file_path, _size in self.files.values():
                if file_path == rest:
                    return Download(data, "application/octet-stream")
            return _error(404, "Not Found")
        method = rest
        if method not in REQUIRED:
            return _error(404, "Not Found: method not found")
        params = _params(request)
        with self._lock2:
            self.log.append((method, params))
            self._lock2.notify_all()
        missing = [p for p in REQUIRED[method] if not params.get(p)]
        if method == "editMessageText" and not (params.get("chat_id") and params.get("message_id")) \
                and not params.get("inline_message_id"):
            missing.append("message_id")
        reply = _error(400, f"Bad Request: {missing[0]} is empty") if missing else getattr(self, f"_{method}")(params)
        if reply.status != 200:
            with self._lock2:
                self.refusals.append((method, json.loads(reply.body)["description"]))
        return reply

    def _getMe(self, params):
        return _ok({"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "Tutoring",
                    "username": BOT_USERNAME, "can_join_groups": False, "can_read_all_group_messages": False,
                    "supports_inline_queries": False})

    def _message(self, params) -> dict:
        chat_id = int(params["chat_id"])
        message = {"message_id": int(params.get("message_id") or next(self._ids)), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"}, "text": params["text"]}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _sendMessage(self, params):
        if int(params["chat_id"]) in self.blocked:
            return _error(403, BLOCKED)
        if len(params["text"]) > 4096:
            return _error(400, "Bad Request: message is too long")
        if _bad_buttons(params):
            return _error(400, BUTTON_DATA_INVALID)
        message = self._message(params)
        with self._lock2:
            self.messages[(message["chat"]["id"], message["message_id"])] = (params["text"],
                                                                            params.get("reply_markup") or None)
        return _ok(message)

    def _editMessageText(self, params):
        if int(params["chat_id"]) in self.blocked:
            return _error(403, BLOCKED)
        if _bad_buttons(params):
            return _error(400, BUTTON_DATA_INVALID)
        key = (int(params["chat_id"]), int(params["message_id"]))
        content = (params["text"], params.get("reply_markup") or None)
        with self._lock2:
            if key not in self.messages:
                return _error(400, EDIT_NOT_FOUND)
            if self.messages[key] == content:
                return _error(400, NOT_MODIFIED)
            self.messages[key] = content
        return _ok(self._message(params))

    def _answerCallbackQuery(self, params):
        return _ok(True)

    def _getFile(self, params):
        file_id = params["file_id"]
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        _data, file_path, size = self.files[file_id]
        if size > GET_FILE_LIMIT:
            return _error(400, "Bad Request: file is too big")
        return _ok({"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": size, "file_path": file_path})

    def _deleteWebhook(self, params):
        with self._lock2:
            self.webhook = ""
            if str(params.get("drop_pending_updates", "")).lower() in ("true", "1"):
                self.pending.clear()
        return _ok(True)

    def _getUpdates(self, params):
        """Confirm the updates below `offset`, then return the rest (up to `limit`), holding the
        request up to `timeout` seconds while there is none."""
        if self.webhook:
            return _error(409, WEBHOOK_ACTIVE)
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        with self._lock2:
            if offset > 0:
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
            elif offset < 0:
                self.pending = self.pending[offset:]
            self._lock2.wait_for(lambda: self.pending or self._closing, timeout)
            updates = self.pending[:limit]
            self.delivered.append([u["update_id"] for u in updates])
            self._lock2.notify_all()
        return _ok(updates)
