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
  slow upload holds no thread; a client that leaves while its request waits for a thread stops
  waiting;
- a request borrows a thread from a per-process set (`Threads`, at most HTTP_THREADS), kept and
  reused from one request to the next, and goes into it once: the request_started signal, the
  middleware chain and the view, and for a complete (not streamed) response its close (which
  gives the database connection back to the pool) all run in that one call; the thread goes back
  before the response is sent, so a client that reads slowly (or not at all) holds no thread;
- a streamed response is made in batches of up to 64 KiB, each in a thread borrowed for that
  batch, after which that thread's database connections go back to the pool; each batch is sent
  as it is made (a part waits for its batch to fill or the stream to end). A stream that keeps a transaction open between its parts keeps its thread (and
  its connection) until it ends; a server-side cursor (QuerySet.iterator()) does not survive
  between batches: read in keyset chunks instead (creators' and the desk's exports do);
- a thread whose request was cancelled while its code still ran (the client left, a shutdown's
  deadline) comes back only when that code is done and what the request left open is closed
  there (a streamed response is closed in the thread that made its last batch);
- code in that thread that calls back into async code (async_to_sync: the room's presence
  broadcasts through the channel layer) runs it on the server's event loop, as under Django's
  handler, because the call into the thread goes through asgiref's sync_to_async.
Measured in one process, 4 requests at a time, CPU per request: the creator's Session History
list page 10.0 ms with Django's handler, 8.3 here (Django's WSGI handler: 7.9); `/healthz` 2.5,
1.7 (WSGI: 1.3). Under gunicorn with wrk, `/healthz` took 1.3-1.7 ms of the server's CPU per
request with Django's handler and 0.4-0.5 here.

Outside production static files are served by Django's ASGIStaticFilesHandler; in production
WhiteNoise does (settings.MIDDLEWARE)."""

import asyncio
import contextvars
import gc
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, closing

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import connections
from django.http import FileResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")

# A process's HTTP threads at most: requests beyond wait on the event loop for one to come back.
# Database work is bounded by the connection pool anyway (DB_POOL_MAX_SIZE, DB_POOL_TIMEOUT); this
# bounds the threads a flood of requests can start (Django's handler started one per request).
HTTP_THREADS = 64
log = logging.getLogger(__name__)


class Lease:
    """One of the process's threads, lent to one request."""

    def __init__(self, threads: "Threads", executor: ThreadPoolExecutor):
        self.threads, self.executor, self.pending = threads, executor, False

    async def run(self, function: Callable, *args):
        """function(*args) in the thread, in a copy of the caller's context (asgiref's
        sync_to_async: async_to_sync in it reaches this event loop)."""
        self.pending = True
        result = await sync_to_async(function, thread_sensitive=False, executor=self.executor)(*args)
        self.pending = False  # not reached when the call raised or the request was cancelled
        return result

    def end(self, if_abandoned: Callable[[], None] | None = None) -> None:
        """Give the thread back; when a call may still run in it (the request was cancelled, or
        the call raised), first `if_abandoned` in it, once that call is done."""
        if self.pending:
            self.end_with(if_abandoned or _nothing)
        else:
            self.threads.give_back(self.executor)

    def end_with(self, cleanup: Callable[[], None]) -> None:
        """cleanup() in the thread (in a copy of this context), after whatever it still runs; then
        the thread goes back."""
        done = self.executor.submit(contextvars.copy_context().run, cleanup)
        done.add_done_callback(self._back_after)

    def _back_after(self, done) -> None:  # in the thread, once its queue reached the cleanup
        if done.exception() is not None:
            log.error("closing an abandoned request failed", exc_info=done.exception())
        self.threads.give_back(self.executor)


