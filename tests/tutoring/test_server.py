"""Issue 11 item 5: the demo's web server (exactly the command `make run` starts: uvicorn on the
ASGI app, scripts/devstack.web_command) takes a burst of 200 concurrent requests without a 500
and without leaving a database connection behind: connections come from a bounded pool and go
back to it (runserver with CONN_MAX_AGE=60 grew to 157-175 idle connections, then "too many
clients")."""

import http.client
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import asyncio
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import Client

from bench.dashboard import http_status as _get
from tests.conftest import NOW
from tests.database import ROOT, database_url, dsn

spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
devstack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(devstack)

BURST = 200
APP_NAME = "burst-test-server"  # the server's connections say who they are
SERVER_CONNECTIONS = f"""
    SELECT count(*), count(*) FILTER (WHERE state <> 'idle') FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = '{APP_NAME}'
"""


@pytest.fixture
def server(transactional_db):
    """`make run`'s web command on a socket the test already listens on (no waiting for start-up:
    the first requests queue in the socket until uvicorn accepts them)."""
    with serving() as served:
        yield served


@contextmanager
def serving(**env):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    env = dict(os.environ, DJANGO_ENV="development", DATABASE_URL=database_url(APP_NAME), LOG_LEVEL="WARNING",
               PYTHONUNBUFFERED="1", **env)
    log = tempfile.NamedTemporaryFile(prefix="uvicorn-", suffix=".log", delete=False)
    proc = subprocess.Popen(devstack.web_command(sys.executable, fd=listener.fileno()), cwd=ROOT, env=env,
                            pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    listener.close()  # the server holds its own copy
    try:
        yield port, log.name
    finally:
        proc.terminate()
        proc.wait(30)


def test_a_burst_of_200_concurrent_requests_leaves_no_connection_behind(server, parent, student, session):
    port, log = server
    browser = Client()
    browser.force_login(parent)
    cookie = browser.cookies["sessionid"].value
    requests = [("/family/", cookie), ("/api/sessions", cookie), (f"/sessions/{session.id}/", cookie),
                ("/accounts/login/", None), ("/static/css/site.css", None)]
    assert _get(port, "/healthz") == 200
    assert _get(port, "/api/sessions", cookie) == 200  # the pool opens with the first query
    with psycopg.connect(dsn(), autocommit=True) as watch:
        before = watch.execute(SERVER_CONNECTIONS).fetchone()[0]
        peak, done = [0], threading.Event()

        def watch_the_database():
            with psycopg.connect(dsn(), autocommit=True) as conn:
                while not done.is_set():
                    peak[0] = max(peak[0], conn.execute(SERVER_CONNECTIONS).fetchone()[0])

        watcher = threading.Thread(target=watch_the_database)
        watcher.start()
        start = threading.Barrier(BURST)

        def one(i):
            path, with_cookie = requests[i % len(requests)]
            start.wait()
            return path, _get(port, path, with_cookie)

        statuses = []
        for _ in range(2):  # a second burst must find the pool, not grow past it
            with ThreadPoolExecutor(max_workers=BURST) as pool:
                statuses += list(pool.map(one, range(BURST)))
        done.set()
        watcher.join()
        after, busy = watch.execute(SERVER_CONNECTIONS).fetchone()
    output = Path(log).read_text()
    assert [s for s in statuses if s[1] != 200] == [], output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert 1 <= before <= settings.DB_POOL_MAX_SIZE
    assert peak[0] <= settings.DB_POOL_MAX_SIZE, f"{peak[0]} connections at the peak"
    assert after <= settings.DB_POOL_MAX_SIZE and busy == 0, (before, after, busy)


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of the test's own: the shared one counts every test worker's connections."""
    with devstack.embedded_redis(tmp_path / "redis", persist=False) as url:
        yield url


def test_the_server_keeps_its_redis_connection_across_requests(transactional_db, own_redis, creator, make_session):
    """The production server's cache (tutoring/cache.py) holds one Redis client per process: 20
    views of the creator's Session History, each reading its pieces from the cache, open at most
    2 connections between them. Django's stock backend opened one per request under uvicorn (a
    new backend object in each request's context), each with a handshake and a metadata read."""
    make_session()  # the creator's change stamp exists: the page reads and writes cached pieces
    browser = Client()
    browser.force_login(creator)
    cookie = browser.cookies["sessionid"].value
    counter = redis.Redis.from_url(own_redis)
    with serving(REDIS_URL=own_redis, CACHE_URL=own_redis) as (port, log):
        assert _get(port, "/dashboard/teaching/sessions", cookie) == 200
        before = counter.info("stats")["total_connections_received"]
        statuses = [_get(port, "/dashboard/teaching/sessions", cookie) for _ in range(20)]
        opened = counter.info("stats")["total_connections_received"] - before
    assert statuses == [200] * 20, Path(log).read_text()[-3000:]
    assert counter.keys("tutoring:*history*"), "the page cached nothing: the test proves nothing"
    assert opened <= 2, f"{opened} Redis connections for 20 requests"


def test_the_server_exports_the_csv(transactional_db, creator, make_session):
    """The creator's CSV export through the server `make run` starts: every row arrives."""
    sessions = [make_session(start=NOW + timedelta(days=day)) for day in (1, 2, 3)]
    browser = Client()
    browser.force_login(creator)
    cookie = browser.cookies["sessionid"].value
    with serving() as (port, log):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/dashboard/teaching/sessions/export.csv", headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
    assert response.status == 200, Path(log).read_text()[-3000:]
    assert response.getheader("Content-Type").startswith("text/csv")
    lines = body.strip().splitlines()
    assert len(lines) == 1 + len(sessions), body


async def _asgi_get(path: str, cookie: str = "") -> tuple[int, bytes, int]:
    """One GET through tutoring.asgi's application in this event loop: status, body, and the
    number of body messages it came in."""
    from asgiref.testing import ApplicationCommunicator

    from tutoring.asgi import application

    headers = [(b"host", b"127.0.0.1")] + ([(b"cookie", f"sessionid={cookie}".encode())] if cookie else [])
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    app = ApplicationCommunicator(application, scope)
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(10)
    body, parts = b"", 0
    while True:
        message = await app.receive_output(10)
        body += message.get("body", b"")
        parts += 1
        if not message.get("more_body"):
            break
    await app.wait(10)
    return start["status"], body, parts


def test_a_request_goes_to_its_thread_once(transactional_db, monkeypatch):
    """tutoring.asgi's handler runs the request_started signal, the whole middleware chain, the
    view and the response's close in ONE call into the request's thread, with no call back to
    the event loop. Django's handler, built for async, made two calls for every async-capable
    middleware and called the rest of the chain back through async_to_sync after each sync-only
    one; with its chain built synchronous it still made three (the signal, the chain, the close)."""
    from asgiref import sync

    calls = {"to_thread": 0, "to_loop": 0}
    to_thread, to_loop = sync.SyncToAsync.__call__, sync.AsyncToSync.__call__

    async def counted_to_thread(self, *args, **kwargs):
        calls["to_thread"] += 1
        return await to_thread(self, *args, **kwargs)

    def counted_to_loop(self, *args, **kwargs):
        calls["to_loop"] += 1
        return to_loop(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted_to_thread)  # asgiref's, not ours
    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted_to_loop)

    status, body, _ = async_to_sync(_asgi_get)("/accounts/login/")  # every middleware, a form, a template
    assert status == 200 and b'name="password"' in body
    assert calls["to_loop"] == 1, calls  # the test's own async_to_sync(_asgi_get), nothing more
    assert calls["to_thread"] == 1, calls


