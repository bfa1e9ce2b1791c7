"""An ASGI live server for browser tests that need WebSockets (pytest-django's live_server is WSGI):
uvicorn in a thread, serving tutoring.asgi (HTTP, static files and the room's sockets) on a free
port of 127.0.0.1 against the test database."""

import socket
import threading
import time

import uvicorn


class ASGIServer:
    def __init__(self):
        self.server = None
        self.thread = None
        self.port = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ASGIServer":
        from django.db import connections

        from tutoring.asgi import application

        # each request runs in a thread of its own under ASGI: no connection may outlive it, or
        # the test database cannot be flushed or dropped
        connections.settings["default"]["CONN_MAX_AGE"] = 0
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(application, loop="asyncio", lifespan="off", log_level="warning", access_log=False,
                                ws_max_size=131072)
        self.server = uvicorn.Server(config)
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(sock, started), daemon=True, name="asgi-live-server")
        self.thread.start()
        if not started.wait(20):
            raise RuntimeError("the ASGI test server did not start within 20 s")
        return self

    def _run(self, sock, started):
        import asyncio

        async def serve():
            task = asyncio.ensure_future(self.server.serve(sockets=[sock]))
            while not self.server.started and not task.done():
                await asyncio.sleep(0.01)
            started.set()
            await task

        asyncio.run(serve())

    def idle(self, timeout: float) -> bool:
        """Wait until the server holds no connection and runs no request or socket handler (a
        socket's leave, written after its client went, included): only then may the test database
        be emptied under it (a late write and the flush's TRUNCATE deadlocked). False on timeout."""
        state, deadline = self.server.server_state, time.monotonic() + timeout
        while state.connections or state.tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(20)
