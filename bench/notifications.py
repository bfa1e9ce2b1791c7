"""Benchmark of the reminder sweep and of email delivery through Resend's API.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/notifications.py [--sessions N --send N --sample N]

Uses its own database (bench_notifications on the server of DATABASE_URL; created and migrated
when missing). Each run empties it and seeds --sessions (default 100,000) scheduled sessions that
all start 30 to 59 minutes from now, each with its own tutor, student and parent (the exclusion
constraint wants one session per tutor at a time), so one sweep finds 100,000 sessions with their
1-hour reminder due: 300,000 people, 600,000 deliveries (in the app and by email). Then:

  * plan and enqueue: planning.plan (one INSERT ... SELECT ... ON CONFLICT DO NOTHING) and the
    dispatch tasks it publishes (to a private Redis queue nobody consumes, purged at the end),
    as the beat's task does; then the same sweep again, which must write nothing;
  * the row-by-row baseline beside it: a planner that walks the due sessions in Python and writes
    each delivery with get_or_create, on --sample sessions of a fresh batch;
  * send: the dispatcher over --send email deliveries through the project's Resend backend (the
    `resend` SDK, batches of 100 per request) to the fake Resend API running in a process of its
    own; beside it, row by row: one claim and one request per email, on --sample deliveries; and
    --send in-app deliveries (inbox rows) for comparison;
  * duplicates: deliveries that share (source, recipient, channel), a second sweep's and a second
    dispatch's output, and people the fake received more than one email for: all must be 0.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import sweeps  # noqa: E402
from bench.sweeps import Row, use_database  # noqa: E402

BENCH_QUEUE = "bench-notifications"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100_000, help="sessions due in the sweep (default 100,000)")
    parser.add_argument("--send", type=int, default=20_000, help="email deliveries sent through the fake Resend "
                                                                  "(default 20,000)")
    parser.add_argument("--sample", type=int, default=1_000, help="row-by-row sample size (default 1,000)")
    parser.add_argument("--db", default="bench_notifications", help="database name (default bench_notifications)")
    return parser.parse_args(argv)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from tutoring.celery import app

    app.conf.task_routes = {"notifications.tasks.dispatch": {"queue": BENCH_QUEUE}}


def purge() -> int:
    from tutoring.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(BENCH_QUEUE) or 0


# --- the fake Resend, in a process of its own -----------------------------------------------------


def _serve(urls, stop, results):
    from tests.fakes.resend_server import FakeResend

    with FakeResend() as fake:
        urls.put((fake.url, fake.api_key))
        stop.wait()
        results.put((len(fake.requests), Counter(e["to"][0] for e in fake.sent)))


class FakeInProcess:
    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self.urls, self.results, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(target=_serve, args=(self.urls, self.stop, self.results), daemon=True)
        self.proc.start()
        self.url, self.api_key = self.urls.get(timeout=60)
        return self

    def finish(self) -> tuple[int, Counter]:
        self.stop.set()
        got = self.results.get(timeout=120)
        self.proc.join(30)
        return got

    def __exit__(self, *exc):
        if self.proc.is_alive():
            self.proc.terminate()


# --- seeding ----------------------------------------------------------------------------------

ZONES = ["Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Europe/Berlin", "UTC"]

_PEOPLE_SQL = """
INSERT INTO tutoring_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
                           date_joined, name, avatar_url, time_zone, roles)
SELECT '!', false, %(prefix)s || i, '', '', %(prefix)s || i || '@example.test', false, true, %(now)s,
       %(label)s || ' ' || i, '', (%(zones)s::text[])[1 + i %% %(n_zones)s], ARRAY[%(role)s]::varchar[]
FROM generate_series(%(first)s::int, %(last)s::int) AS i
"""
_FAMILY_SQL = """
INSERT INTO tutoring_guardianship (parent_id, student_id, created_at)
SELECT p.id, s.id, %(now)s FROM generate_series(%(first)s::int, %(last)s::int) AS i
JOIN tutoring_user p ON p.username = %(tag)s || 'p' || i
JOIN tutoring_user s ON s.username = %(tag)s || 's' || i
"""
_SESSIONS_SQL = """
INSERT INTO tutoring_sessions_session (tutor_id, student_id, course_id, scheduled_start, scheduled_end, status,
    checked_in_at, checked_out_at, no_show_party, is_trial, billed_as_addon, source, cancelled_at,
    cancellation_reason_id, video_provider, video_room_id, meeting_url, created_at, updated_at)