def test_requests_reuse_their_threads(transactional_db):
    """Requests one after another run in the same thread, kept from one to the next (Django's
    handler started a new thread for each request, and joined it after)."""
    from django.core.signals import request_started

    threads = []

    def note_thread(**kwargs):
        threads.append(threading.get_ident())

    async def ten():
        return [await _asgi_get("/healthz") for _ in range(10)]

    request_started.connect(note_thread, dispatch_uid="test-thread-reuse")
    try:
        answers = async_to_sync(ten)()
    finally:
        request_started.disconnect(dispatch_uid="test-thread-reuse")
    assert [status for status, _, _ in answers] == [200] * 10
    assert len(threads) == 10 and len(set(threads)) == 1, threads


def test_the_export_is_streamed_in_batches_not_read_whole_first(transactional_db, creator, make_session):
    """The creator's CSV export through tutoring.asgi arrives whole, made in batches of up to 64
    KiB in a request thread and sent as each is made. Django's handler read the whole stream into
    memory first, in another thread, with the warning "StreamingHttpResponse must consume
    synchronous iterators", and sent it a row at a time."""

    sessions = [make_session(start=NOW + timedelta(days=day)) for day in (1, 2, 3)]
    browser = Client()
    browser.force_login(creator)
    cookie = browser.cookies["sessionid"].value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, body, parts = async_to_sync(_asgi_get)("/dashboard/teaching/sessions/export.csv", cookie)
    assert status == 200, body[:500]
    assert len(body.decode().strip().splitlines()) == 1 + len(sessions), body
    assert parts == 2, parts  # one batch (a few hundred bytes) and the closing message
    assert not [w for w in caught if "consume synchronous iterators" in str(w.message)], caught


