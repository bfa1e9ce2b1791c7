"""Benchmark of the Session Room: how many rooms one ASGI process holds, and how fast two people
get a call going.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/room.py [--rooms 50,100,200,400] [--db NAME]
    (or: scripts/devstack.py test --profile bench -- .venv/bin/python bench/run_all.py room)

Uses its own database (bench_room on the server of DATABASE_URL; created and migrated when
missing) and starts one uvicorn process serving tutoring.asgi on a free port of 127.0.0.1, as
`make run` does. Then, measured in this run:

  1. Capacity. For each step of --rooms: that many sessions whose rooms are open (a tutor and a
     student each, signed in with real Django session cookies), two sockets per room, every socket
     sending its heartbeat every ROOM_HEARTBEAT_SECONDS (10) like the browser. In each room the
     tutor then relays a signaling message (an "offer" carrying its send time) to the student's
     connection once a second, for --seconds; the student's socket notes how long it took (same
     machine, same clock). Reported per step: sockets, p50 / p95 / p99 signaling latency, the
     heartbeat round trip, errors, and p95 as a share of the 50 ms target. The largest step whose
     p95 stays under 50 ms is the answer. The load generator runs on the same two cores as the
     server (one asyncio process), so the figures are a floor of what the server alone does.
  2. Join to connected. Two Chromium contexts with fake cameras (the browser tests' set-up): the
     tutor waits in the room; the student clicks Join; the time from the click to the peer
     connection being "connected" on both sides, and to the first decoded video frame. --joins
     times; median and max.

Exit code non-zero when a step has errors or the first step misses the 50 ms target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.sweeps import use_database  # noqa: E402

TARGET_MS = 50.0
PASSWORD = "bench-room"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="bench_room")
    parser.add_argument("--rooms", default="50,100,200,400", help="steps of concurrent rooms")
    parser.add_argument("--seconds", type=int, default=20, help="signaling time per step")
    parser.add_argument("--joins", type=int, default=5, help="join-to-connected repetitions")
    return parser.parse_args(argv)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the ORM between Playwright's sync calls
    os.environ["DJANGO_ENV"] = "test"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def cast(n: int) -> list[tuple[int, bytes, bytes]]:
    """n open rooms: (session id, the tutor's cookie, the student's cookie), made fresh."""
    from django.contrib.auth.hashers import make_password
    from django.test import Client
    from django.utils import timezone

    from sessions.models import Session
    from tutoring.models import Role, User

    # sessions keep their append-only events: every run makes people of its own (tagged)
    tag = f"{int(time.time() * 1000):x}"
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [User(username=f"bench-room-{tag}-{kind}-{i}", name=f"{kind.title()} {i}", password=password, time_zone="UTC",
              roles=[Role.TUTOR if kind == "tutor" else Role.STUDENT])
         for i in range(n) for kind in ("tutor", "student")])
    start = timezone.now() + timedelta(minutes=5)
    sessions = Session.objects.bulk_create(
        [Session(tutor=users[2 * i], student=users[2 * i + 1], scheduled_start=start,
                 scheduled_end=start + timedelta(hours=1)) for i in range(n)])
    def cookie(user) -> bytes:
        client = Client()  # one per person: logging another user in on it would end this session
        client.force_login(user)
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    return [(s.id, cookie(users[2 * i]), cookie(users[2 * i + 1])) for i, s in enumerate(sessions)]


def start_server() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DB_CONN_MAX_AGE": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tutoring.asgi:application", "--host", "127.0.0.1",
                             "--port", str(port), "--no-access-log", "--log-level", "warning",
                             "--ws-max-size", "131072"], env=env, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("uvicorn did not start")


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# --- 1. capacity -----------------------------------------------------------------------------------


async def capacity_step(port: int, rooms, seconds: int) -> dict:
    import websockets

    from django.conf import settings

    latencies, beats, errors = [], [], []
    stop = asyncio.Event()
    url = f"ws://127.0.0.1:{port}/ws/session/"

    async def socket_of(session_id, cookie):
        return await websockets.connect(f"{url}{session_id}/", origin="http://127.0.0.1",
                                        additional_headers={"Cookie": cookie.decode()}, open_timeout=60,
                                        max_size=2 ** 17)

    async def reader(ws, inbox: dict):
        try:
            async for raw in ws:
                msg = json.loads(raw)
                kind = msg.get("type")
                if kind == "offer":
                    latencies.append((time.time() - float(msg["sdp"])) * 1000)
                elif kind == "state" and inbox.get("beat"):
                    beats.append((time.perf_counter() - inbox.pop("beat")) * 1000)
                elif kind == "error":
                    errors.append(msg.get("code"))
        except websockets.ConnectionClosed as exc:
            if not stop.is_set():
                errors.append(f"closed {exc.code}")

    async def heartbeat(ws, inbox: dict, every: float):
        await asyncio.sleep(every * (hash(id(ws)) % 100) / 100)  # spread, as real browsers are
        while not stop.is_set():
            inbox["beat"] = time.perf_counter()
            try:
                await ws.send(json.dumps({"type": "heartbeat"}))
            except websockets.ConnectionClosed:
                return  # the reader counts the closed socket as an error
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass

    async def room(session_id, tutor_cookie, student_cookie):
        try:
            tutor = await socket_of(session_id, tutor_cookie)
            tutor_welcome = json.loads(await tutor.recv())
            student = await socket_of(session_id, student_cookie)
            student_welcome = json.loads(await student.recv())
        except Exception as exc:  # noqa: BLE001 - counted, reported
            errors.append(f"connect: {type(exc).__name__}")
            opened.append(False)
            return None
        opened.append(True)
        refused = [m for m in (tutor_welcome, student_welcome) if m.get("type") != "welcome"]
        if refused:
            errors.append(f"refused: {refused[0].get('detail')}")
            return None
        inbox_t, inbox_s = {}, {}
        tasks = [asyncio.create_task(reader(tutor, inbox_t)), asyncio.create_task(reader(student, inbox_s)),
                 asyncio.create_task(heartbeat(tutor, inbox_t, settings.ROOM_HEARTBEAT_SECONDS)),
                 asyncio.create_task(heartbeat(student, inbox_s, settings.ROOM_HEARTBEAT_SECONDS))]
        await asyncio.sleep((session_id % 97) / 97)  # spread the rooms' sends over the second
        while not stop.is_set():
            try:
                await tutor.send(json.dumps({"type": "offer", "to": student_welcome["connection_id"],
                                             "sdp": repr(time.time())}))
            except websockets.ConnectionClosed:
                break  # counted by the tutor's reader
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        return tasks, tutor, student

    opened: list[bool] = []
    runners = []
    for i in range(0, len(rooms), 25):  # open in waves, as people arrive
        runners += [asyncio.create_task(room(*r)) for r in rooms[i:i + 25]]
        await asyncio.sleep(0.05)
    deadline = time.monotonic() + 180
    while len(opened) < len(rooms) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # the last rooms' first presence broadcasts settle
    latencies.clear()
    beats.clear()
    await asyncio.sleep(seconds)
    stop.set()
    results = await asyncio.gather(*runners, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            errors.append(type(result).__name__)
            continue
        if not result:
            continue
        tasks, tutor, student = result
        await tutor.close()
        await student.close()
        for task in tasks:
            task.cancel()
    return {"rooms": len(rooms), "sockets": 2 * len(rooms), "messages": len(latencies),
            "p50": pct(latencies, 50), "p95": pct(latencies, 95), "p99": pct(latencies, 99),
            "heartbeat_p95": pct(beats, 95), "errors": errors}


# --- 2. join to connected ---------------------------------------------------------------------------


def join_to_connected(port: int, repeats: int) -> list[dict]:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required"])
        for _ in range(repeats):
            (session_id, tutor_cookie, student_cookie), = cast_sync(1)
            pages = []
            for cookie in (tutor_cookie, student_cookie):
                context = browser.new_context(base_url=base)
                context.grant_permissions(["camera", "microphone"], origin=base)
                name, _, value = cookie.decode().partition("=")
                context.add_cookies([{"name": name, "value": value, "url": base}])
                page = context.new_page()
                page.goto(f"/session/{session_id}")
                page.wait_for_function("() => !document.getElementById('pick-camera').disabled")
                pages.append(page)
            tutor, student = pages
            tutor.click("#join")
            tutor.wait_for_function("() => document.getElementById('call-status').textContent === 'Waiting'")
            for page in pages:
                page.evaluate("""() => { window.__t = {}; setInterval(async () => {
                    const pc = window.room.pc; if (!pc) return;
                    if (pc.connectionState === 'connected' && !window.__t.connected) window.__t.connected = performance.timeOrigin + performance.now();
                    const stats = await pc.getStats(); stats.forEach(s => {
                      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0 && !window.__t.frame)
                        window.__t.frame = performance.timeOrigin + performance.now(); }); }, 10); }""")
            clicked = student.evaluate("() => { const t = performance.timeOrigin + performance.now(); "
                                       "document.getElementById('join').click(); return t; }")
            for page in pages:
                page.wait_for_function("() => window.__t.connected && window.__t.frame", timeout=30_000)
            times = [page.evaluate("() => window.__t") for page in pages]
            out.append({"connected_ms": max(t["connected"] for t in times) - clicked,
                        "first_frame_ms": max(t["frame"] for t in times) - clicked})
            for page in pages:
                page.context.close()
        browser.close()
    return out


def cast_sync(n):
    return cast(n)


# --- main ------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    use_database(args.db)
    setup_django()
    steps = [int(s) for s in args.rooms.split(",") if s.strip()]
    proc, port = start_server()
    failed = False
    try:
        print(f"uvicorn (tutoring.asgi) on 127.0.0.1:{port}; heartbeat every "
              f"{os.environ.get('ROOM_HEARTBEAT_SECONDS', '10')} s; target p95 < {TARGET_MS:.0f} ms")
        print(f"{'rooms':>6} {'sockets':>8} {'msgs':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'beat p95':>9} {'p95/target':>11} errors")
        best = 0
        asyncio.run(capacity_step(port, cast(10), 3))  # warm-up (connections, imports): not reported
        for n in steps:
            rooms = cast(n)
            row = asyncio.run(capacity_step(port, rooms, args.seconds))
            ok = not row["errors"] and row["p95"] < TARGET_MS
            best = n if ok else best
            failed |= bool(row["errors"]) or (n == steps[0] and not ok)
            errors = ", ".join(f"{e} ({row['errors'].count(e)})" for e in sorted(set(map(str, row["errors"])))) or "-"
            print(f"{row['rooms']:>6} {row['sockets']:>8} {row['messages']:>7} {row['p50']:>8.1f} {row['p95']:>8.1f} "
                  f"{row['p99']:>8.1f} {row['heartbeat_p95']:>9.1f} {row['p95'] / TARGET_MS:>11.2f} "
                  f"{len(row['errors'])} {errors}", flush=True)
        print(f"largest step with signaling p95 < {TARGET_MS:.0f} ms and no errors: {best} rooms "
              f"({2 * best} sockets) in one ASGI process")
        joins = join_to_connected(port, args.joins)
        connected = [j["connected_ms"] for j in joins]
        frames = [j["first_frame_ms"] for j in joins]
        print(f"join to connected ({len(joins)} joins): median {statistics.median(connected):.0f} ms, "
              f"max {max(connected):.0f} ms; to the first decoded frame on both sides: median "
              f"{statistics.median(frames):.0f} ms, max {max(frames):.0f} ms")
    finally:
        proc.terminate()
        proc.wait(20)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
