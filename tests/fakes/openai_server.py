"""A small fake of the OpenAI HTTP API on 127.0.0.1, for the real `openai` SDK to talk to.

It checks what the real API checks before answering: the bearer key (401), an unknown path (404),
a chat request that is JSON with `model` and `messages` and, for a strict `json_schema` response
format, a schema that strict Structured Outputs accept (400), a transcription request that is
multipart/form-data with `file` and `model` (400). Errors have OpenAI's shape
{"error": {"message", "type", "param", "code"}}.

    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY = fake.base_url, fake.api_key
        fake.queue(CHAT, error(500, "The server had an error"), "hang")
        ...
        path, headers, body = fake.requests[-1]

Scripted answers are taken per path, first in first out; then the defaults: a chat completion
whose content is `fake.summary` (a dict, sent as JSON, or a string sent as is) and a
transcription of `fake.transcript`. "hang" holds the request without answering until `release()`
or the server closes, so a client with a short timeout times out; nothing sleeps.
"""

import email.parser
import email.policy
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from typing import Any, NamedTuple

from .loopback import HANG, JSONHandler, LoopbackFake, Reply

CHAT = "/v1/chat/completions"
TRANSCRIPTIONS = "/v1/audio/transcriptions"

DEFAULT_SUMMARY = {
    "engagement": "Sam was focused for the whole hour and asked good questions.",
    "confidence_level": "developing",
    "confidence_notes": "Confident with fractions, still hesitant with long division.",
    "learning_patterns": ["Often forgets to carry the one."],
    "next_steps": ["Practise long division twice this week."],
}
DEFAULT_TRANSCRIPT = "Sam worked through six fraction problems and got five right."

# Keywords that strict Structured Outputs refuse ("... is not permitted").
NOT_PERMITTED = frozenset({"minLength", "maxLength", "minProperties", "maxProperties", "patternProperties",
                           "unevaluatedProperties", "propertyNames", "contains", "uniqueItems"})


class Upload(NamedTuple):
    filename: str | None
    content_type: str
    data: bytes


class Request(NamedTuple):
    path: str
    headers: dict  # lower-cased names
    body: Any  # chat: the JSON; transcription: {field: str or Upload}; else None


def error(status: int, message: str, type: str = "invalid_request_error", *, param: str | None = None,
          code: str | None = None) -> Reply:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return Reply(json=body, status=status)


class _Refused(Exception):
    def __init__(self, reply: Reply):
        self.reply = reply


def _strict_schema_problem(schema: Any, where: tuple = ()) -> str | None:
    """Why strict Structured Outputs would refuse this schema, or None."""
    if not isinstance(schema, dict):
        return None
    if refused := sorted(NOT_PERMITTED & schema.keys()):
        return f"In context={where}, '{refused[0]}' is not permitted."
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            return f"In context={where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties", {})
        missing = [name for name in properties if name not in schema.get("required", [])]
        if missing:
            return (f"In context={where}, 'required' is required to be supplied and to be an array including "
                    f"every key in properties. Missing '{missing[0]}'.")
    children = [(("properties", k), v) for k, v in schema.get("properties", {}).items()]
    children += [(("$defs", k), v) for k, v in schema.get("$defs", {}).items()]
    children += [(("anyOf", str(i)), v) for i, v in enumerate(schema.get("anyOf", []))]
    if "items" in schema:
        children.append((("items",), schema["items"]))
    for step, child in children:
        if problem := _strict_schema_problem(child, where + step):
            return problem
    return None


