"""What every fake HTTP API here shares: a threaded server on 127.0.0.1 (a free port), started and
stopped with `with`, JSON replies, and "hang" answers held until release() or close."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = "hang"


@dataclass(frozen=True)
class Reply:
    """A scripted answer: JSON with a status and headers."""

    json: Any = None
    status: int = 200
    headers: dict = field(default_factory=dict)


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "LoopbackServer"
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


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: "LoopbackFake"

    def get_request(self):
        conn, addr = super().get_request()
        self.fake.connections.append(conn)
        return conn, addr


class LoopbackFake:
    """Base of a fake: subclasses set `handler` (a JSONHandler) and `name`."""

    handler: type[JSONHandler]
    name = "fake"

    def __init__(self):
        self.released = threading.Event()
        self.connections: list[socket.socket] = []
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    def start(self):
        self._server = LoopbackServer(("127.0.0.1", 0), self.handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def close(self):
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._thread.join()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def release(self):
        """Let hanging requests go (they end without an answer)."""
        self.released.set()

    @property
    def port(self) -> int:
        return self._server.server_address[1]
