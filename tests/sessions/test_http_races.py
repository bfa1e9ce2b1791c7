"""Issue 18 item 1, races at scale over HTTP: RACE_REQUESTS conflicting requests (10,000, the
issue's number, in `make test`; fewer for a quick run, below) against the production server (gunicorn with two uvicorn workers on tutoring.asgi, as
bench/load.py starts it: two processes, each running every sync view in a thread of its own, so
the requests really overlap) and a Celery worker (two processes) on PostgreSQL and Redis.

Each round is the requests of one conflict, sent at the same moment, with many rounds in flight
at once. Rounds (requests each):

  approval (3)     the parent's acknowledge and dispute vs a coordinator's verify        L06 L07 L26-L28
  reschedule (4)   the parent's accept and counter vs the tutor's withdraw and cancel
                   of the tutor's open reschedule request                              L34 L39 L41
  check-ins (2)    the tutor checks in twice                                           L12 L15
  check-in/cancel  the tutor's check-in vs a coordinator's cancel on the tutor's behalf L12 L15
  (2)
  feedback (2)     the student sends the same room feedback twice (a double click)     R08 R09 R13
  telegram (2)     Telegram delivers the same update (the tutor's Check in button)
                   twice at once to the webhook; the worker handles both               L14 L44

Per session action round: the requests that won (2xx) are ones the lifecycle allows together,
each made exactly one event, at most one package deduction (exactly one when the session ended
approved), and every other request got 409 with a message and the session as a winner left it
(the answer to a lost race, without another request). Where the requests exclude each other
(acknowledge vs dispute, accept vs counter vs withdraw, two check-ins, check-in vs cancel) exactly
one wins. Two cannot be one-winner rounds under the spec, and the test holds them to what it says:
a verify after a dispute is the coordinator's override of it (verify takes a disputed session,
L28), so the approval round ends {acknowledge}, {verify} or {dispute, verify}; and a cancel is
allowed while a reschedule request is open and closes it (L41), so the cancel always goes through,
before the answer (which then gets 409) or after it. Feedback: the repeat is the same answer (303,
"saved"), one assessment, one event, one analytics event. Telegram: both deliveries 200, the
update handled once: one check-in (channel telegram), one edited message.

    RACE_REQUESTS=300 .venv/bin/python scripts/devstack.py test -- .venv/bin/python -m pytest \
        -q -s -n 0 tests/sessions/test_http_races.py

It prints the wall time and the CPU seconds it used (this process with the seed and the client;
the server and the worker; PostgreSQL). On 2026-12-07, alone on two idle cores: 10,003 requests
in 3,890 rounds, all sent in 142 s (71 requests/s), 260 CPU seconds (24 this process, 192 server
and worker, 44 PostgreSQL); 152 s for the whole test.
"""

import asyncio
import contextlib
import json
import math
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.db.models import Count
from django.utils import timezone

from analytics.models import Event
from bench.dashboard import stop_process
from sessions import lifecycle
from sessions.models import (
    PackageDeduction,
    RescheduleProposal,
    RescheduleThread,
    Session,
    SessionAssessment,
    SessionEvent,
    Status,
)
from telegram_bot.models import ProcessedUpdate, TelegramLink
from tests.database import database_url
from tests.fakes.telegram_server import BOT_USERNAME, FakeTelegram
from tutoring.celery import app
from tutoring.models import LessonPackage, Role, User

REQUESTS = int(os.environ.get("RACE_REQUESTS", "10000"))
KINDS = {"approval": 3, "reschedule": 4, "check_ins": 2, "check_in_cancel": 2, "feedback": 2, "telegram": 2}
# Telegram rounds cost the worker a bot Application each: one in four cycles has one
TELEGRAM_EVERY = 4
IN_FLIGHT = 8  # rounds sent at once (each round's requests together)
SLOTS = 10  # one-minute sessions per check-in tutor, starting 19 to 28 minutes from now
SECRET = "race-webhook-secret"
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True)


def plan(total: int) -> dict[str, int]:
    """Rounds per kind so that their requests add up to at least `total`."""
    per_cycle = sum(n for kind, n in KINDS.items() if kind != "telegram") + KINDS["telegram"] / TELEGRAM_EVERY
    cycles = max(1, math.ceil(total / per_cycle))
    rounds = {kind: cycles for kind in KINDS}
    rounds["telegram"] = max(1, cycles // TELEGRAM_EVERY)
    while sum(rounds[k] * KINDS[k] for k in KINDS) < total:
        rounds["approval"] += 1
    return rounds


def cookie(user) -> dict:
    """A signed-in browser's headers (a database session, as force_login makes one) with a CSRF
    token of its own."""
    store = SessionStore()
    store.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                  "_auth_user_hash": user.get_session_auth_hash()})
    store.create()
    csrf = secrets.token_hex(16)
    return {"Cookie": f"sessionid={store.session_key}; csrftoken={csrf}", "X-CSRFToken": csrf}