SELECT t.id, s.id, NULL, %(now)s + interval '30 minutes' + (i %% 29) * interval '1 minute',
       %(now)s + interval '90 minutes' + (i %% 29) * interval '1 minute', 'scheduled', NULL, NULL, '', false, false,
       'native', NULL, NULL, 'p2p', '', '', %(now)s, %(now)s
FROM generate_series(%(first)s::int, %(last)s::int) AS i
JOIN tutoring_user t ON t.username = %(tag)s || 't' || i
JOIN tutoring_user s ON s.username = %(tag)s || 's' || i
"""


def seed(n: int, now, tag: str, first: int = 1) -> float:
    """n sessions starting 30-59 minutes after `now`, each with its own tutor, student and parent."""
    from django.db import connection, transaction

    started = time.perf_counter()
    last = first + n - 1
    with transaction.atomic(), connection.cursor() as cursor:
        for code, role, label in (("t", "tutor", "Tutor"), ("s", "student", "Student"), ("p", "parent", "Parent")):
            cursor.execute(_PEOPLE_SQL, {"prefix": tag + code, "label": label, "role": role, "now": now,
                                         "zones": ZONES, "n_zones": len(ZONES), "first": first, "last": last})
        cursor.execute("ANALYZE tutoring_user")  # so the joins below look people up by username's index
        params = {"tag": tag, "first": first, "last": last, "now": now}
        cursor.execute(_FAMILY_SQL, params)
        cursor.execute(_SESSIONS_SQL, params)
    return time.perf_counter() - started


def empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notifications_delivery, notifications_notification, notifications_keptemail, "
                       "tutoring_sessions_sessionevent, tutoring_sessions_session, tutoring_guardianship, "
                       "tutoring_user CASCADE")


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) tutoring_user, tutoring_guardianship, tutoring_sessions_session, "
                       "notifications_delivery")


# --- measuring ---------------------------------------------------------------------------------


def measure(name: str, fn) -> Row:
    return sweeps.measure(name, fn, trace=False)


def plan_and_enqueue(now) -> int:
    """What the beat's `plan` task does: the set-based sweep, then the deliveries handed to workers."""
    from notifications import dispatch, planning

    made = planning.plan(now=now)
    dispatch.deliver(made)
    return len(made)


def row_by_row_planner(now, session_ids) -> int:
    """The naive planner: each due session, each of its people, each channel, one get_or_create."""
    from notifications.models import Delivery
    from sessions.models import Session
    from tutoring.models import Guardianship

    made = 0
    for session in Session.objects.filter(pk__in=session_ids).select_related("tutor", "student"):
        parents = [g.parent for g in Guardianship.objects.filter(student=session.student).select_related("parent")]
        source = f"reminder_1h:{session.id}:{int(session.scheduled_start.timestamp())}"
        for person in [session.tutor, session.student, *parents]:
            for channel in ("in_app", "email"):
                _, created = Delivery.objects.get_or_create(
                    source=source, recipient=person, channel=channel,
                    defaults={"kind": "reminder_1h", "session": session, "due_for": session.scheduled_start,
                              "next_attempt_at": now, "created_at": now, "updated_at": now})
                made += created
    return made