def test_code_in_a_requests_thread_reaches_the_servers_event_loop(transactional_db):
    """async_to_sync called in a request's thread (the room's presence broadcasts through the
    channel layer do) runs its coroutine on the server's event loop, as under Django's handler,
    not on a new loop in a new thread each time (with a new Redis connection each)."""

    from django.core.signals import request_started

    loops = []

    async def where():
        return asyncio.get_running_loop()

    def reach_the_loop(**kwargs):
        loops.append(async_to_sync(where)())

    async def get_and_compare():
        await _asgi_get("/healthz")
        return asyncio.get_running_loop()

    request_started.connect(reach_the_loop, dispatch_uid="test-thread-loop")
    try:
        server_loop = async_to_sync(get_and_compare)()
    finally:
        request_started.disconnect(dispatch_uid="test-thread-loop")
    assert loops == [server_loop]


def test_requests_beyond_the_threads_wait_for_one_to_come_back():
    """tutoring.asgi.Threads lends at most `size` threads; a request beyond waits on the event
    loop for one to come back, and one that stops waiting (its client left) takes none with it."""

    from tutoring.asgi import Threads

    threads = Threads(1)
    order = []

    async def one_turn():
        """Let the tasks already scheduled run up to their next wait (one turn of the loop)."""
        turn = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(turn.set_result, None)
        await turn

    async def hold(name, release: asyncio.Event):
        async with threads.lend() as lease:
            order.append((name, lease.executor))
            await release.wait()

    async def scenario():
        first_done, go = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(hold("first", first_done))
        await one_turn()
        leaver = asyncio.create_task(hold("leaver", go))
        second = asyncio.create_task(hold("second", go))
        await one_turn()
        assert [name for name, _ in order] == ["first"]  # the others wait
        leaver.cancel()
        first_done.set()
        go.set()
        await asyncio.gather(first, second)
        assert leaver.cancelled()
        return threads.started

    started = asyncio.run(scenario())
    assert [name for name, _ in order] == ["first", "second"]
    assert order[0][1] is order[1][1] and started == 1
    assert threads._idle == [order[0][1]]  # back, and lent to nobody


def test_the_cache_reuses_its_redis_client_across_threads():
    """tutoring/cache.py keeps one redis-py client per connection pool: every get and set of every
    request thread goes through the same object (Django's client built a new one, with its table
    of response callbacks, for each operation), and the values still arrive."""
    from django.core.cache import cache

    seen, values = [], []

    def work(n):
        client = cache._cache.get_client(write=True)
        seen.append(id(client))
        cache.set(f"cache-client-test:{n}", n, 30)
        values.append(cache.get(f"cache-client-test:{n}"))
        seen.append(id(cache._cache.get_client(f"cache-client-test:{n}")))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(32)))
    assert sorted(values) == list(range(32))
    assert len(set(seen)) == 1, f"{len(set(seen))} redis clients for 64 operations"


# --- the handler on views of its own (tests/tutoring/server_urls.py), with few threads -------------


@pytest.fixture
def handler(settings):
    """tutoring.asgi's HTTP handler with one thread of its own, on the test views."""
    from tutoring.asgi import OneHopHandler, Threads
    from tests.tutoring import server_urls

    settings.ROOT_URLCONF = "tests.tutoring.server_urls"
    server_urls.entered.clear()
    server_urls.gate.clear()
    made = OneHopHandler()
    made.threads = Threads(1)
    yield made
    server_urls.gate.set()