class _Handler(JSONHandler):
    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def extra_headers(self) -> dict:
        return {"x-request-id": f"req_fake{next(self.server.fake.ids):06d}"}

    def handle_request(self):
        fake = self.server.fake
        raw = self._body()
        path = self.path.split("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if (self.command, path) not in {("POST", CHAT), ("POST", TRANSCRIPTIONS)}:
                raise _Refused(error(404, f"Invalid URL ({self.command} {path})"))
            fake.check_auth(headers)
            body = fake.parse_chat(headers, raw) if path == CHAT else fake.parse_transcription(headers, raw)
        except _Refused as refused:
            fake.requests.append(Request(path, headers, None))
            return self.send_reply(refused.reply)
        fake.requests.append(Request(path, headers, body))
        reply = fake.next_reply(path, body)
        if reply == HANG:
            return self.hang()
        self.send_reply(reply)


class FakeOpenAI(LoopbackFake):
    api_key = "sk-test-fake"
    handler = _Handler
    name = "fake-openai"

    def __init__(self):
        super().__init__()
        self.requests: list[Request] = []
        self.summary: dict | str = dict(DEFAULT_SUMMARY)
        self.transcript = DEFAULT_TRANSCRIPT
        self.ids = itertools.count(1)
        self._queues: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting ----------------------------------------------------------------------------

    def queue(self, path: str, *responses: Reply | str):
        """Answer the next requests to path (CHAT, "/v1/audio/transcriptions" or
        "audio/transcriptions") with these, in order: a Reply or "hang"."""
        path = path if path.startswith("/v1/") else "/v1/" + path.lstrip("/")
        for response in responses:
            if response != HANG and not isinstance(response, Reply):
                raise TypeError(f"not a Reply or {HANG!r}: {response!r}")
        with self._lock:
            self._queues[path].extend(responses)

    def completion(self, content: str | None = None, *, refusal: str | None = None,
                   model: str = "gpt-4.1-mini", finish_reason: str = "stop") -> dict:
        """A chat.completion as the API returns it."""
        text = content or refusal or ""
        return {
            "id": f"chatcmpl-fake{next(self.ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
                "logprobs": None,
                "finish_reason": finish_reason,
            }],
            "usage": {"prompt_tokens": 120, "completion_tokens": max(1, len(text) // 4),
                      "total_tokens": 120 + max(1, len(text) // 4),
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def next_reply(self, path: str, body: Any) -> Reply | str:
        with self._lock:
            if self._queues[path]:
                return self._queues[path].popleft()
        if path == CHAT:
            summary = self.summary if isinstance(self.summary, str) else json.dumps(self.summary)
            return Reply(json=self.completion(summary, model=body["model"]))
        words = len(self.transcript.split())
        return Reply(json={"text": self.transcript, "usage": {
            "type": "tokens", "input_tokens": 50,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 50},
            "output_tokens": words, "total_tokens": 50 + words}})

    # --- what the API checks ------------------------------------------------------------------

    def check_auth(self, headers: dict) -> None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
            raise _Refused(error(401, "You didn't provide an API key. You need to provide your API key in "
                                      "an Authorization header using Bearer auth "
                                      "(i.e. Authorization: Bearer YOUR_KEY)."))
        key = auth.removeprefix("Bearer ").strip()
        if key != self.api_key:
            shown = key[:3] + "*" * 4 + key[-4:] if len(key) > 8 else key
            raise _Refused(error(401, f"Incorrect API key provided: {shown}. You can find your API key "
                                      "at https://platform.openai.com/account/api-keys.",
                                 code="invalid_api_key"))

    def parse_chat(self, headers: dict, raw: bytes) -> dict:
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise _Refused(error(400, "Invalid Content-Type header, expected application/json."))
        try:
            body = json.loads(raw)
        except ValueError:
            raise _Refused(error(400, "We could not parse the JSON body of your request.")) from None
        if not isinstance(body, dict):
            raise _Refused(error(400, "The request body must be a JSON object."))
        for name in ("model", "messages"):
            if name not in body:
                raise _Refused(error(400, f"Missing required parameter: '{name}'.", param=name,
                                     code="missing_required_parameter"))
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise _Refused(error(400, "Invalid 'messages': empty array.", param="messages",
                                 code="empty_array"))
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in (
                    "system", "developer", "user", "assistant", "tool"):
                raise _Refused(error(400, f"Invalid value for 'messages[{i}].role'.",
                                     param=f"messages[{i}].role"))
        response_format = body.get("response_format")
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", str(spec.get("name", ""))):
                raise _Refused(error(400, "Invalid 'response_format.json_schema.name'.",
                                     param="response_format.json_schema.name"))
            if spec.get("strict") and (problem := _strict_schema_problem(spec.get("schema"))):
                raise _Refused(error(400, f"Invalid schema for response_format '{spec['name']}': {problem}",
                                     param="response_format", code="invalid_json_schema"))
        return body

    def parse_transcription(self, headers: dict, raw: bytes) -> dict:
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise _Refused(error(400, "Invalid Content-Type header, expected multipart/form-data."))
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts() if message.is_multipart() else ():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename() is not None or name == "file":
                fields[name] = Upload(part.get_filename(), part.get_content_type(), data)
            else:
                fields[name] = data.decode()
        for name in ("file", "model"):
            if name not in fields:
                raise _Refused(error(400, f"Missing required parameter: '{name}'.", param=name,
                                     code="missing_required_parameter"))
        if not isinstance(fields["file"], Upload) or not fields["file"].data:
            raise _Refused(error(400, "Invalid file format.", param="file", code="invalid_value"))
        return fields