def duplicates() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM notifications_delivery "
                       "GROUP BY source, recipient_id, channel HAVING count(*) > 1) d")
        return cursor.fetchone()[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    use_database(args.db)
    setup_django()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from notifications import dispatch
    from notifications.models import Delivery, DeliveryStatus, Notification

    call_command("migrate", verbosity=0)
    from django.urls import reverse

    reverse("notifications-preferences")  # a worker builds its URL resolver once: not part of a send
    purge()
    empty()
    now = timezone.now()
    print(f"seeding {args.sessions:,} sessions due for their 1-hour reminder...", flush=True)
    seeded = seed(args.sessions, now, "b")
    vacuum()

    with FakeInProcess() as fake:
        settings.MAILERS = {"default": {"BACKEND": "notifications.backends.ResendBackend",
                                        "OPTIONS": {"api_key": fake.api_key, "api_url": fake.url, "timeout": 30}}}
        settings.DEFAULT_FROM_EMAIL = "Tutoring <no-reply@tutoring.example.com>"
        print("measuring...", flush=True)
        rows = [measure("plan and enqueue (set-based)", lambda: plan_and_enqueue(now)),
                measure("plan and enqueue, 2nd run", lambda: plan_and_enqueue(now))]
        planned = Delivery.objects.count()
        # the row-by-row planner on a fresh batch of its own
        seed(args.sample, now, "r", first=1)
        from sessions.models import Session

        sample_ids = list(Session.objects.filter(tutor__username__startswith="rt").values_list("id", flat=True))
        rows.append(measure("plan, row by row (get_or_create)", lambda: row_by_row_planner(now, sample_ids)))

        emails = list(Delivery.objects.filter(channel="email", kind="reminder_1h", source__startswith="reminder_1h")
                      .exclude(recipient__username__startswith="r").order_by("id").values_list("id", flat=True))
        batch_ids, single_ids = emails[: args.send], emails[args.send: args.send + args.sample]
        in_app = list(Delivery.objects.filter(channel="in_app").exclude(recipient__username__startswith="r")
                      .order_by("id").values_list("id", flat=True)[: args.send])
        rows.append(measure("send email, batches of 100", lambda: dispatch.dispatch(batch_ids, now=now)["sent"]))
        rows.append(measure("send email, one request each", lambda: dispatch.dispatch(single_ids, now=now,
                                                                                      limit=1)["sent"]))
        rows.append(measure("send email again (already sent)",
                            lambda: dispatch.dispatch(batch_ids, now=now).get("sent", 0)))
        rows.append(measure("in-app notices", lambda: dispatch.dispatch(in_app, now=now)["sent"]))
        requests, received = fake.finish()
    queued = purge()
    twice = sum(1 for n in received.values() if n > 1)
    dupes = duplicates()
    print_table(rows, sessions=args.sessions, seeded=seeded, planned=planned, requests=requests, queued=queued)
    plan, again, single_plan, batch, single, resend, inbox = rows
    print(f"set-based vs row-by-row planning: {plan.rate / single_plan.rate:,.0f}x the deliveries per second")
    print(f"batched vs one request per email: {batch.rate / single.rate:,.1f}x the emails per second "
          f"({batch.rate:,.0f} vs {single.rate:,.0f} emails/s)")
    print(f"duplicates: {dupes} delivery keys twice, {again.rows} from the 2nd sweep, {resend.rows} from the 2nd "
          f"dispatch, {twice} people emailed twice (target: all 0)")
    expected = args.sessions * 3 * 2
    sent = Delivery.objects.filter(status=DeliveryStatus.SENT).count()
    ok = (plan.rows == expected and again.rows == 0 and dupes == 0 and twice == 0 and resend.rows == 0
          and batch.rows == len(batch_ids) and single.rows == len(single_ids) and inbox.rows == len(in_app)
          and sent == len(batch_ids) + len(single_ids) + len(in_app)
          and Notification.objects.count() == len(in_app))
    if not ok:
        print(f"FAILED: expected {expected:,} deliveries planned, every send made once, and no duplicate")
    return 0 if ok else 1


def print_table(rows, *, sessions, seeded, planned, requests, queued) -> None:
    print()
    print(f"Notifications benchmark: {sessions:,} sessions with their reminder due in one sweep "
          f"(seeded in {seeded:.0f} s), {planned:,} deliveries planned")
    header = f"{'step':<36} {'rows':>9} {'seconds':>9} {'rows/s':>10} {'peak RSS MB':>12}"  # no Python peak
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r.name:<36} {r.rows:>9,} {r.seconds:>9.3f} {r.rate:>10,.0f} {r.rss_mb:>12.0f}")
    print(f"(the fake Resend answered {requests:,} requests; {queued:,} dispatch tasks were queued for workers "
          "and purged: the sends above ran here, in one process)")


if __name__ == "__main__":
    raise SystemExit(main())