async def _call(app, path, *, stall=None, stalled=None, arrived=None):
    """One GET through `app`; with `stall` (an asyncio.Event), sending the first part of the body
    waits until it is set, as a client that stops reading makes the server wait (`stalled` is set
    when it starts waiting). `arrived`: the queue of what the client sends (a disconnect)."""
    sent = []
    arrived = arrived or asyncio.Queue()
    await arrived.put({"type": "http.request", "body": b""})

    async def send(message):
        sent.append(message)
        if stall is not None and message["type"] == "http.response.body":
            stalled.set()
            await stall.wait()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    await app(scope, arrived.get, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _thread_states(handler) -> list[tuple[bool, bool]]:
    """Each idle thread's database connection: (inside a transaction, open)."""
    from django.db import connections

    def state():
        connection = connections["default"]
        return connection.in_atomic_block, connection.connection is not None
    return [thread.submit(state).result(10) for thread in handler.threads._idle]


def _connections_in_use() -> int:
    from django.db import connections

    stats = connections["default"].pool.get_stats()
    return stats.get("pool_size", 0) - stats.get("pool_available", 0)


@pytest.mark.parametrize("path", ["/big", "/streamed"])
def test_a_client_that_stops_reading_holds_no_thread_and_no_connection(transactional_db, handler, path):
    """A client that stops reading a large page or a stream (a phone that lost its signal)
    holds neither a thread nor a database connection while the server waits to send: with ONE
    thread, another request is served meanwhile. Before, the request kept its thread until the
    last byte was sent."""
    from django.db import connections

    connections["default"].close()  # the test's own: every connection below is the requests'

    async def scenario():
        stall, sending = asyncio.Event(), asyncio.Event()
        stalled = asyncio.create_task(_call(handler, path, stall=stall, stalled=sending))
        await sending.wait()  # the server waits for the client to read
        other = await asyncio.wait_for(_call(handler, "/quick"), 10)  # a bound for a failure, not a wait
        in_use = await asyncio.get_running_loop().run_in_executor(None, _connections_in_use)
        stall.set()
        return other, in_use, await stalled

    other, in_use, (status, body) = async_to_sync(scenario)()
    assert other == (200, b"quick")
    assert in_use == 0, f"{in_use} connections held while the client did not read"
    assert status == 200 and len(body) >= 200_000, (status, len(body))


def test_a_stream_inside_a_transaction_keeps_its_thread_until_it_ends(transactional_db, handler):
    """A stream whose parts run inside one transaction is made in one thread to its end (its
    connection is that thread's), and the thread then goes back."""
    async def scenario():
        first = await _call(handler, "/streamed-in-a-transaction")
        return first, await _call(handler, "/quick")

    (status, body), after = async_to_sync(scenario)()
    assert status == 200 and body == b"x" * 200_000
    assert after == (200, b"quick")
    assert len(handler.threads._idle) == 1


def test_a_cancelled_requests_thread_comes_back_when_its_view_is_done(transactional_db, handler):
    """A request cancelled while its view still runs (a shutdown's deadline) gives its thread
    back only when the view is done: the next request waits for it instead of queueing behind
    the view in a thread that looked free."""
    from tests.tutoring import server_urls

    async def scenario():
        loop = asyncio.get_running_loop()
        held = asyncio.create_task(_call(handler, "/held"))
        await loop.run_in_executor(None, server_urls.entered.wait, 10)
        held.cancel()
        await asyncio.wait({held})
        back_while_running = list(handler.threads._idle)
        nxt = asyncio.create_task(_call(handler, "/quick"))
        turn = loop.create_future()
        loop.call_soon(turn.set_result, None)
        await turn  # one turn of the loop: the next request asks for a thread
        waited = not nxt.done() and len(handler.threads._waiting) == 1
        server_urls.gate.set()
        return back_while_running, waited, await asyncio.wait_for(nxt, 10)

    back_while_running, waited, answer = async_to_sync(scenario)()
    assert back_while_running == []
    assert waited
    assert answer == (200, b"quick")


def test_a_client_leaving_a_stream_inside_a_transaction_leaves_its_thread_clean(transactional_db, handler):
    """A stream that holds a transaction keeps its thread; when its client leaves while another
    request waits for that (only) thread, the stream is closed in it first (its transaction rolled
    back, its connection returned): the waiting request and the next one are served (before, the
    thread went to the waiting request still inside the stream's transaction: a 500)."""
    from django.db import connections

    connections["default"].close()

    async def scenario():
        stall, sending, arrived = asyncio.Event(), asyncio.Event(), asyncio.Queue()
        stream = asyncio.create_task(_call(handler, "/streamed-in-a-transaction", stall=stall, stalled=sending,
                                           arrived=arrived))
        await sending.wait()
        waiting = asyncio.create_task(_call(handler, "/database"))
        loop = asyncio.get_running_loop()
        turn = loop.create_future()
        loop.call_soon(turn.set_result, None)
        await turn  # the second request asks for the thread
        queued = len(handler.threads._waiting)
        await arrived.put({"type": "http.disconnect"})
        await asyncio.wait_for(stream, 10)
        return queued, await asyncio.wait_for(waiting, 10), await asyncio.wait_for(_call(handler, "/database"), 10)

    queued, waited, after = async_to_sync(scenario)()
    assert queued == 1
    assert waited == (200, b"database") and after == (200, b"database")
    assert _thread_states(handler) == [(False, False)]


def test_a_client_leaving_during_a_batch_inside_a_transaction_leaves_its_thread_clean(transactional_db, handler):
    """The client leaves while a batch of a stream inside a transaction is being made: the stream
    is closed in the same thread once the batch is done (not in another thread while it still
    runs, which left the generator, and the thread, inside the transaction for good)."""
    from django.db import connections

    from tests.tutoring import server_urls

    connections["default"].close()

    async def scenario():
        loop = asyncio.get_running_loop()
        arrived = asyncio.Queue()
        stream = asyncio.create_task(_call(handler, "/streamed-in-a-transaction-held", arrived=arrived))
        await loop.run_in_executor(None, server_urls.entered.wait, 10)
        await arrived.put({"type": "http.disconnect"})
        await asyncio.wait_for(stream, 10)
        server_urls.gate.set()
        return [await asyncio.wait_for(_call(handler, "/database"), 10) for _ in range(3)]

    answers = async_to_sync(scenario)()
    assert answers == [(200, b"database")] * 3
    assert _thread_states(handler) == [(False, False)]


def test_a_stream_that_fails_midway_gives_its_connection_back(transactional_db, handler):
    """A stream whose generator raises after its first part: the response ends there, and its
    database connection goes back to the pool (the batch's clean-up runs on the way out; with two
    threads the response is not closed, and its connection not returned, in the one that
    ran the generator unless the batch does it)."""
    from django.db import connections

    from tutoring.asgi import Threads

    handler.threads = Threads(2)
    connections["default"].close()

    async def scenario():
        with pytest.raises(RuntimeError, match="the stream failed"):
            await _call(handler, "/streamed-then-failing")
        in_use = await asyncio.get_running_loop().run_in_executor(None, _connections_in_use)
        return in_use, await asyncio.wait_for(_call(handler, "/database"), 10)

    in_use, after = async_to_sync(scenario)()
    assert in_use == 0
    assert after == (200, b"database")
    assert _thread_states(handler) == [(False, False)] * len(handler.threads._idle)


def test_an_async_stream_holds_no_connection_while_its_client_does_not_read(transactional_db, handler):
    """The view of an async stream gives its database connection back before the stream is sent."""
    from django.db import connections

    connections["default"].close()

    async def scenario():
        stall, sending = asyncio.Event(), asyncio.Event()
        stream = asyncio.create_task(_call(handler, "/streamed-async", stall=stall, stalled=sending))
        await sending.wait()
        in_use = await asyncio.get_running_loop().run_in_executor(None, _connections_in_use)
        stall.set()
        return in_use, await stream

    in_use, (status, body) = async_to_sync(scenario)()
    assert in_use == 0
    assert status == 200 and body == b"x" * 200_000


def test_the_servers_start_up_objects_are_kept_out_of_full_collections():
    """tutoring.asgi freezes what Django set up (gc.freeze): the garbage collector's full passes
    no longer walk it (a pass over the ~250,000 objects took 150-170 ms on the creator's list
    page, a pause for whichever request it fell in)."""
    import gc

    import tutoring.asgi  # noqa: F401 - importing it is what sets the server up

    assert gc.get_freeze_count() > 50_000
