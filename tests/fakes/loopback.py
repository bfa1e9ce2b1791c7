"""JSON replies on the shared fake server (fakeserver.LoopbackServer: a threaded server on a free
port of 127.0.0.1, started and stopped with `with`, "hang" answers held until release() or close)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .fakeserver import HANG, LoopbackServer  # noqa: F401  (HANG is re-exported for the JSON fakes)


@dataclass(frozen=True)
class Reply:
    """A scripted answer: JSON with a status and headers."""

    json: Any = None
    status: int = 200
    headers: dict = field(default_factory=dict)


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    content_type = "application/json"

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self.handle_request()

    def do_POST(self):
        self.handle_request()

    def handle_request(self):
        raise NotImplementedError

    def extra_headers(self) -> dict:
        return {}

    def hang(self):
        """Hold the request without answering until the fake is released or closed."""
        self.server.fake.released.wait()
        self.close_connection = True

    def send_reply(self, reply: Reply):
        data = json.dumps(reply.json).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", self.content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in {**self.extra_headers(), **reply.headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class LoopbackFake(LoopbackServer):
    """Base of a JSON fake: subclasses set `handler` (a JSONHandler) and `name`; the server's life
    (start, close, hanging requests, dropped connections) is fakeserver.LoopbackServer's."""

    handler: type[JSONHandler]

    @property
    def port(self) -> int:
        return self._server.server_address[1]
