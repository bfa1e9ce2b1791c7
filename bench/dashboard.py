"""Benchmark of the creator's Session History (issue 5, item 11) on (at least) 1,000,000 sessions,
100,000 of them in the courses of one creator (bench/seed.py's BIG_CREATOR, `bench-creator`).

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/dashboard.py [--sessions N] [--requests R]
        [--db NAME] [--explain] [--no-wrk]

or, with the bench profile's embedded PostgreSQL and Redis (as `make bench` does):

    env -u DATABASE_URL -u REDIS_URL .venv/bin/python scripts/devstack.py test --profile bench -- \\
        .venv/bin/python bench/dashboard.py

Uses its own database (bench_tutoring on the server of DATABASE_URL, shared with bench/sweeps.py;
created and migrated when missing, seeded once by bench/seed.py, reused by later runs).

In process (django.test.Client, DEBUG off, logged in with force_login), each request is made R times
after 3 warm-ups: whole server time p50 / p95 (the client call and reading the response; for the CSV
only its first chunk), and the number of queries of one more request (CaptureQueriesContext). The
(sql, params) pairs that request ran are captured with connection.execute_wrapper and replayed
exactly, in order, on a separate psycopg connection (client-side binding as Django does, every row
fetched): "raw SQL" p50 / p95, the time the same request spends in the database and nothing else,
and page / raw SQL. Beside the lists: the admin changelist of all sessions on the same data, page 1
and page 4,000, both ours (/admin/) and a plain default ModelAdmin (bench/admin_changelist.py's).

The pages' pieces are cached under the creator's change stamps (creators/pagecache.py), so repeated
requests read them from Redis; the "cold" rows move the stamps before each request, as a new
session does ("cold:", nothing cached applies) or as a status change does ("cold, status change":
the frame piece stays), and show the first view after such a change, for reference. Every row
with a target is measured again as "uncached:" with the cache switched off (a DummyCache: every
piece built for each request), and a "both paths" table sets the two side by side against the
target: the uncached path must meet the targets on its own, and a cached piece is worth its code
only where it saves enough (issue 13 item 6).

Targets (the issue's, p95 of the whole server time): 20 ms for the lists (first page, page 400,
filtered, API, CSV first byte), 60 ms for stats and metrics over the creator's whole history. Then
throughput: wrk -t2 -c16 -d10s against gunicorn with 2 uvicorn workers (the production server) on
the list page (the creator's session cookie), served as deployed and again with the page cache off
(bench/settings_uncached.py, "uncached:"), and on /healthz (a bare Django view, for reference);
target 250 requests/s for the list page on both paths. Around each wrk run the CPU time of every
side is read from /proc (the web server's process tree, PostgreSQL's, Redis's, wrk's) and shown
per request, with the req/s the machine's cores would give if nothing else ran: req/s falls when
something else shares the machine, CPU per request much less, so it is what to compare between
runs on a busy machine.

The exit code is 0 even when a target is missed (the targets are not met yet; a summary line lists
the misses), 1 when a request is broken (an answer other than 200, wrk's non-2xx/3xx responses).
--explain then lists, for each miss, its slowest statements with the project code that ran them,
and EXPLAIN (ANALYZE, BUFFERS) of those over 5 ms. --only TEXT measures only the rows whose label
contains TEXT.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

from bench.admin_changelist import percentile, plain_admin_urlconf, setup_django  # noqa: E402  (no Django at import)
from bench.sweeps import use_database  # noqa: E402

LIST_TARGET_MS = 20.0
STATS_TARGET_MS = 60.0
RPS_TARGET = 250.0
PAGE_SIZE = 25  # creators.views.PAGE_SIZE and the API's default limit
DEEP_PAGE = 400  # the cursor of the row at position DEEP_PAGE * PAGE_SIZE (newest first)
ADMIN_DEEP_PAGE = 4_000  # ?p=4000 (100 per page)
WARM_UPS = 3
ROW_BUDGET_S = 45.0  # timing per row stops after this, not before MIN_SAMPLES samples: slow rows get fewer
MIN_SAMPLES = 10
LIST = "/dashboard/teaching/sessions"
API = "/api/creators/me/sessions"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000,
                        help="sessions to seed (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per row (default 30)")
    parser.add_argument("--db", default="bench_tutoring", help="database name (default bench_tutoring)")
    parser.add_argument("--explain", action="store_true",
                        help="EXPLAIN (ANALYZE, BUFFERS) the slowest statement of each row over its target")
    parser.add_argument("--no-wrk", action="store_true", help="skip the gunicorn + wrk throughput part")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="wrk -d (default 10)")
    parser.add_argument("--only", default="", metavar="TEXT",
                        help="measure only the in-process rows whose label contains TEXT")
    return parser.parse_args(argv)


# --- set-up ------------------------------------------------------------------------------------


def ensure_seeded(n: int) -> None:
    """Seed once: N sessions in all, a tenth of them (at most BIG_CREATOR_SESSIONS) the big creator's:
    each realistic batch gives the big creator a tenth of its sessions, up to that number."""
    from django.core.management import call_command
    from django.db import connection

    from bench.seed import BIG_CREATOR, BIG_CREATOR_SESSIONS, ensure
    from sessions.models import Session

    call_command("migrate", verbosity=0)
    total = Session.objects.count()
    owned = Session.objects.filter(course__creator__username=BIG_CREATOR).count()
    missing = max(n - total, 10 * (min(BIG_CREATOR_SESSIONS, n // 10) - owned))
    if missing > 0:
        print(f"seeding {missing:,} sessions with bench/seed.py (have {total:,}, {owned:,} of them "
              f"{BIG_CREATOR}'s) ...", flush=True)
        started = time.perf_counter()
        ensure(sessions=missing)
        print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    # the same physical state each run (other benchmarks share this database), as autovacuum would leave it
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # the rollups, their CourseTutor and CreatorTutor sums, the CourseStudent pairs and the stamps
        # too: every seeding statement updated their rows (dead versions that autovacuum clears within
        # minutes; right after a seed they slowed the cold rows 2x)
        cursor.execute("VACUUM (ANALYZE) tutoring_sessions_session, tutoring_user, tutoring_course, "
                       "creators_sessionrollup, creators_coursetutor, creators_creatortutor, "
                       "creators_coursestudent, creators_changestamp")
    print(f"vacuumed in {time.perf_counter() - started:.1f} s", flush=True)


@dataclass
class World:
    creator: object
    sessions: int
    owned: int
    course_id: int
    student_fragment: str
    deep_cursor: str
    deep_row: int  # the cursor's row: DEEP_PAGE * PAGE_SIZE, or the last one on a smaller database
    detail_id: int
    admin_deep_page: int  # ADMIN_DEEP_PAGE, or the last page on a smaller database


def the_world() -> World:
    """The big creator and the parameters of the requests, each found with one query up front."""
    from django.db import connection

    from bench.seed import BIG_CREATOR
    from sessions.models import Session, Status
    from tutoring.models import Course, User

    creator = User.objects.get(username=BIG_CREATOR)
    mine = Session.objects.filter(course__creator=creator)
    course_id = (Course.objects.filter(creator=creator).order_by("id").values_list("id", flat=True)
                 .filter(sessions__isnull=False).first())
    owned, total = mine.count(), Session.objects.count()
    deep_row = min(DEEP_PAGE * PAGE_SIZE, owned)
    with connection.cursor() as cursor:  # the row at position DEEP_PAGE * PAGE_SIZE, newest first
        cursor.execute("""
            SELECT s.scheduled_start, s.id FROM tutoring_sessions_session s
            JOIN tutoring_course c ON c.id = s.course_id WHERE c.creator_id = %s
            ORDER BY s.scheduled_start DESC, s.id DESC OFFSET %s LIMIT 1""", [creator.pk, deep_row - 1])
        start, pk = cursor.fetchone()
    newest = mine.select_related("student").order_by("-scheduled_start", "-id").first()
    detail = (mine.filter(status=Status.APPROVED).order_by("-scheduled_start", "-id")
              .values_list("id", flat=True)[0])
    return World(creator=creator, sessions=total, owned=owned, course_id=course_id,
                 student_fragment=newest.student.name.split()[-1], deep_cursor=f"{start.isoformat()}_{pk}",
                 deep_row=deep_row, detail_id=detail,
                 admin_deep_page=max(1, min(ADMIN_DEEP_PAGE, (total - 1) // 100 + 1)))


def admin_user():
    from tutoring.models import User

    user, _ = User.objects.update_or_create(username="bench-admin", defaults={
        "name": "Bench Admin", "is_staff": True, "is_superuser": True})
    return user


# --- the requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    label: str
    url: str
    target_ms: float | None  # None: for reference, no target
    who: str = "creator"  # which logged-in client: creator or admin
    chunks: int | None = None  # a streaming response: read this many chunks, then close
    htmx: bool = False
    plain_admin: bool = False  # served by the plain ModelAdmin's urlconf
    # before each request the creator's stamps move: "all" as a new session does (nothing cached
    # applies), "status" as a status change does (the frame piece stays cached)
    cold: str = ""
    uncached: bool = False  # the page cache switched off (a DummyCache): every piece built each time


UNCACHED = "uncached: "
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def probes(w: World) -> list[Probe]:
    """Every row, then the pages' rows with a target again with the page cache switched off: the
    uncached path must meet the same targets on its own (issue 13 item 6). The API reads no cached
    piece: its rows are the uncached path already."""
    rows = cached_probes(w)
    return rows + [replace(p, label=UNCACHED + p.label, uncached=True) for p in rows
                   if p.target_ms is not None and p.url.startswith(LIST)]


def cached_probes(w: World) -> list[Probe]:
    deep = urlencode({"cursor": w.deep_cursor})
    filtered = urlencode({"status": "completed", "course": w.course_id})
    student = urlencode({"student": w.student_fragment})
    all_time = urlencode({"range": "custom", "from": "2000-01-01"})
    after = f"after row {w.deep_row:,}"
    admin = "/admin/tutoring_sessions/session/"
    plain = "/plain-admin/tutoring_sessions/session/"
    return [
        Probe("list, first page", LIST, LIST_TARGET_MS),
        Probe(f"list, page {DEEP_PAGE} ({after})", f"{LIST}?{deep}", LIST_TARGET_MS),
        Probe("list, completed + one course", f"{LIST}?{filtered}", LIST_TARGET_MS),
        Probe(f"list, student '{w.student_fragment}'", f"{LIST}?{student}", LIST_TARGET_MS),
        Probe("list, filter change (htmx)", f"{LIST}?{filtered}", LIST_TARGET_MS, htmx=True),
        # the first view after a change of the creator's data (for reference: the pages' pieces
        # are cached under the creator's change stamps, and these rows move them each time)
        Probe("cold: list, first page", LIST, None, cold="all"),
        Probe("cold, status change: list page 1", LIST, None, cold="status"),
        Probe(f"cold: list, page {DEEP_PAGE}", f"{LIST}?{deep}", None, cold="all"),
        Probe("cold: list, completed + one course", f"{LIST}?{filtered}", None, cold="all"),
        Probe(f"cold: list, student '{w.student_fragment}'", f"{LIST}?{student}", None, cold="all"),
        Probe("cold: list, filter change (htmx)", f"{LIST}?{filtered}", None, htmx=True, cold="all"),
        Probe("cold: metrics + per-ST + chart", f"{LIST}/metrics", None, cold="all"),
        # a date range sends the metrics to the sessions (the rollups hold whole histories): all time
        # is the most there is to sum (for reference; no target)
        Probe("cold: metrics, custom range, all time", f"{LIST}/metrics?{all_time}", None, cold="all"),
        Probe("API list, first page", API, LIST_TARGET_MS),
        Probe(f"API list, page {DEEP_PAGE}", f"{API}?{deep}", LIST_TARGET_MS),
        Probe("API list, completed + one course", f"{API}?{filtered}", LIST_TARGET_MS),
        Probe("CSV export, first byte", f"{LIST}/export.csv", LIST_TARGET_MS, chunks=1),
        Probe("CSV export, first data row", f"{LIST}/export.csv", None, chunks=2),
        Probe("metrics + per-ST + chart", f"{LIST}/metrics", STATS_TARGET_MS),
        Probe("metrics, completed + one course", f"{LIST}/metrics?{filtered}", STATS_TARGET_MS),
        Probe("API stats (+ per-ST)", f"{API}/stats", STATS_TARGET_MS),
        Probe("detail, full page", f"{LIST}/{w.detail_id}/", None),
        Probe("detail, panel (htmx)", f"{LIST}/{w.detail_id}/", None, htmx=True),
        Probe("admin (ours), page 1", admin, None, who="admin"),
        Probe(f"admin (ours), page {w.admin_deep_page:,}", f"{admin}?p={w.admin_deep_page}", None,
              who="admin"),
        Probe("admin (plain), page 1", plain, None, who="admin", plain_admin=True),
        Probe(f"admin (plain), page {w.admin_deep_page:,}", f"{plain}?p={w.admin_deep_page}", None,
              who="admin", plain_admin=True),
    ]


@dataclass
class Result:
    probe: Probe
    samples: list[float]
    queries: int
    raw: list[float]
    statements: list  # (sql, params, many)
    per_statement: list[float]  # median replay ms of each statement
    origins: list[str] = field(default_factory=list)  # the project code that ran each statement
    skipped: int = 0  # transaction-control statements not replayed
    error: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def raw_p50(self) -> float:
        return statistics.median(self.raw) if self.raw else 0.0

    @property
    def raw_p95(self) -> float:
        return percentile(self.raw, 95) if self.raw else 0.0

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        if self.probe.target_ms is None:
            return "-"
        return "PASS" if self.p95 <= self.probe.target_ms else "FAIL"


def get(client, probe: Probe) -> None:
    """One request, its response read (a streaming one up to probe.chunks chunks) and closed."""
    headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{LIST}"} if probe.htmx else None
    response = client.get(probe.url, headers=headers)
    try:
        if response.status_code != 200:
            raise RuntimeError(f"GET {probe.url} answered {response.status_code}")
        if response.streaming:
            chunks = iter(response.streaming_content)
            for _ in range(probe.chunks or 10**9):
                if next(chunks, None) is None:
                    break
        else:
            response.content  # noqa: B018  (already rendered; as a server would send it)
    finally:
        response.close()


def origin() -> str:
    """The innermost frame of the project's own code (not Django's, not this benchmark's)."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        if path.startswith(str(ROOT)) and "/.venv/" not in path and not path.startswith(str(ROOT / "bench")):
            return f"{Path(path).relative_to(ROOT)}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "django (session, auth)"


