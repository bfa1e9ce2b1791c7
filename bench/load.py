"""Mixed load (issue 18 item 6): the app under its production server and a worker, driven by a
realistic mix for --seconds (600 by default) at the highest rate the machine sustains, then the
audit trail checked against the requests made.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/load.py [--seconds 600] [--tutors 12]
    (or: scripts/devstack.py test --profile bench -- .venv/bin/python bench/run_all.py load)

Uses its own database (bench_load on the server of DATABASE_URL; created and migrated when
missing) and makes a fresh cast each run: --tutors tutors, each with a student of their own and
that student's parent, --slots sessions of 5 minutes each earlier today in the tutor's zone (a zone
where it is 20:00 now, so the day has room), all in one course of one creator; --rooms pairs in
open session rooms; each tutor's Telegram chat linked. Then it starts gunicorn with 2 uvicorn
workers on tutoring.asgi (the production server; DJANGO_ENV=development with DEBUG off, as
bench/dashboard.py) and one Celery worker, a fake Telegram Bot API on 127.0.0.1
(tests/fakes/telegram_server.py) for the bot's replies, and drives, closed loop, no think time:

  tutors    GET /teach/, then the next session: check in, check out, add notes (JSON)
  parents   GET /family/, GET /api/sessions, acknowledge each session their tutor checked out
  creators  the Session History list, its metrics panel, the API list
  bot       the webhook with "/help" from a linked tutor's chat (one reply each); one update in ten
            sent twice
  rooms     two sockets per room: a heartbeat every second, the tutor relaying an offer each second

Reported: requests per second, p50 / p95 / p99 per endpoint, and errors (any answer other than
the expected ones; target 0). Afterwards, when the worker has drained: every 2xx check-in,
check-out, notes and acknowledgement is exactly one event or note in the database (nothing lost),
no session has two of one (nothing doubled), and every distinct Telegram update was handled once
and answered once, duplicates included. The exit code is non-zero on any error or audit failure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dashboard import free_port, stop_process  # noqa: E402
from bench.sweeps import use_database  # noqa: E402

SECRET = "bench-load-webhook-secret"
SLOT = timedelta(minutes=5)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="bench_load")
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--tutors", type=int, default=12, help="tutors, each with a student and a parent")
    parser.add_argument("--slots", type=int, default=150, help="5-minute sessions per tutor earlier today")
    parser.add_argument("--creators", type=int, default=2, help="creator users on the dashboard")
    parser.add_argument("--bots", type=int, default=2, help="webhook senders")
    parser.add_argument("--rooms", type=int, default=10, help="open session rooms (two sockets each)")
    return parser.parse_args(argv)


def evening_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about 20:00 now: the tutors' day has 14 hours behind it."""
    offset = 20 - now.hour
    offset = offset - 24 if offset > 14 else offset  # Etc/GMT zones span UTC-12 .. UTC+14
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def setup_django(telegram_url: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
    os.environ.update(SERVER_ENV(telegram_url))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def SERVER_ENV(telegram_url: str) -> dict:  # noqa: N802 - a constant built from the fake's address
    from tests.fakes.telegram_server import BOT_USERNAME, TOKEN

    return {"DJANGO_ENV": "development", "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "false", "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BOT_USERNAME": BOT_USERNAME, "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_BASE_URL": f"{telegram_url}/bot", "TELEGRAM_FILE_BASE_URL": f"{telegram_url}/file/bot",
            # the limits guard against abuse by one person; the bench's people are few and tireless
            "TELEGRAM_UPDATES_PER_MINUTE": "1000000", "ROOM_CONNECTS_PER_MINUTE": "1000000",
            "UPLOADS_PER_MINUTE": "1000000", "ANALYTICS_BEACON_PER_MINUTE": "1000000"}


def cookie_of(user) -> dict:
    from django.test import Client

    client = Client()
    client.force_login(user)
    csrf = secrets.token_hex(16)
    return {"Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}", "X-CSRFToken": csrf}


def cast(args) -> dict:
    """The run's people and sessions, made fresh (tagged), straight into the tables as a seed does."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from sessions.models import Session
    from telegram_bot.models import TelegramLink
    from tutoring.models import Course, Enrollment, Guardianship, Match, Role, User

    now = timezone.now()
    zone = evening_zone(now)
    tag = f"{int(time.time() * 1000):x}"
    password = make_password(secrets.token_hex(8))

    def people(kind, role, n, tz="UTC"):
        return User.objects.bulk_create([User(username=f"load-{tag}-{kind}-{i}", name=f"{kind.title()} {i}",
                                              password=password, time_zone=tz, roles=[role]) for i in range(n)])

    tutors, students = people("tutor", Role.TUTOR, args.tutors, zone), people("student", Role.STUDENT, args.tutors)
    parents, creators = people("parent", Role.PARENT, args.tutors), people("creator", Role.CREATOR, args.creators)
    course = Course.objects.create(creator=creators[0], title=f"Load {tag}")
    Guardianship.objects.bulk_create([Guardianship(parent=p, student=s) for p, s in zip(parents, students)])
    Enrollment.objects.bulk_create([Enrollment(course=course, student=s) for s in students])
    Match.objects.bulk_create([Match(tutor=t, student=s, course=course) for t, s in zip(tutors, students)])
    chats = [9_000_000_000 + int(tag, 16) % 10**6 * 1000 + i for i in range(len(tutors))]
    TelegramLink.objects.bulk_create([TelegramLink(user=t, chat_id=c, linked_at=now) for t, c in zip(tutors, chats)])
    # the latest slot ends 30 minutes ago at most (check-out opens 30 minutes before the end)
    last = (now - timedelta(minutes=30) - SLOT).replace(second=0, microsecond=0)
    queues = {}
    for t, s in zip(tutors, students):
        rows = Session.objects.bulk_create([
            Session(tutor=t, student=s, course=course, scheduled_start=last - k * SLOT,
                    scheduled_end=last - k * SLOT + SLOT) for k in range(args.slots)])
        queues[t.pk] = [row.pk for row in rows]
    room_tutors, room_students = people("rtutor", Role.TUTOR, args.rooms), people("rstudent", Role.STUDENT, args.rooms)
    start = now + timedelta(minutes=5)
    rooms = Session.objects.bulk_create([Session(tutor=t, student=s, scheduled_start=start,
                                                 scheduled_end=start + timedelta(hours=1))
                                         for t, s in zip(room_tutors, room_students)])
    return {
        "tutors": [(cookie_of(t), queues[t.pk], c) for t, c in zip(tutors, chats)],
        "parents": [cookie_of(p) for p in parents],
        "creators": [cookie_of(c) for c in creators],
        "rooms": [(r.pk, cookie_of(t), cookie_of(s)) for r, t, s in zip(rooms, room_tutors, room_students)],
        "sessions": [pk for q in queues.values() for pk in q],
    }


class Stats:
    def __init__(self):
        self.times = collections.defaultdict(list)
        self.errors = collections.Counter()
        self.done = collections.defaultdict(list)  # action -> session ids answered 2xx

    def add(self, name, started, status, expected=(200,)):
        self.times[name].append((time.perf_counter() - started) * 1000)
        if status not in expected:
            self.errors[f"{name}: {status}"] += 1
            return False
        return True


async def drive(args, port: int, people: dict, stop: asyncio.Event, stats: Stats, updates: list):
    import httpx
    import websockets

    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    client = httpx.AsyncClient(base_url=base, limits=limits, timeout=60)

    async def call(name, method, path, headers, body=None, expected=(200,)):
        started = time.perf_counter()
        try:
            if method == "GET":
                r = await client.get(path, headers=headers)
            else:
                r = await client.post(path, headers={**headers, "Content-Type": "application/json"},
                                      content=json.dumps(body or {}))
        except httpx.HTTPError as exc:
            stats.add(name, started, type(exc).__name__)
            return None
        return r if stats.add(name, started, r.status_code, expected) else None

    async def tutor(headers, queue):
        while not stop.is_set():
            await call("GET /teach/", "GET", "/teach/", headers)
            if not queue:
                continue
            pk = queue.pop()
            if await call("POST check-in", "POST", f"/api/sessions/{pk}/check-in", headers):
                stats.done["check_in"].append(pk)
                if await call("POST check-out", "POST", f"/api/sessions/{pk}/check-out", headers):
                    stats.done["check_out"].append(pk)
                    r = await call("POST notes", "POST", f"/api/sessions/{pk}/notes", headers,
                                   {"text": f"Load run notes for session {pk}: fractions and decimals."},
                                   expected=(201, 409))  # 409: the parent acknowledged first (notes close)
                    if r is not None and r.status_code == 201:
                        stats.done["notes"].append(pk)

    async def parent(headers):
        while not stop.is_set():
            await call("GET /family/", "GET", "/family/", headers)
            r = await call("GET /api/sessions", "GET", "/api/sessions?status=awaiting_approval_parent", headers)
            for item in (r.json()["items"] if r is not None else []):
                if item["status"] == "awaiting_approval_parent" and await call(
                        "POST acknowledge", "POST", f"/api/sessions/{item['id']}/acknowledge", headers):
                    stats.done["acknowledge"].append(item["id"])

    async def creator(headers):
        while not stop.is_set():
            await call("GET history list", "GET", "/dashboard/teaching/sessions", headers)
            await call("GET history metrics", "GET", "/dashboard/teaching/sessions/metrics", headers)
            await call("GET API history list", "GET", "/api/creators/me/sessions", headers)

    # update ids of this run only: a database kept from an earlier run holds that run's processed
    # ids, and a repeated id would be taken (rightly) for a redelivery and never answered again
    run = int(time.time() * 1000) * 10**4

    async def bot(i):
        n = 0
        while not stop.is_set():
            _, _, chat = people["tutors"][n % len(people["tutors"])]
            update_id = run + n * args.bots + i
            n += 1
            update = {"update_id": update_id, "message": {
                "message_id": n, "date": int(time.time()), "text": "/help",
                "chat": {"id": chat, "type": "private"}, "from": {"id": chat, "is_bot": False, "first_name": "T"},
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}
            for _ in range(2 if n % 10 == 0 else 1):  # Telegram redelivers; one in ten twice
                started = time.perf_counter()
                try:
                    r = await client.post("/telegram/webhook/", content=json.dumps(update), headers={
                        "X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"})
                    if stats.add("POST webhook", started, r.status_code):
                        updates.append(update_id)
                except httpx.HTTPError as exc:
                    stats.add("POST webhook", started, type(exc).__name__)

    async def room(session_id, tutor_headers, student_headers):
        url = f"ws://127.0.0.1:{port}/ws/session/{session_id}/"

        async def connect(headers):
            ws = await websockets.connect(url, origin=base, additional_headers={"Cookie": headers["Cookie"]},
                                          open_timeout=60, max_size=2 ** 17)
            welcome = json.loads(await ws.recv())
            if welcome.get("type") != "welcome":
                raise RuntimeError(welcome.get("detail"))
            return ws, welcome

        try:
            (t, _), (s, s_welcome) = await connect(tutor_headers), await connect(student_headers)
        except Exception as exc:  # noqa: BLE001 - counted, reported
            stats.errors[f"ws connect: {exc}"] += 1
            return

        async def read(ws):
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "offer":
                        stats.times["ws offer relayed"].append((time.time() - float(msg["sdp"])) * 1000)
                    elif msg.get("type") == "error":
                        stats.errors[f"ws error: {msg.get('code')}"] += 1
            except websockets.ConnectionClosed as exc:
                if not stop.is_set():
                    stats.errors[f"ws closed {exc.code}"] += 1

        readers = [asyncio.create_task(read(t)), asyncio.create_task(read(s))]
        while not stop.is_set():
            try:
                await t.send(json.dumps({"type": "heartbeat"}))
                await s.send(json.dumps({"type": "heartbeat"}))
                await t.send(json.dumps({"type": "offer", "to": s_welcome["connection_id"], "sdp": repr(time.time())}))
            except websockets.ConnectionClosed:
                break
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        for ws in (t, s):
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)

    tasks = [tutor(h, q) for h, q, _ in people["tutors"]] + [parent(h) for h in people["parents"]]
    tasks += [creator(h) for h in people["creators"]] + [bot(i) for i in range(args.bots)]
    tasks += [room(*r) for r in people["rooms"]]

    async def timer():
        await asyncio.sleep(args.seconds)
        stop.set()

    await asyncio.gather(timer(), *tasks)
    await client.aclose()


def start(command: list[str], env: dict, name: str) -> tuple[subprocess.Popen, str]:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-load-{name}-", suffix=".log", delete=False)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return proc, log.name


def wait_for_http(port: int, proc: subprocess.Popen, log: str) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within 90 s; see {log}")


def audit(people: dict, stats: Stats, updates: list, fake, drain_seconds: int = 60) -> list[str]:
    """Nothing lost, nothing doubled: the database against the 2xx answers."""
    from django.db.models import Count

    from notes.models import Note
    from sessions.models import SessionEvent
    from telegram_bot.models import ProcessedUpdate

    problems = []
    ids = people["sessions"]
    for action, kind in (("check_in", "check_in"), ("check_out", "check_out"), ("acknowledge", "acknowledge")):
        events = SessionEvent.objects.filter(session_id__in=ids, kind=kind)
        doubled = events.values("session_id").annotate(n=Count("id")).filter(n__gt=1).count()
        if events.count() != len(stats.done[action]) or doubled or len(set(stats.done[action])) != len(stats.done[action]):
            problems.append(f"{action}: {len(stats.done[action])} answered 2xx, {events.count()} events, "
                            f"{doubled} sessions with two")
    notes = Note.objects.filter(session_id__in=ids).count()
    if notes != len(stats.done["notes"]):
        problems.append(f"notes: {len(stats.done['notes'])} answered 201, {notes} saved")
    distinct = set(updates)
    # the worker may be behind the webhook when the load stops: wait while it still makes progress
    # (a backlog, reported with the time it took), and give up only after drain_seconds without any
    started, last, last_change = time.monotonic(), -1, time.monotonic()
    while (handled := ProcessedUpdate.objects.filter(update_id__in=distinct).count()) < len(distinct):
        if handled != last:
            last, last_change = handled, time.monotonic()
        elif time.monotonic() - last_change > drain_seconds:
            break
        time.sleep(1)
    print(f"telegram: the worker's backlog drained in {time.monotonic() - started:.0f} s after the load", flush=True)
    from telegram_bot.core import HELP

    # the bot's answers to /help; the tutors' notifications (check-outs acknowledged...) go there too
    replies = sum(1 for call in fake.calls("sendMessage") if call.get("text") == HELP)
    if handled != len(distinct):
        problems.append(f"telegram: {len(distinct)} distinct updates accepted, {handled} handled")
    if replies != len(distinct):
        problems.append(f"telegram: {len(distinct)} distinct updates, {replies} replies (one each expected)")
    print(f"telegram: {len(updates)} webhook deliveries, {len(distinct)} distinct updates, {handled} handled, "
          f"{replies} answered", flush=True)
    return problems


def report(stats: Stats, seconds: float) -> None:
    total = sum(len(v) for k, v in stats.times.items() if not k.startswith("ws "))
    print(f"\n{total:,} HTTP requests in {seconds:.0f} s: {total / seconds:,.1f} requests/s; "
          f"errors: {sum(stats.errors.values())}", flush=True)
    print(f"{'endpoint':<26} {'count':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in sorted(stats.times):
        values = sorted(stats.times[name])

        def pct(p):
            return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

        print(f"{name:<26} {len(values):>8,} {len(values) / seconds:>7.1f} {statistics.median(values):>8.1f} "
              f"{pct(95):>8.1f} {pct(99):>8.1f}")
    for error, n in stats.errors.most_common():
        print(f"  error {error}: {n}")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    use_database(args.db)
    from tests.fakes.telegram_server import FakeTelegram

    with FakeTelegram() as fake:
        setup_django(fake.origin)
        people = cast(args)
        env = {**os.environ, **SERVER_ENV(fake.origin), "DB_CONN_MAX_AGE": "0"}
        port = free_port()
        gunicorn = Path(sys.executable).parent / "gunicorn"
        web, web_log = start([str(gunicorn), "tutoring.asgi:application", "-k", "uvicorn_worker.UvicornWorker",
                              "-w", "2", "-b", f"127.0.0.1:{port}",
                              # not the control socket at ~/.gunicorn, which every other gunicorn here shares
                              "--no-control-socket"], env, "gunicorn")
        worker, worker_log = start([sys.executable, "-m", "celery", "-A", "tutoring", "worker", "--loglevel",
                                    "WARNING", "--concurrency", "1"], env, "worker")
        try:
            wait_for_http(port, web, web_log)
            print(f"gunicorn -w 2 (uvicorn workers) on 127.0.0.1:{port}, one Celery worker; "
                  f"{args.tutors} tutors x {args.slots} sessions, {args.tutors} parents, {args.creators} creators, "
                  f"{args.bots} bot senders, {args.rooms} rooms; {args.seconds} s", flush=True)
            stats, updates = Stats(), []
            started = time.perf_counter()
            asyncio.run(drive(args, port, people, asyncio.Event(), stats, updates))
            elapsed = time.perf_counter() - started
            report(stats, elapsed)
            problems = audit(people, stats, updates, fake)
        finally:
            stop_process(web)
            stop_process(worker)
        print(f"logs: {web_log}, {worker_log}")
    for problem in problems:
        print(f"AUDIT: {problem}")
    print("audit: nothing lost, nothing doubled" if not problems else f"audit: {len(problems)} problem(s)")
    return 1 if problems or stats.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
