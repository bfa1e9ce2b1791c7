"""What the fake provider servers share: a threaded HTTP server on 127.0.0.1 with scripted
answers ("hang" holds a request until release() so a client with a short timeout times out;
nothing sleeps), the requests it received, and file downloads with HTTP Range that can be cut off
part-way (Content-Length promised, the connection closed after N bytes), as a provider that drops
a transfer does."""

import re
import socket
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

HANG = "hang"


@dataclass(frozen=True)
class Reply:
    """A scripted answer."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


class Request(NamedTuple):
    method: str
    path: str  # without the query string
    query: str  # the raw query string, as received
    headers: dict  # lower-cased names
    body: bytes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _handle(self):
        fake = self.server.fake
        path, _, query = self.path.partition("?")
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        request = Request(self.command, path, query, {k.lower(): v for k, v in self.headers.items()}, raw)
        fake.requests.append(request)
        scripted = fake.next_scripted(path)
        if scripted == HANG:
            fake.released.wait()
            self.close_connection = True
            return
        try:
            reply = scripted or fake.answer(request)
            if isinstance(reply, Download):
                return self._download(reply, request)
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, reply: Reply):
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _download(self, download: "Download", request: Request):
        """The file, honouring `Range: bytes=N-` (206) unless told to ignore it; cut off when told."""
        fake, data = self.server.fake, download.data
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", request.headers.get("range", ""))
        if match and not fake.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                return self._send(Reply(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"}))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", download.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        cut = fake.cut_next_download_after
        if cut is not None:
            fake.cut_next_download_after = None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@dataclass(frozen=True)
class Download:
    data: bytes
    content_type: str = "video/mp4"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clients (batch senders) are not refused
    fake: "LoopbackServer"

    def get_request(self):
        conn, addr = super().get_request()
        self.fake.connections.append(conn)
        return conn, addr


class LoopbackServer:
    """The life of a fake: a threaded HTTP server on a free port of 127.0.0.1 whose handler finds
    this object as `self.server.fake`; close() lets hanging requests go and drops every connection.
    Used by every fake of a third-party HTTP API (this module's FakeServer, openai_server)."""

    name = "fake"
    handler: type[BaseHTTPRequestHandler]

    def __init__(self):
        self.released = threading.Event()
        self.connections: list[socket.socket] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self):
        self._server = _Server(("127.0.0.1", 0), self.handler)
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

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self):
        """Let hanging requests go (they end without an answer)."""
        self.released.set()


class FakeServer(LoopbackServer):
    """Subclasses implement answer(request) -> Reply | Download."""

    handler = Handler

    def __init__(self):
        super().__init__()
        self.requests: list[Request] = []
        self.cut_next_download_after: int | None = None
        self.ignore_range = False
        self._queues: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def answer(self, request: Request) -> Any:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return self.origin

    def queue(self, path: str, *replies: Reply | str):
        """Answer the next requests to path with these, in order (a Reply or "hang")."""
        with self._lock:
            self._queues[path].extend(replies)

    def next_scripted(self, path: str):
        with self._lock:
            return self._queues[path].popleft() if self._queues[path] else None

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]