# --- the production server and a worker ----------------------------------------------------------


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def queue():
    """A Celery queue of the test's own (CELERY_QUEUE) for the server and its worker; emptied after."""
    name = f"races-{uuid.uuid4().hex}"
    yield name
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(name)


@pytest.fixture
def environment(transactional_db, telegram, queue):
    return dict(os.environ, DJANGO_ENV="development", DEBUG="false", ALLOWED_HOSTS="127.0.0.1",
                DATABASE_URL=database_url("http-race-server"), LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1",
                CELERY_QUEUE=queue,
                CELERY_TASK_ALWAYS_EAGER="false", TELEGRAM_BOT_TOKEN=telegram.token,
                TELEGRAM_BOT_USERNAME=BOT_USERNAME, TELEGRAM_WEBHOOK_SECRET=SECRET,
                TELEGRAM_API_BASE_URL=telegram.base_url, TELEGRAM_FILE_BASE_URL=telegram.base_file_url,
                # each round's tutor sends its update twice; the limit per Telegram user is tested elsewhere
                TELEGRAM_UPDATES_PER_MINUTE="1000000",
                # a race, not an overload: a worker holds a connection for each request in flight
                # (IN_FLIGHT rounds of up to 4, over two workers) and a slow machine waits rather than
                # answer 503 (the overload answer is tests/reliability's)
                DB_POOL_MAX_SIZE=str(IN_FLIGHT * 2 + 4), DB_POOL_TIMEOUT="60")


def _start(command, env, name, **kwargs):
    log = tempfile.NamedTemporaryFile(prefix=f"races-{name}-", suffix=".log", delete=False)
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, **kwargs)
    return proc, log.name


