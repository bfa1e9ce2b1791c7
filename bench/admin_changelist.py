"""Benchmark of the coordinators' session changelist on (at least) 1,000,000 sessions.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/admin_changelist.py [--sessions N]
        [--requests R] [--plain-requests R] [--db NAME] [--drop] [--explain]

Uses its own database (admin_bench on the server of DATABASE_URL; created and migrated when missing,
seeded once by bench/seed.py, reused by later runs; --drop removes it at the end).
A coordinator (staff, not a superuser) is logged in with django.test.Client, and each page is
requested R times after a warm-up, from our SessionAdmin at /admin/ and from a plain default
ModelAdmin (the model's own columns, the same filters, Django's defaults for everything else)
registered on a throwaway AdminSite at /plain-admin/: p50 / p95 wall time per request, this
process's CPU per request (the machine may be shared: CPU time does not grow with its load), the
number of queries and the time spent in SQL, and the ratio plain / ours measured in this run.
--explain prints EXPLAIN ANALYZE of each of our pages' slowest query.

Target: our list, page 4,000 (100 per page) and the sort by start under 100 ms (p50).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

TARGET_MS = 100.0
SQL_SAMPLES = 5  # captured requests per page for the SQL time (median)
DEEP_PAGE = 4_000  # 1-based (?p=4000): rows 399,901-400,000 at 100 per page


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000,
                        help="sessions to seed (default 1,000,000)")
    parser.add_argument("--requests", type=int, default=30,
                        help="timed requests per page of ours (default 30)")
    parser.add_argument("--plain-requests", type=int, default=10,
                        help="timed requests per page of the plain admin (default 10: it is slow)")
    parser.add_argument("--db", default="admin_bench", help="database name (default admin_bench)")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each page's slowest query")
    parser.add_argument("--deep-page", type=int, default=DEEP_PAGE,
                        help=f"the deep page (default {DEEP_PAGE:,})")
    return parser.parse_args(argv)


# --- set-up ------------------------------------------------------------------------------------


def server_url(name: str) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL (any database on the server to use) and REDIS_URL.")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def use_database(name: str) -> None:
    """Point DATABASE_URL at `name` on the same server, creating the database if missing."""
    import psycopg

    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')  # name is our own option, not user data
            print(f"created database {name}")
    os.environ["DATABASE_URL"] = server_url(name)


def drop_database(name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped database {name}")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
    os.environ["DEBUG"] = "false"  # what production renders; DEBUG adds per-query bookkeeping
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()


def ensure_sessions(n: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from sessions.models import Session

    call_command("migrate", verbosity=0)
    have = Session.objects.count()
    if have < n:
        print(f"seeding {n - have:,} sessions with bench/seed.py (have {have:,}) ...", flush=True)
        started = time.perf_counter()
        from bench.seed import ensure

        ensure(sessions=n - have)
        print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)
    # The visibility map makes the deep page's OFFSET an index-only scan, as autovacuum would.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) tutoring_sessions_session, tutoring_sessions_sessionevent, "
                       "tutoring_user")
    print(f"{Session.objects.count():,} sessions", flush=True)


def bench_coordinator():
    from tutoring.models import Role, User

    user, _ = User.objects.update_or_create(username="bench-coordinator", defaults={
        "name": "Bench Coordinator", "roles": [Role.COORDINATOR], "is_staff": True, "is_superuser": False})
    return user


def plain_admin_urlconf() -> types.ModuleType:
    """/admin/ is ours; /plain-admin/ is a throwaway AdminSite with default ModelAdmins (only the
    permission rule is ours, so the same coordinator may open it; it costs no query)."""
    from django.contrib import admin
    from django.urls import path

    from sessions.admin import SessionAdmin
    from sessions.models import Session, SessionEvent
    from tutoring.admin import CoordinatorAccess

    class PlainSessionAdmin(CoordinatorAccess, admin.ModelAdmin):
        # the model's own columns where ours folds source / trial / add-on into one "kind" column
        list_display = ("id", "scheduled_start", "status", "tutor", "student", "course", "source", "is_trial",
                        "billed_as_addon")
        list_filter = SessionAdmin.list_filter
        search_fields = ("tutor__name", "student__name")

    class PlainEventAdmin(CoordinatorAccess, admin.ModelAdmin):
        list_display = ("id", "session", "kind", "from_status", "to_status", "channel", "actor", "created_at")

    site = admin.AdminSite(name="plain_admin")
    site.register(Session, PlainSessionAdmin)
    site.register(SessionEvent, PlainEventAdmin)
    urls = types.ModuleType("admin_bench_urls")
    urls.urlpatterns = [path("admin/", admin.site.urls), path("plain-admin/", site.urls)]
    return urls


# --- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    label: str
    path: str  # under /admin/ and /plain-admin/
    required: bool = False  # must meet TARGET_MS


def pages(tutor_name: str, deep: int) -> list[Page]:
    from sessions.admin import SessionAdmin

    start = 1 + SessionAdmin.list_display.index("scheduled_start")  # column 0 is the action checkbox
    sessions = "tutoring_sessions/session/"
    return [
        Page("sessions, page 1", sessions, required=True),
        Page(f"sessions, page {deep:,}", f"{sessions}?p={deep}", required=True),
        Page("sorted by start (asc)", f"{sessions}?o={start}", required=True),
        Page(f"sorted by start, page {deep:,}", f"{sessions}?o={start}&p={deep}"),
        Page("filter status=disputed", f"{sessions}?status__exact=disputed"),
        Page("filter status=approved, trial", f"{sessions}?status__exact=approved&is_trial__exact=0"),
        Page("filter this month", "{}?scheduled_start__gte={}&scheduled_start__lt={}".format(
            sessions, *this_month())),
        Page("search tutor name", f"{sessions}?q={tutor_name.replace(' ', '+')}"),
        Page("events, page 1", "tutoring_sessions/sessionevent/"),
        Page(f"events, page {deep:,}", f"tutoring_sessions/sessionevent/?p={deep}"),
    ]


def this_month() -> tuple[str, str]:
    """The bounds the date filter's "This month" link uses."""
    from datetime import timedelta

    from django.utils import timezone

    first = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    after = (first + timedelta(days=32)).replace(day=1)
    return quote(first.isoformat()), quote(after.isoformat())