def _nothing() -> None:
    pass


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
    async def lend(self, if_abandoned: Callable[[], None] | None = None):
        lease = await self.take()
        try:
            yield lease
        finally:
            lease.end(if_abandoned)

    async def take(self) -> Lease:
        with self._lock:
            if self._idle:
                return Lease(self, self._idle.pop())
            if self.started < self.size:
                self.started += 1
                return Lease(self, ThreadPoolExecutor(max_workers=1, thread_name_prefix="http"))
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
        try:
            return Lease(self, await waiter)
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over just as the request left
                self.give_back(waiter.result())
            raise

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        """From any thread."""
        with self._lock:
            while self._waiting:
                waiter = self._waiting.popleft()
                if waiter.done():
                    continue
                try:
                    waiter.get_loop().call_soon_threadsafe(self._hand, waiter, executor)
                except RuntimeError:  # that waiter's event loop is closed
                    continue
                return
            self._idle.append(executor)

    def _hand(self, waiter: asyncio.Future, executor: ThreadPoolExecutor) -> None:
        if waiter.done():  # the waiting request left meanwhile
            self.give_back(executor)
        else:
            waiter.set_result(executor)


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
            try:
                try:
                    async with asyncio.TaskGroup() as tasks:
                        tasks.create_task(self.listen_for_disconnect(receive))
                        await self._serve(scope, body_file, send)
                        raise RequestProcessed
                except* (RequestProcessed, RequestAborted):
                    pass
            except BaseExceptionGroup as group:
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise

    async def _serve(self, scope, body_file, send):
        made: list = []  # the response, once the view returned it
        async with self.threads.lend(if_abandoned=lambda: self._close_left(made)) as lease:
            response = await lease.run(self._respond, scope, body_file, made)
        # the thread is back: a complete response was closed in it; a streamed one is made in batches
        batches, closing_in = None, []
        if response.streaming and not response.is_async:
            batches = self._batches(iter(response.streaming_content), response, closing_in)
            response.streaming_content = batches
        try:
            await self.send_response(response, send)
        finally:
            if batches is not None:
                await batches.aclose()  # the thread it may hold closes the response (async for does not)
            if not response.closed and not closing_in:
                async with self.threads.lend() as lease:
                    await lease.run(response.close)

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
        if response.streaming:
            self._release_connections()  # the stream's parts take one again when they need it
        else:
            response.close()
        return response

    def _close_left(self, made: list) -> None:
        """After a request that stopped waiting for its thread's call (cancelled) or whose call
        raised: close the response it left, or end the request as Django's handler does when no
        response came."""
        if not made:
            signals.request_finished.send(sender=self.__class__)
        elif not made[0].closed:
            made[0].close()

    async def _batches(self, parts, response, closing_in: list):
        """A streamed response's parts, joined up to chunk_size bytes a batch (a part is sent
        once its batch is full or the stream ends), each batch made in a thread borrowed for it
        and kept only while the stream holds a transaction open. When the stream stops with a
        thread still held (a transaction, a batch that raised or that the client left during),
        the response is closed in that thread, after its batch: a generator is closed where it
        last ran, and its transaction ends with it (noted in `closing_in`)."""
        lease = None
        try:
            while True:
                lease = lease or await self.threads.take()
                batch, in_transaction = await lease.run(self._batch, parts)
                if not in_transaction:
                    lease.end()
                    lease = None
                if not batch:
                    return
                yield batch
        finally:
            if lease is not None:
                closing_in.append(lease)
                lease.end_with(response.close)

    def _batch(self, parts) -> tuple[bytes, bool]:
        """In a thread: the stream's next parts, up to chunk_size bytes; then the thread's database
        connections go back to the pool, but for one inside a transaction (then True)."""
        batch, size = [], 0
        try:
            for part in parts:
                batch.append(part)
                size += len(part)
                if size >= self.chunk_size:
                    break
        finally:
            in_transaction = self._release_connections()
        return b"".join(batch), in_transaction

    @staticmethod
    def _release_connections() -> bool:
        """The thread's database connections back to the pool (CONN_MAX_AGE is 0: every
        connection is obsolete once opened, settings.DATABASES), but for one inside a transaction
        (then True)."""
        in_transaction = False
        for connection in connections.all(initialized_only=True):
            if connection.in_atomic_block:
                in_transaction = True
            else:
                connection.close_if_unusable_or_obsolete()
        return in_transaction


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

# Everything set up so far (Django, the apps, the URL patterns and templates loaded) lives as long
# as the process: kept out of the garbage collector's full passes, which otherwise walked all of
# it (about 250,000 objects, 150-170 ms a pass, measured on the creator's list page).
gc.collect()
gc.freeze()