@pytest.fixture
def server(environment):
    """gunicorn with two uvicorn workers on a socket the test already listens on (the first
    requests wait in its queue until a worker accepts them)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc, log = _start([str(gunicorn), "tutoring.asgi:application", "-k", "uvicorn_worker.UvicornWorker", "-w", "2",
                        "-b", f"fd://{listener.fileno()}", "--graceful-timeout", "10",
                        # not the control socket at ~/.gunicorn, which every other gunicorn here would share
                        "--no-control-socket"], environment, "gunicorn",
                       pass_fds=[listener.fileno()])
    listener.close()
    try:
        yield port, log, proc
    finally:
        stop_process(proc)


@pytest.fixture
def worker(environment, queue):
    """`celery worker` with two processes on the test's queue."""
    name = f"{queue}@localhost"
    proc, log = _start([sys.executable, "-m", "celery", "-A", "tutoring", "worker", "-Q", queue, "-n", name,
                        "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
                       environment, "worker")
    try:
        yield name, proc, log
    finally:
        stop_process(proc)


def drained(worker_name: str, queue: str) -> bool:
    """Nothing left in the queue and nothing running or reserved in the worker."""
    with app.connection_for_read() as connection:
        if connection.default_channel.client.llen(queue):
            return False
    inspect = app.control.inspect(destination=[worker_name], timeout=2)
    active, reserved = inspect.active(), inspect.reserved()
    if not active or not reserved:  # the worker did not answer
        return False
    return not any(active.values()) and not any(reserved.values())


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far: this process (the client and the seed), its children that ended (the
    server and the worker, once stopped) and this worktree's PostgreSQL (its postmaster, the
    backends it reaped, the live ones): with the machine shared, the wall clock says little."""
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), sum(map(int, fields[11:15])) / tick  # ppid; utime, stime, cutime, cstime

    postgres = 0.0
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                procs[int(entry)] = stat(entry)
    for pid in procs:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
            line = f.read().replace(b"\0", b" ").decode(errors="replace")
        if "postgres" in line and str(ROOT / "var") in line:
            postgres += procs[pid][1] + sum(cpu for ppid, cpu in procs.values() if ppid == pid)
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"test": me.ru_utime + me.ru_stime, "server+worker": children.ru_utime + children.ru_stime,
            "postgres": postgres}


# --- the cast: every round's session seeded in bulk ----------------------------------------------


def seed(rounds: dict, *, parent, student, tutor, course, coordinator, reasons) -> dict:
    now = timezone.now()
    tag = uuid.uuid4().hex[:8]
    password = make_password(secrets.token_hex(8))
    done_at = lambda start: {"checked_in_at": start, "checked_out_at": start + timedelta(hours=1)}  # noqa: E731

    def sessions(starts, minutes=60, tutors=None, **fields):
        extra = fields.pop("attended", False)
        return Session.objects.bulk_create([
            Session(tutor=(tutors[i] if tutors else tutor), student=student, course=course, scheduled_start=start,
                    scheduled_end=start + timedelta(minutes=minutes), **fields, **(done_at(start) if extra else {}))
            for i, start in enumerate(starts)])

    def live_tutors(prefix, n):
        """Tutors with SLOTS one-minute sessions each from 19 minutes from now: check-in is open
        (from 30 minutes before), and a cancel is still in the future for as long as a slow
        machine may take (one tutor's sessions may not overlap)."""
        people = User.objects.bulk_create([
            User(username=f"race-{tag}-{prefix}{i}", name=f"Racer {prefix}{i}", password=password,
                 email=f"race-{tag}-{prefix}{i}@example.test", time_zone="UTC", roles=[Role.TUTOR])
            for i in range(math.ceil(n / SLOTS))])
        first = (now + timedelta(minutes=19)).replace(second=0, microsecond=0)
        starts = [first + timedelta(minutes=k % SLOTS) for k in range(n)]
        return people, sessions(starts, minutes=1, tutors=[people[k // SLOTS] for k in range(n)])

    past = (now - timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    future = (now + timedelta(days=5)).replace(minute=0, second=0, microsecond=0)
    approval = sessions([past - timedelta(hours=2 * i) for i in range(rounds["approval"])],
                        status=Status.AWAITING_APPROVAL_PARENT, attended=True)
    feedback = sessions([past - timedelta(days=400, hours=2 * i) for i in range(rounds["feedback"])],
                        status=Status.APPROVED, attended=True)
    reschedule = sessions([future + timedelta(hours=4 * i) for i in range(rounds["reschedule"])])
    LessonPackage.objects.create(student=student, credits=rounds["approval"] + 10,
                                 expires_on=(now + timedelta(days=365)).date())
    with lifecycle.silenced():  # the requests are the seed's, as the demo's: nobody is told of them
        proposals = [lifecycle.propose_reschedule(s, by=tutor, proposed_start=s.scheduled_start + timedelta(hours=1),
                                                  reason_id=reasons[("tutor", "reschedule")].id, now=now)
                     for s in reschedule]
    checkin_tutors, checkins = live_tutors("c", rounds["check_ins"] + rounds["check_in_cancel"])
    tg_tutors, tg_sessions = live_tutors("t", rounds["telegram"])
    chats = {t.pk: 8_000_000_000 + i for i, t in enumerate(tg_tutors)}
    TelegramLink.objects.bulk_create([TelegramLink(user=t, chat_id=c, linked_at=now) for t, c in
                                      ((t, chats[t.pk]) for t in tg_tutors)])
    return {
        "now": now,
        "approval": approval, "feedback": feedback, "reschedule": list(zip(reschedule, proposals, strict=True)),
        "check_ins": checkins[:rounds["check_ins"]], "check_in_cancel": checkins[rounds["check_ins"]:],
        "telegram": [(s, chats[s.tutor_id]) for s in tg_sessions],
        "cookies": {"parent": cookie(parent), "student": cookie(student), "tutor": cookie(tutor),
                    "coordinator": cookie(coordinator),
                    **{t.pk: cookie(t) for t in checkin_tutors}},
    }


def requests_of(cast: dict, reasons, telegram) -> dict[str, list]:
    """Each kind's rounds: (session, [(who, path, body, form)...]). The Telegram rounds press a
    button on a message the fake Bot API holds (one the bot sent), as a tutor would."""
    c = cast["cookies"]
    dispute = {"reason": "The lesson did not take place as recorded."}
    verify = {"reason": "Confirmed with the tutor by phone."}
    tutor_cancel = {"reason_id": reasons[("tutor", "cancel")].id, "policy_id": None}  # no penalty band
    on_behalf = {"reason_id": reasons[("tutor", "cancel")].id, "on_behalf_of": "tutor"}
    rounds = defaultdict(list)
    for s in cast["approval"]:
        base = f"/api/sessions/{s.id}"
        rounds["approval"].append((s, [(c["parent"], f"{base}/acknowledge", None), (c["parent"], f"{base}/dispute",
                                   dispute), (c["coordinator"], f"{base}/verify", verify)]))
    for s, p in cast["reschedule"]:
        base = f"/api/sessions/{s.id}"
        counter = {"proposed_start": (s.scheduled_start + timedelta(hours=2)).isoformat()}
        rounds["reschedule"].append((s, [
            (c["parent"], f"{base}/reschedule/{p.id}/accept", None),
            (c["parent"], f"{base}/reschedule/{p.id}/counter", counter),
            (c["tutor"], f"{base}/reschedule/{p.id}/withdraw", None),
            (c["tutor"], f"{base}/cancel", tutor_cancel)]))
    for s in cast["check_ins"]:
        rounds["check_ins"].append((s, [(c[s.tutor_id], f"/api/sessions/{s.id}/check-in", None)] * 2))
    for s in cast["check_in_cancel"]:
        rounds["check_in_cancel"].append((s, [(c[s.tutor_id], f"/api/sessions/{s.id}/check-in", None),
                                              (c["coordinator"], f"/api/sessions/{s.id}/cancel", on_behalf)]))
    for s in cast["feedback"]:
        form = {"rating": "4", "comment": "Clear and patient."}
        rounds["feedback"].append((s, [(c["student"], f"/session/{s.id}/feedback", form)] * 2))
    for i, (s, chat) in enumerate(cast["telegram"]):
        update = {"update_id": 700_000_000 + i, "callback_query": {
            "id": str(900_000_000 + i), "from": {"id": chat, "is_bot": False, "first_name": "Racer"},
            "chat_instance": "-42", "data": f"a:ci:{s.id}",
            "message": {"message_id": telegram.hold(chat, "Your next session"), "date": int(cast["now"].timestamp()),
                        "chat": {"id": chat, "type": "private", "first_name": "Racer"},
                        "from": {"id": 123456, "is_bot": True, "first_name": "Tutoring", "username": BOT_USERNAME},
                        "text": "Your next session"}}}
        hook = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        rounds["telegram"].append((s, [(hook, "/telegram/webhook/", update)] * 2))
    return rounds


# --- sending -------------------------------------------------------------------------------------


async def fire(port: int, rounds: list) -> list[list[tuple[int, dict]]]:
    """Every round's requests sent together, IN_FLIGHT rounds at a time; (status, body) each."""
    # a connection per request: a kept-alive one the server closes as a POST goes out would lose it
    limits = httpx.Limits(max_connections=IN_FLIGHT * 4, max_keepalive_connections=0)
    gate = asyncio.Semaphore(IN_FLIGHT)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=120) as client:

        async def send(headers, path, body):
            if path.startswith("/session/"):  # the room's form
                r = await client.post(path, data=body, headers=headers)
            else:
                r = await client.post(path, content=json.dumps(body) if body is not None else b"",
                                      headers={**headers, "Content-Type": "application/json",
                                               "Accept": "application/json"})
            try:
                return r.status_code, r.json() if r.content else {}
            except ValueError:
                return r.status_code, {"text": r.text[:300]}

        async def one(requests):
            async with gate:
                return await asyncio.gather(*(send(*request) for request in requests))

        return await asyncio.gather(*(one(requests) for _, requests in rounds))


# --- checking ------------------------------------------------------------------------------------


# where a round with two winners may stand between them: disputed before the verify, scheduled
# (the request answered) before the cancel
midway = {"approval": {Status.DISPUTED}, "reschedule": {Status.SCHEDULED}}


def check_rounds(kind, sessions, answers, before, events, after, allowed, outcome) -> list[str]:
    """Per round: the requests that won (2xx) are one of the `allowed` sets, each winner made one
    event, every other request is a 409 with a message and the session as a winner left it, and
    the session ends as `outcome(winners, session, fresh)` expects (None: it does)."""
    problems = []
    for s, answer in zip(sessions, answers, strict=True):
        fresh = after[s.id]
        winners = frozenset(i for i, (status, _) in enumerate(answer) if 200 <= status < 300)
        if winners not in allowed:
            problems.append(f"{kind} {s.id}: won by {sorted(winners)}: {answer}")
            continue
        # a loser sees the session as a winner left it: as it is now where one request wins; on
        # the way there where two may (each 2xx answer, too, reads the session after its commit)
        reached = {fresh.status} if max(map(len, allowed)) == 1 else midway[kind] | {fresh.status}
        losers = [a for i, a in enumerate(answer) if i not in winners]
        if not all(status == 409 and body.get("detail") and body.get("session", {}).get("id") == s.id
                   and body["session"]["status"] in reached for status, body in losers):
            problems.append(f"{kind} {s.id}: losers {losers}, the session went through {reached}")
        if before[s.id] + len(winners) != events[s.id]:
            problems.append(f"{kind} {s.id}: {events[s.id] - before[s.id]} new events, {len(winners)} winners")
        if (wrong := outcome(winners, s, fresh)) is not None:
            problems.append(f"{kind} {s.id}: won by {sorted(winners)}: {wrong}")
    return problems


def count_events(ids) -> Counter:
    return Counter(dict(SessionEvent.objects.filter(session_id__in=ids).values_list("session_id")
                        .annotate(n=Count("id"))))


def test_thousands_of_conflicting_requests_have_the_winners_the_lifecycle_allows(
        server, worker, telegram, queue, parent, student, tutor, course, coordinator, reasons):
    """L06 L07 L12 L14 L15 L26 L27 L28 L34 L39 L41 L44 R08 R09 R13: RACE_REQUESTS conflicting
    requests, each round one winner, one event, at most one deduction; losers 409 with the
    current state (see the module's docstring)."""
    port, log, server_process = server
    worker_name, worker_process, worker_log = worker
    cpu = cpu_seconds()
    started = time.perf_counter()
    rounds = plan(REQUESTS)
    cast = seed(rounds, parent=parent, student=student, tutor=tutor, course=course, coordinator=coordinator,
                reasons=reasons)
    work = requests_of(cast, reasons, telegram)
    seeded = time.perf_counter()
    all_ids = [s.id for kind in work for s, _ in work[kind]]
    before = count_events(all_ids)
    total = sum(len(requests) for kind in work for _, requests in work[kind])
    assert total >= REQUESTS

    # Telegram first, while the worker runs; then the rest, all kinds interleaved
    answers = {"telegram": asyncio.run(fire(port, work["telegram"]))}
    assert len(telegram.wait_for("editMessageText", len(work["telegram"]), timeout=120)) >= len(work["telegram"])
    deadline = time.monotonic() + 120
    while not drained(worker_name, queue):
        assert time.monotonic() < deadline, Path(worker_log).read_text()[-3000:]
    stop_process(worker_process)  # its work is done; the other rounds' notifications wait in the queue
    telegram_done = time.perf_counter()
    others = [kind for kind in KINDS if kind != "telegram"]
    mixed = [(kind, r) for i in range(max(len(work[k]) for k in others)) for kind in others
             if i < len(work[kind]) for r in [work[kind][i]]]
    for (kind, _), answer in zip(mixed, asyncio.run(fire(port, [r for _, r in mixed])), strict=True):
        answers.setdefault(kind, []).append(answer)
    fired = time.perf_counter()
    stop_process(server_process)
    used = {k: v - cpu[k] for k, v in cpu_seconds().items()}

    events = count_events(all_ids)
    after = Session.objects.in_bulk(all_ids)
    deductions = Counter(PackageDeduction.objects.filter(session_id__in=all_ids).values_list("session_id", flat=True))
    proposals = Counter(RescheduleProposal.objects.filter(thread__session_id__in=all_ids)
                        .values_list("thread__session_id", flat=True))
    open_threads = Counter(RescheduleThread.objects.filter(session_id__in=all_ids, status="open")
                           .values_list("session_id", flat=True))
    problems = []

    ACK, DISPUTE, VERIFY = 0, 1, 2

    def approval(won, s, fresh):
        expected = Status.DISPUTED if won == {DISPUTE} else Status.APPROVED
        if fresh.status != expected or deductions[s.id] != (1 if expected == Status.APPROVED else 0):
            return f"{fresh.status}, {deductions[s.id]} deductions"
        return None

    ACCEPT, COUNTER, WITHDRAW, CANCEL = 0, 1, 2, 3

    def reschedule(won, s, fresh):
        start = s.scheduled_start + timedelta(hours=1) if ACCEPT in won else s.scheduled_start
        state = (fresh.status, fresh.scheduled_start, proposals[s.id], open_threads[s.id])
        if state != (Status.CANCELLED_BY_TUTOR, start, 2 if COUNTER in won else 1, 0):
            return f"{state}"
        return None

    def checked_in(won, s, fresh):
        return None if fresh.status == Status.CHECKED_IN else fresh.status

    def check_in_or_cancel(won, s, fresh):
        expected = Status.CHECKED_IN if won == {0} else Status.CANCELLED_BY_TUTOR
        return None if fresh.status == expected else fresh.status

    one = lambda n: [frozenset({i}) for i in range(n)]  # noqa: E731 - exactly one winner
    rules = {
        # acknowledge and dispute exclude each other and an approval is final; a verify after a
        # dispute is the coordinator's override of it (VERIFIABLE includes disputed, L28)
        "approval": ([frozenset({ACK}), frozenset({VERIFY}), frozenset({DISPUTE, VERIFY})], approval),
        # one answer to the request at most; the cancel always goes through (L41: allowed while a
        # request is open, and it closes the thread), before the answer (which then gets 409) or after
        "reschedule": ([frozenset({CANCEL}), *(frozenset({i, CANCEL}) for i in (ACCEPT, COUNTER, WITHDRAW))],
                       reschedule),
        "check_ins": (one(2), checked_in),
        "check_in_cancel": (one(2), check_in_or_cancel),
    }
    for kind, (allowed, outcome) in rules.items():
        sessions = [s for s, _ in work[kind]]
        problems += check_rounds(kind, sessions, answers[kind], before, events, after, allowed, outcome)
    deducted = {s.id for s in cast["approval"] if after[s.id].status == Status.APPROVED}
    assert set(deductions) == deducted  # nobody else's session used a credit
    assert LessonPackage.objects.get(student=student).deductions.count() == len(deducted)

    feedback_ids = [s.id for s in cast["feedback"]]
    ratings = Counter(SessionAssessment.objects.filter(session_id__in=feedback_ids)
                      .values_list("session_id", flat=True))
    analytics = Counter(e.data["session_id"] for e in Event.objects.filter(name="feedback_submitted"))
    for s, answer in zip(cast["feedback"], answers["feedback"], strict=True):
        if [status for status, _ in answer] != [303, 303] or ratings[s.id] != 1 or events[s.id] != 1 \
                or analytics[s.id] != 1:
            problems.append(f"feedback {s.id}: {answer}, {ratings[s.id]} assessments, {events[s.id]} events, "
                            f"{analytics[s.id]} analytics events")
    kinds = Counter(SessionEvent.objects.filter(session_id__in=feedback_ids).values_list("kind", flat=True))
    assert kinds == {"feedback_submitted": len(feedback_ids)}

    edits = Counter(int(call["message_id"]) for call in telegram.calls("editMessageText")
                    if call["text"].startswith("Checked in."))
    # each answer edited the message its button was on: none had to go out as a new message
    assert not [call for call in telegram.calls("sendMessage") if call["text"].startswith("Checked in.")]
    handled = set(ProcessedUpdate.objects.values_list("update_id", flat=True))
    by_telegram = Counter(SessionEvent.objects.filter(session_id__in=[s.id for s, _ in cast["telegram"]],
                                                      kind="check_in", channel="telegram")
                          .values_list("session_id", flat=True))
    for (s, requests), answer in zip(work["telegram"], answers["telegram"], strict=True):
        update = requests[0][2]
        message = update["callback_query"]["message"]["message_id"]
        if [status for status, _ in answer] != [200, 200] or update["update_id"] not in handled \
                or after[s.id].status != Status.CHECKED_IN or by_telegram[s.id] != 1 \
                or events[s.id] != before[s.id] + 1 or edits[message] != 1:
            problems.append(f"telegram {s.id}: {answer}, {after[s.id].status}, {by_telegram[s.id]} check-ins, "
                            f"{edits[message]} edits")

    sending = fired - seeded
    print(f"\n{total:,} requests in {len(all_ids):,} rounds {dict(rounds)}: seeded in {seeded - started:.1f} s, "
          f"the Telegram rounds done in {telegram_done - seeded:.1f} s, all sent in {sending:.1f} s "
          f"({total / sending:.0f} requests/s); CPU seconds {({k: round(v, 1) for k, v in used.items()})}, "
          f"{sum(used.values()):.0f} in all (load average now {os.getloadavg()[0]:.1f})")
    output = Path(log).read_text()
    assert "Traceback" not in output, output[-3000:]
    assert problems == [], f"{len(problems)} rounds went wrong, e.g. {problems[:10]}"
    won = {kind: Counter(tuple(i for i, (status, _) in enumerate(answer) if 200 <= status < 400)
                         for answer in answers[kind]) for kind in work}  # which requests won how often
    print(f"winners (request indexes) per kind: {won}")