@dataclass
class Timing:
    p50: float
    p95: float
    cpu_p50: float  # this process's CPU per request (Python + rendering), whatever the load
    queries: int
    sql_ms: float
    slowest_sql: str


def measure(client, url: str, *, requests: int) -> Timing:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):  # warm-up: connection, caches, compiled templates
        check(client.get(url), url)
    samples, cpu = [], []
    for _ in range(requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        check(client.get(url), url)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    sql_ms, queries = [], []
    for _ in range(SQL_SAMPLES):  # apart from the timed requests: capturing costs time itself
        with CaptureQueriesContext(connection) as ctx:
            check(client.get(url), url)
        queries = ctx.captured_queries
        sql_ms.append(sum(float(q["time"]) for q in queries) * 1000)
    slowest = max(queries, key=lambda q: float(q["time"]))
    return Timing(p50=statistics.median(samples), p95=percentile(samples, 95), cpu_p50=statistics.median(cpu),
                  queries=len(queries), sql_ms=statistics.median(sql_ms), slowest_sql=slowest["sql"])


def percentile(samples: list[float], pct: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def check(response, url: str) -> None:
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")


def explain(sql: str) -> str:
    """The captured SQL has its parameters inlined (PostgreSQL's own quoting): runnable as is."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}")
        return "\n".join(f"      {row[0]}" for row in cursor.fetchall())


# --- the run -----------------------------------------------------------------------------------


def fmt(t: Timing) -> str:
    return f"{t.p50:8.1f} {t.p95:8.1f} {t.cpu_p50:7.1f} {t.queries:4d} {t.sql_ms:7.1f}"


def run(args: argparse.Namespace) -> int:
    from django.test import Client, override_settings

    from sessions.models import Session

    client = Client()
    client.force_login(bench_coordinator())
    tutor_name = str(Session.objects.select_related("tutor").order_by("-id").first().tutor)
    failed = []
    header = (f"{'page':34} | {'ours p50':>8} {'p95':>8} {'cpu':>7} {'qry':>4} {'sql':>7} | "
              f"{'plain p50':>9} {'p95':>8} {'cpu':>7} {'qry':>4} {'sql':>7} | {'plain/ours':>10}")
    with override_settings(ROOT_URLCONF=plain_admin_urlconf()):
        print(f"\n{header}\n{'-' * len(header)}", flush=True)
        for page in pages(tutor_name, args.deep_page):
            ours = measure(client, f"/admin/{page.path}", requests=args.requests)
            plain = measure(client, f"/plain-admin/{page.path}", requests=args.plain_requests)
            ratio = plain.p50 / ours.p50
            flag = " <-- over target" if page.required and ours.p50 >= TARGET_MS else ""
            print(f"{page.label:34} | {fmt(ours)} | {fmt(plain):>38} | {ratio:9.1f}x{flag}", flush=True)
            if flag:
                failed.append(page.label)
            if args.explain:
                print(f"    slowest query of ours:\n      {' '.join(ours.slowest_sql.split())[:400]}\n"
                      f"{explain(ours.slowest_sql)}", flush=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nms per request: p50 / p95 wall time (in-process django.test.Client, DEBUG off); cpu = this "
          f"process's CPU per request (p50); sql = time in the database per request (median of "
          f"{SQL_SAMPLES}); qry = queries per request. Target for the first three rows: p50 < {TARGET_MS:.0f} ms. "
          f"Load average now: {load} on {os.cpu_count()} CPUs.")
    if failed:
        print(f"over target: {', '.join(failed)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_database(args.db)
    setup_django()
    try:
        ensure_sessions(args.sessions)
        return run(args)
    finally:
        if args.drop:
            drop_database(args.db)


if __name__ == "__main__":
    raise SystemExit(main())
