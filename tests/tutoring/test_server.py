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
import threading
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


def test_a_streamed_export_is_made_in_its_requests_thread_and_sent_as_it_comes(transactional_db, creator,
                                                                               make_session):
    """The creator's CSV export through tutoring.asgi: its rows are read in the request's thread
    (where its database connection is) and sent a part at a time. Django's handler read the
    whole stream into memory first, in another thread (with the warning "StreamingHttpResponse
    must consume synchronous iterators")."""
    import warnings

    from django.db import connection
    from django.db.backends.signals import connection_created

    sessions = [make_session(start=NOW + timedelta(days=day)) for day in (1, 2, 3)]
    browser = Client()
    browser.force_login(creator)
    cookie = browser.cookies["sessionid"].value
    connection.close()  # the test's own, so that every connection below is the request's
    opened = []

    def note_connection(**kwargs):
        opened.append(threading.get_ident())

    connection_created.connect(note_connection, dispatch_uid="test-streamed-export")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, body, parts = async_to_sync(_asgi_get)("/dashboard/teaching/sessions/export.csv", cookie)
    finally:
        connection_created.disconnect(dispatch_uid="test-streamed-export")
    assert status == 200, body[:500]
    assert len(body.decode().strip().splitlines()) == 1 + len(sessions), body
    assert parts >= 1 + len(sessions), parts  # a part per row at least, and the closing message
    assert not [w for w in caught if "consume synchronous iterators" in str(w.message)], caught
    assert len(opened) >= 1 and len(set(opened)) == 1, opened  # one thread read the page and the rows


def test_code_in_a_requests_thread_reaches_the_servers_event_loop(transactional_db):
    """async_to_sync called in a request's thread (the room's presence broadcasts through the
    channel layer do) runs its coroutine on the server's event loop, as under Django's handler,
    not on a new loop in a new thread each time (with a new Redis connection each)."""
    import asyncio

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
    import asyncio

    from tutoring.asgi import Threads

    threads = Threads(1)
    order = []

    async def one_turn():
        """Let the tasks already scheduled run up to their next wait (one turn of the loop)."""
        turn = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(turn.set_result, None)
        await turn

    async def hold(name, release: asyncio.Event):
        async with threads.lend() as thread:
            order.append((name, thread))
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
