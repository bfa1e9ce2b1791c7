"""Benchmark of the scheduler sweeps on a database of (at least) a million sessions.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/sweeps.py [--sessions N --due K]

Uses its own database (bench_tutoring on the server of DATABASE_URL; created and migrated when
missing) and seeds it once with bench/seed.py (N sessions, K due threads). Each run then tops the
due work up to K open reschedule threads past their session's start and --no-shows scheduled
sessions past their check-in day (earlier runs cleared theirs; tops-ups are fresh batches, so
the database grows by about K sessions per run), and measures:

  * lifecycle.expire_due_reschedules and lifecycle.mark_due_no_shows (set-based, batched);
  * a second run of both, which must change nothing;
  * lifecycle.expire_reschedule called row by row on a fresh sample of due threads,
    for the ratio of rows/s set-based vs row by row.

The sweeps ask for the outbox relay (notifications.tasks.relay_events) after each commit. Here
tasks are not eager: they go to a private Redis queue nobody consumes (so neither a worker nor
the shared `celery` queue sees them), which is purged at the end: notifications are not what is
measured (bench/notifications.py measures them).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(ROOT))

BENCH_QUEUE = "bench-notify"
TARGET_SECONDS = 10.0  # 100,000 expiries must take at most this


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000,
                        help="sessions to seed (default 1,000,000)")
    parser.add_argument("--due", type=int, default=100_000,
                        help="open due reschedule threads (default 100,000)")
    parser.add_argument("--no-shows", type=int, default=None,
                        help="scheduled sessions due for the no-show sweep (default: a fifth of --due)")
    parser.add_argument("--sample", type=int, default=2_000, help="row-by-row sample size (default 2,000)")
    parser.add_argument("--db", default="bench_tutoring", help="database name (default bench_tutoring)")
    args = parser.parse_args(argv)
    if args.no_shows is None:
        args.no_shows = args.due // 5
    return args


# --- set-up ------------------------------------------------------------------------------------


def use_database(name: str) -> None:
    """Point DATABASE_URL at `name` on the same server, creating the database if missing."""
    import psycopg

    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL (any database on the server to use) and REDIS_URL.")
    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')  # name is our own option, not user data
            print(f"created database {name}")
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
    # not eager: a sweep's relay_events is pushed to Redis, not run inline in the timing
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    import django

    django.setup()
    from tutoring.celery import app

    # before any task is sent: route notifications to a queue no worker consumes
    app.conf.task_routes = {"notifications.tasks.relay_events": {"queue": BENCH_QUEUE}}


def warm_up_broker() -> None:
    """The first task sent imports and connects the transport: do it before measuring, so it is
    not counted in the first sweep's time and Python peak (and clear a crashed run's leftovers)."""
    from notifications.tasks import relay_events

    relay_events.delay([])  # routed to the private queue; notifies nobody
    purge_notifications()


def purge_notifications() -> int:
    from tutoring.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(BENCH_QUEUE) or 0


# --- the due work ------------------------------------------------------------------------------


def due_threads(now) -> int:
    from sessions.models import RescheduleThread, Status, ThreadStatus

    return RescheduleThread.objects.filter(status=ThreadStatus.OPEN, session__status=Status.SCHEDULED,
                                           session__scheduled_start__lte=now).count()


def due_no_shows(now) -> int:
    """How many sessions the no-show sweep would mark: its own condition (sweeps._NO_SHOW_DUE)."""
    from django.db import connection

    from sessions.lifecycle import sweeps

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tutoring_sessions_session s "
                       f"JOIN tutoring_user u ON u.id = s.tutor_id WHERE {sweeps._NO_SHOW_DUE}", {"now": now})
        return cursor.fetchone()[0]


def ensure_seeded(args) -> float | None:
    """Seed once: the demo world, N sessions and K due threads (skipped when already there)."""
    from sessions.models import Session

    missing = args.sessions - Session.objects.count()
    if missing <= 0:
        return None
    print(f"seeding {missing:,} sessions and {args.due:,} due threads (once per database)...", flush=True)
    started = time.perf_counter()
    from bench.seed import ensure

    ensure(sessions=missing, due_threads=args.due)
    return time.perf_counter() - started


def top_up(args, now) -> None:
    """Earlier runs cleared the due work; add fresh batches until there is K and M of it again."""
    from bench.seed import DUE_NO_SHOWS, DUE_THREADS, seed_bulk

    wanted = ((args.due, due_threads, DUE_THREADS), (args.no_shows, due_no_shows, DUE_NO_SHOWS))
    for target, count, mix in wanted:
        short = target - count(now)
        if short > 0:
            batch = seed_bulk(n=short, mix=mix, now=now)
            print(f"topped up {short:,} {mix} ({batch.tag}) in {batch.seconds:.1f} s", flush=True)


def vacuum() -> None:
    """Earlier runs left dead row versions behind; start each run from the same physical state
    instead of from wherever autovacuum happens to be."""
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) tutoring_sessions_session, tutoring_sessions_reschedulethread, "
                       "tutoring_sessions_rescheduleproposal, tutoring_sessions_sessionevent")
    print(f"vacuumed in {time.perf_counter() - started:.1f} s", flush=True)


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    rows: int
    seconds: float
    rss_mb: float
    traced_mb: float | None

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure(name: str, fn, *, trace: bool = True) -> Row:
    """Time fn() (it returns the rows it changed). tracemalloc slows Python down, so it is on only
    where Python does little (the set-based sweeps), never for the row-by-row loop."""
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    rows = fn()
    seconds = time.perf_counter() - started
    traced = None
    if trace:
        traced = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    row = Row(name, rows, seconds, rss, traced)
    print(f"  {name}: {rows:,} rows in {seconds:.2f} s", flush=True)
    return row


def row_by_row(args, now) -> tuple[Row, int]:
    """Expire a fresh sample of due threads one session at a time through the lifecycle."""
    from sessions import lifecycle
    from bench.seed import DUE_THREADS, seed_bulk
    from sessions.models import Session

    batch = seed_bulk(n=args.sample, mix=DUE_THREADS, now=now)
    sample = Session.objects.filter(tutor_id__in=batch.tutor_ids).order_by("pk")
    ids = list(sample.values_list("pk", flat=True))

    def expire_each() -> int:
        return sum(lifecycle.expire_reschedule(pk, now=now) is not None for pk in ids)

    return measure("expire_reschedule, row by row", expire_each, trace=False), len(ids)


def print_table(rows: list[Row], *, sessions: int, seeded: float | None, pushed: int) -> None:
    print()
    print(f"Sweeps benchmark on {sessions:,} sessions" + (f" (seeded in {seeded:.0f} s)" if seeded else ""))
    header = (f"{'step':<40} {'rows':>9} {'seconds':>9} {'rows/s':>10} {'peak RSS MB':>12} "
              f"{'py peak MB':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        traced = f"{r.traced_mb:.1f}" if r.traced_mb is not None else "-"
        print(f"{r.name:<40} {r.rows:>9,} {r.seconds:>9.3f} {r.rate:>10,.0f} {r.rss_mb:>12.0f} {traced:>11}")
    print(f"(peak RSS is the process high-water mark so far; {pushed:,} relay tasks were queued and purged)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_database(args.db)
    setup_django()
    from django.core.management import call_command
    from django.utils import timezone

    from sessions import lifecycle
    from sessions.models import Session

    call_command("migrate", verbosity=0)
    warm_up_broker()
    seeded = ensure_seeded(args)
    now = timezone.now()
    top_up(args, now)
    vacuum()
    expected = due_threads(now)
    print("measuring...", flush=True)
    rows = [
        measure("expire_due_reschedules", lambda: lifecycle.expire_due_reschedules(now=now)),
        measure("mark_due_no_shows", lambda: lifecycle.mark_due_no_shows(now=now)),
        measure("expire_due_reschedules, 2nd run", lambda: lifecycle.expire_due_reschedules(now=now)),
        measure("mark_due_no_shows, 2nd run", lambda: lifecycle.mark_due_no_shows(now=now)),
    ]
    single, sample = row_by_row(args, now)
    rows.append(single)
    pushed = purge_notifications()
    print_table(rows, sessions=Session.objects.count(), seeded=seeded, pushed=pushed)
    return verdict(rows, expected=expected, sample=sample)


def verdict(rows: list[Row], *, expected: int, sample: int) -> int:
    expire, no_show, again_expire, again_no_show, single = rows
    ok = (expire.rows == expected and again_expire.rows == 0 and again_no_show.rows == 0
          and single.rows == sample)
    if single.rate:
        print(f"set-based vs row-by-row: {expire.rate / single.rate:,.0f}x the rows per second")
    per_100k = expire.seconds * 100_000 / expire.rows if expire.rows else 0.0
    met = "met" if per_100k <= TARGET_SECONDS else "MISSED"
    print(f"target: 100,000 expiries in <= {TARGET_SECONDS:.0f} s: {per_100k:.2f} s per 100,000 ({met})")
    if not ok:
        print(f"FAILED: expected {expected:,} expiries and {sample:,} row-by-row, and 0 rows on the 2nd runs")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