def capture(client, probe: Probe) -> tuple[int, list]:
    """One request: the number of queries, and the (sql, params, many, origin) it ran, in order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ran = []

    def wrapper(execute, sql, params, many, context):
        ran.append((sql, params, many, origin()))
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as ctx, connection.execute_wrapper(wrapper):
        get(client, probe)
    return len(ctx.captured_queries), ran


_TX_CONTROL = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)


def replay_once(raw_conn, statements) -> list[float]:
    """Run the statements as Django ran them, fetching every row; ms per statement."""
    times = []
    with raw_conn.cursor() as cursor:
        for sql, params, many in statements:
            started = time.perf_counter()
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            if cursor.description is not None:
                cursor.fetchall()
            times.append((time.perf_counter() - started) * 1000)
    return times


def measure(client, raw_conn, probe: Probe, *, requests: int, creator_id: int) -> Result:
    from django.test import override_settings

    if probe.uncached:
        with override_settings(CACHES=NO_CACHE):
            return _measure(client, raw_conn, probe, requests=requests, creator_id=creator_id)
    return _measure(client, raw_conn, probe, requests=requests, creator_id=creator_id)


def _measure(client, raw_conn, probe: Probe, *, requests: int, creator_id: int) -> Result:
    from creators.stamps import bump

    def prepare():  # untimed
        if probe.cold:
            bump(creator_id, frame=probe.cold == "all")

    for _ in range(WARM_UPS):  # connection, caches, compiled templates
        prepare()
        get(client, probe)
    samples = []
    budget_end = time.perf_counter() + ROW_BUDGET_S
    while len(samples) < requests and (len(samples) < MIN_SAMPLES or time.perf_counter() < budget_end):
        prepare()
        started = time.perf_counter()
        get(client, probe)
        samples.append((time.perf_counter() - started) * 1000)
    prepare()
    queries, ran = capture(client, probe)
    kept = [s for s in ran if not _TX_CONTROL.match(s[0])]
    statements, origins = [s[:3] for s in kept], [s[3] for s in kept]
    # the database's side of the same request: exactly these statements, no Django, no rendering
    for _ in range(WARM_UPS):
        replay_once(raw_conn, statements)
    raw, per = [], []
    budget_end = time.perf_counter() + ROW_BUDGET_S
    while len(raw) < len(samples) and (len(raw) < MIN_SAMPLES or time.perf_counter() < budget_end):
        started = time.perf_counter()
        per.append(replay_once(raw_conn, statements))
        raw.append((time.perf_counter() - started) * 1000)
    per_statement = [statistics.median(col) for col in zip(*per, strict=True)] if statements else []
    return Result(probe, samples, queries, raw, statements, per_statement, origins,
                  skipped=len(ran) - len(statements))


def raw_connection():
    import psycopg
    from django.db import connection
    from django.db.backends.postgresql.psycopg_any import get_adapters_template

    # the same server and database, Django's cursor class (client-side binding) and type loaders,
    # autocommit as Django runs, no prepared statements (Django's default)
    return psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, cursor_factory=psycopg.ClientCursor,
                           context=get_adapters_template(True, connection.timezone), prepare_threshold=None)


# --- throughput: gunicorn + wrk ----------------------------------------------------------------


@dataclass
class WrkRow:
    label: str
    rps: float
    p99_ms: float
    errors: str  # the measurement is broken: a non-200 answer, wrk's output unreadable, non-2xx/3xx responses
    target: float | None
    note: str = ""  # wrk's socket errors (timeouts, resets): reported, the verdict stays on req/s
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per request, by side (see serving_cpu)

    @property
    def verdict(self) -> str:
        if self.errors:
            return "ERROR"
        if self.target is None:
            return "-"
        return "PASS" if self.rps >= self.target else "FAIL"


def ensure_wrk() -> str | None:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's wrk with apt-get ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "install", "-y", "-qq", "wrk"], ["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "wrk"]):
            done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode == 0 and shutil.which("wrk"):
                return shutil.which("wrk")
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(proc: subprocess.Popen, wait: float = 20) -> None:
    """SIGTERM (a server's graceful stop), then SIGKILL after `wait` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_status(port: int, path: str, cookie: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"} if cookie else {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(wrk: str, url: str, cookie: str | None, seconds: int) -> tuple[float, float, str, str]:
    # --timeout 30s: wrk's default (2 s) leaves slower responses out of its latency figures
    command = [wrk, "-t2", "-c16", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: sessionid={cookie}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s*\d+", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    note = sockets.group(0) if sockets and any(int(n) for n in sockets.groups()) else ""
    if not rps or not p99:
        return 0.0, 0.0, f"could not read wrk's output: {out.strip()[-200:]}", note
    return float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], bad.group(0) if bad else "", note


def _tree_cpu_s(roots: list[int]) -> float:
    """User + system CPU seconds of these processes and all their descendants (Linux /proc)."""
    parents, times = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = int(fields[11]) + int(fields[12])
    members, grew = set(roots), True
    while grew:
        before = len(members)
        members |= {pid for pid, parent in parents.items() if parent in members}
        grew = len(members) > before
    return sum(times.get(pid, 0) for pid in members) / os.sysconf("SC_CLK_TCK")


def _reaped_children_cpu_s() -> float:
    """CPU seconds of this process's children that ended and were waited for (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _service_pids() -> dict[str, int]:
    """The PostgreSQL postmaster and the Redis server the bench uses, when they run on this machine
    (their CPU per request is part of what the list page costs)."""
    import redis as redis_py
    from django.conf import settings
    from django.db import connection

    pids = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('data_directory')")
            pids["PostgreSQL"] = int((Path(cursor.fetchone()[0]) / "postmaster.pid").read_text().split()[0])
    except Exception:  # noqa: BLE001 - another machine's server, or no right to read its directory
        pass
    try:
        pids["Redis"] = int(redis_py.Redis.from_url(settings.REDIS_URL).info("server")["process_id"])
    except Exception:  # noqa: BLE001
        pass
    return {name: pid for name, pid in pids.items() if Path(f"/proc/{pid}").exists()}


def serving_cpu(server_pid: int, services: dict[str, int]):
    """A snapshot function: CPU seconds so far of the web server's process tree, of each service
    and of wrk, to turn into CPU ms per request around a wrk run.
    CPU per request does not depend on what else runs on the machine the way req/s does."""
    def snapshot() -> dict[str, float]:
        return {"Django": _tree_cpu_s([server_pid]), **{name: _tree_cpu_s([pid]) for name, pid in services.items()},
                "wrk": _reaped_children_cpu_s()}
    return snapshot


def throughput(args, cookie: str) -> list[WrkRow]:
    """wrk on the list page served as deployed (the page cache on) and with the page cache off
    (bench/settings_uncached.py: the uncached path's throughput, issue 13 item 6), and on
    /healthz for reference; each server started, measured and stopped in turn."""
    wrk = ensure_wrk()
    if wrk is None:
        print("wrk not found and not installable here: throughput skipped", flush=True)
        return []
    rows = []
    served = (("list page (creator)", LIST, cookie, RPS_TARGET),
              ("/healthz (bare Django view)", "/healthz", None, None))
    uncached = ((UNCACHED + "list page (creator)", LIST, cookie, RPS_TARGET),)
    for settings_module, targets in (("tutoring.settings", served), ("bench.settings_uncached", uncached)):
        rows += _serve_and_measure(wrk, args, settings_module, targets)
    return rows


def _serve_and_measure(wrk: str, args, settings_module: str, targets) -> list[WrkRow]:
    port = free_port()
    env = dict(os.environ, DJANGO_ENV="development", DEBUG="false", ALLOWED_HOSTS="127.0.0.1",
               LOG_LEVEL="WARNING", CELERY_TASK_ALWAYS_EAGER="false", DJANGO_SETTINGS_MODULE=settings_module)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
    print(f"gunicorn tutoring.asgi -k uvicorn_worker.UvicornWorker -w 2 on 127.0.0.1:{port} "
          f"(the production server; DJANGO_ENV=development, DEBUG off, {settings_module})", flush=True)
    proc = subprocess.Popen([*command, "tutoring.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
                             "-w", "2", "-b", f"127.0.0.1:{port}", "--no-control-socket"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    rows, cpu = [], serving_cpu(proc.pid, _service_pids())
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}); see {log.name}")
            try:
                if http_status(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 60 s; see {log.name}")
            time.sleep(0.2)
        for label, path, cookie_of, target in targets:
            status = http_status(port, path, cookie_of)
            if status != 200:
                rows.append(WrkRow(label, 0.0, 0.0, f"GET {path} answered {status}", target))
                continue
            url = f"http://127.0.0.1:{port}{path}"
            run_wrk(wrk, url, cookie_of, 2)  # warm-up: both workers' connections and templates
            before = cpu()
            rps, p99, errors, note = run_wrk(wrk, url, cookie_of, args.wrk_seconds)
            after, served = cpu(), rps * args.wrk_seconds
            per_request = {side: 1000 * (after[side] - before[side]) / served for side in after} if served else {}
            rows.append(WrkRow(label, rps, p99, errors, target, note, per_request))
            extra = "; ".join(x for x in (errors, note) if x)
            extra = f" ({extra})" if extra else ""
            print(f"  wrk {label}: {rps:,.0f} req/s, p99 {p99:.1f} ms{extra}", flush=True)
    finally:
        stop_process(proc)
        log.close()
        print("gunicorn stopped", flush=True)
    if not any(row.errors for row in rows):
        os.unlink(log.name)  # kept only when something went wrong
    return rows


# --- the run -----------------------------------------------------------------------------------


def both_paths(results: list[Result]) -> None:
    """Each targeted request with the page cache (as served) and without it (every piece built):
    what the cache buys, and whether the uncached path meets the target on its own."""
    uncached = {r.probe.label.removeprefix(UNCACHED): r for r in results if r.probe.uncached and not r.error}
    pairs = [(r, uncached[r.probe.label]) for r in results
             if not r.probe.uncached and not r.error and r.probe.label in uncached]
    if not pairs:
        return
    print()
    header = (f"{'both paths (p95 ms)':36} | {'cached':>8} {'':>5} | {'uncached':>8} {'':>5} | "
              f"{'saves':>7} | {'target':>6}")
    print(header)
    print("-" * len(header))
    for cached, built in pairs:
        print(f"{cached.probe.label:36} | {cached.p95:8.1f} {cached.verdict:>5} | {built.p95:8.1f} "
              f"{built.verdict:>5} | {built.p95 - cached.p95:7.1f} | {fmt_target(cached):>6}")


def fmt_target(r: Result) -> str:
    return f"{r.probe.target_ms:.0f}" if r.probe.target_ms is not None else "-"


def machine_speed_ms() -> float:
    """This machine's Python speed when the table is printed: `sum(range(10**6))`, best of 5, in ms.
    The same code measures 12-14 ms on a quiet day of the VM these targets were set on and up to
    ~20 ms on a slow one; read the table's absolute figures against it."""
    return min(timeit.repeat("sum(range(10**6))", number=10, repeat=5)) / 10 * 1000


def print_table(w: World, results: list[Result], wrk_rows: list[WrkRow], args) -> None:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print()
    print(f"Creator Session History on {w.sessions:,} sessions, {w.owned:,} of them {w.creator.username}'s "
          f"(Django {django.get_version()}, PostgreSQL {pg}, {os.cpu_count()} CPUs, load {load}; "
          f"Python speed: sum(range(10**6)) {machine_speed_ms():.1f} ms)")
    header = (f"{'request':36} {'n':>3} | {'p50 ms':>8} {'p95 ms':>8} {'qry':>4} | {'raw p50':>8} "
              f"{'raw p95':>8} {'top stmt':>8} | {'page/raw':>8} | {'target':>6} {'p95':>5}")
    print(header)
    print("-" * len(header))
    for r in results:
        if r.error:
            print(f"{r.probe.label:36} ERROR: {r.error}")
            continue
        top = max(r.per_statement, default=0.0)
        ratio = r.p50 / r.raw_p50 if r.raw_p50 else 0.0
        print(f"{r.probe.label:36} {len(r.samples):>3} | {r.p50:8.1f} {r.p95:8.1f} {r.queries:4d} | "
              f"{r.raw_p50:8.1f} {r.raw_p95:8.1f} {top:8.1f} | {ratio:7.1f}x | {fmt_target(r):>6} "
              f"{r.verdict:>5}")
    both_paths(results)
    if wrk_rows:
        print()
        title = f"wrk -t2 -c16 -d{args.wrk_seconds}s (gunicorn -w 2)"
        header = f"{title:36} | {'req/s':>8} {'p99 ms':>8} | {'target':>6} {'':>5}"
        print(header)
        print("-" * len(header))
        for row in wrk_rows:
            target = f"{row.target:.0f}" if row.target else "-"
            extra = "; ".join(x for x in (row.errors, row.note) if x)
            extra = f"  ({extra})" if extra else ""
            print(f"{row.label:36} | {row.rps:8.0f} {row.p99_ms:8.1f} | {target:>6} {row.verdict:>5}{extra}")
        sides = [side for side in wrk_rows[0].cpu_ms]
        if sides:
            cores = os.cpu_count() or 1
            print(f"\nCPU ms per request during that run ({', '.join(sides)}: each side's processes; "
                  f"bound: the req/s the {cores} cores would give if nothing else ran, {cores} x 1000 / all)")
            header = f"{'':36} | " + " ".join(f"{side:>10}" for side in sides) + f" | {'all':>6} {'bound':>7}"
            print(header)
            print("-" * len(header))
            for row in wrk_rows:
                total = sum(row.cpu_ms.values())
                bound = f"{cores * 1000 / total:7.0f}" if total else f"{'-':>7}"
                print(f"{row.label:36} | " + " ".join(f"{row.cpu_ms.get(side, 0):10.2f}" for side in sides)
                      + f" | {total:6.2f} {bound}")
    print(f"\nms per request, in process (django.test.Client, DEBUG off), {WARM_UPS} warm-ups then n timed; "
          f"the CSV rows read only the first chunk(s) of the stream. qry: queries of one request. raw: the "
          f"same request's captured (sql, params) replayed with psycopg; top stmt: its slowest statement "
          f"(p50); page/raw: p50 / raw p50. Targets are p95: {LIST_TARGET_MS:.0f} ms lists, "
          f"{STATS_TARGET_MS:.0f} ms stats/metrics; {RPS_TARGET:.0f} req/s for the list page (wrk with "
          f"--latency --timeout 30s, after a 2 s warm-up).")


EXPLAIN_MIN_MS = 5.0  # --explain: plans of the statements of a miss that take at least this long


def explain(raw_conn, r: Result, explained: dict[str, str]) -> None:
    """A miss's statements by replay time, with the project code that ran them; then EXPLAIN (ANALYZE,
    BUFFERS) of each of them taking EXPLAIN_MIN_MS or more (once per statement and parameters)."""
    if not r.statements:
        return
    order = sorted(range(len(r.statements)), key=lambda i: -r.per_statement[i])
    print(f"\n== {r.probe.label}: {r.raw_p50:.1f} ms raw SQL in {len(r.statements)} statements; the slowest:")
    for i in order[:3]:
        sql = " ".join(r.statements[i][0].split())
        print(f"   #{i + 1} {r.per_statement[i]:7.1f} ms  {r.origins[i]}: {sql[:90]}")
    for i in order:
        sql, params, many = r.statements[i]
        if r.per_statement[i] < EXPLAIN_MIN_MS or many or not sql.lstrip().upper().startswith("SELECT"):
            continue
        key = f"{sql}|{params!r}"
        if key in explained:
            print(f"   #{i + 1}: plan shown under \"{explained[key]}\"")
            continue
        explained[key] = r.probe.label
        print(f"\n   #{i + 1} ({r.origins[i]}): {' '.join(sql.split())[:1500]}")
        print(f"   params: {params!r}"[:400])
        with raw_conn.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            for (line,) in cursor.fetchall():
                print(f"     {line}")


def run(args) -> int:
    from django.test import Client, override_settings

    w = the_world()
    creator_client, admin_client = Client(), Client()
    creator_client.force_login(w.creator)
    admin_client.force_login(admin_user())
    clients = {"creator": creator_client, "admin": admin_client}
    plain_urls = plain_admin_urlconf()
    results = []
    with raw_connection() as raw_conn:
        print(f"measuring ({args.requests} requests per row, at most ~{ROW_BUDGET_S:.0f} s per row) ...",
              flush=True)
        for probe in (p for p in probes(w) if args.only.lower() in p.label.lower()):
            started = time.perf_counter()
            try:
                if probe.plain_admin:
                    with override_settings(ROOT_URLCONF=plain_urls):
                        r = measure(clients[probe.who], raw_conn, probe, requests=args.requests, creator_id=w.creator.pk)
                else:
                    r = measure(clients[probe.who], raw_conn, probe, requests=args.requests, creator_id=w.creator.pk)
            except Exception as exc:  # noqa: BLE001  (one broken row must not hide the others)
                r = Result(probe, [0.0], 0, [], [], [], error=f"{type(exc).__name__}: {exc}"[:300])
            results.append(r)
            if not r.error:
                print(f"  {probe.label}: p50 {r.p50:.1f} ms, p95 {r.p95:.1f} ms, {r.queries} queries, "
                      f"raw SQL p50 {r.raw_p50:.1f} ms ({time.perf_counter() - started:.0f} s)"
                      + (f"; {r.skipped} savepoint statements not replayed" if r.skipped else ""), flush=True)
            else:
                print(f"  {probe.label}: {r.error}", flush=True)
        wrk_rows = []
        if not args.no_wrk:
            try:
                wrk_rows = throughput(args, creator_client.cookies["sessionid"].value)
            except Exception as exc:  # noqa: BLE001
                print(f"throughput: {type(exc).__name__}: {exc}", flush=True)
                wrk_rows = [WrkRow("list page (creator)", 0.0, 0.0, str(exc)[:200], RPS_TARGET)]
        print_table(w, results, wrk_rows, args)
        missed = [f"{r.probe.label} (ERROR)" if r.error else
                  f"{r.probe.label} (p95 {r.p95:.0f} ms > {r.probe.target_ms:.0f} ms)"
                  for r in results if r.verdict in ("FAIL", "ERROR")]
        missed += [f"{row.label} (ERROR: {row.errors})" if row.errors else
                   f"{row.label} ({row.rps:.0f} req/s < {RPS_TARGET:.0f})"
                   for row in wrk_rows if row.verdict in ("FAIL", "ERROR")]
        targets = (sum(r.probe.target_ms is not None for r in results)
                   + sum(row.target is not None for row in wrk_rows))
        if missed:
            print(f"\nmissed {len(missed)} of {targets} targets: {'; '.join(missed)}")
        else:
            print(f"\nall {targets} targets met")
        if args.explain:
            explained: dict[str, str] = {}
            for r in results:
                if r.verdict == "FAIL":
                    explain(raw_conn, r, explained)
    # the targets are the and not met yet: a miss is reported, not failed; a broken request is
    broken = any(r.error for r in results) or any(row.errors for row in wrk_rows)
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_database(args.db)
    setup_django()
    ensure_seeded(args.sessions)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
