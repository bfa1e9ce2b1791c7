"""Issue 11 item 5: `make run` holds up as the demo people try: Redis keeps the queue on disk, and
a crashed worker, beat or web server is restarted with a back-off while the others keep serving."""

import importlib.util
import sys
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
devstack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(devstack)

CRASH = [sys.executable, "-c", "import sys; sys.exit(3)"]
SERVE = [sys.executable, "-c", "import signal; signal.pause()"]  # runs until a signal stops it


def test_the_dev_redis_is_saved_to_disk_and_keeps_queued_tasks_across_a_restart(tmp_path):
    """docs/operations.md says the dev Redis is saved to disk: CONFIG GET save was empty (the save
    points were one argument, which redis-server ignored) and nothing survived a restart."""
    data = tmp_path / "redis"
    with devstack.embedded_redis(data, persist=True) as url:
        client = redis.Redis.from_url(url)
        assert client.config_get("save")["save"] == "60 1"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        client.lpush("celery", "a queued task")
    with devstack.embedded_redis(data, persist=True) as url:
        assert redis.Redis.from_url(url).lrange("celery", 0, -1) == [b"a queued task"]


def test_the_test_redis_is_not_saved(tmp_path):
    with devstack.embedded_redis(tmp_path / "redis", persist=False) as url:
        assert redis.Redis.from_url(url).config_get("save")["save"] == ""


def test_a_crashed_process_is_restarted_with_a_growing_backoff_while_the_others_keep_running():
    """Killing the worker stopped the whole stack, web server included. Now the supervisor reports
    the exit, waits 1 s, then 2 s, ... before each restart, and never touches the others."""
    lines = []
    supervisor = devstack.Supervisor({"web": SERVE, "worker": CRASH}, report=lines.append, min_backoff=1,
                                     max_backoff=4, healthy_after=60)
    supervisor.start(now=0)
    web = supervisor.procs["web"]
    try:
        restarts_at = []
        now = 0.0
        for _ in range(4):
            supervisor.procs["worker"].wait(30)  # it crashes at once
            supervisor.poll(now=now)
            assert supervisor.procs["worker"] is None
            due = supervisor.restart_at["worker"]
            supervisor.poll(now=due - 0.01)
            assert supervisor.procs["worker"] is None  # not before its back-off
            supervisor.poll(now=due)
            assert supervisor.procs["worker"] is not None
            restarts_at.append(due - now)
            now = due
        assert restarts_at == [1, 2, 4, 4]  # doubling, capped
        assert supervisor.procs["web"] is web and web.poll() is None  # the web server kept running
        assert lines[0] == ("worker exited with status 3 after 0 s; restarting it in 1 s (the other processes "
                            "keep running)")
        assert lines[1].startswith("worker restarted (restart 1, pid ")
        assert not any(line.startswith("web") for line in lines)
    finally:
        supervisor.stop()
    assert web.poll() is not None


def test_a_process_that_ran_for_a_while_restarts_after_the_shortest_backoff():
    lines = []
    supervisor = devstack.Supervisor({"worker": CRASH}, report=lines.append, healthy_after=60)
    supervisor.start(now=0)
    supervisor.failures["worker"] = 5  # it had crashed often, long ago
    supervisor.procs["worker"].wait(30)
    supervisor.poll(now=3600)  # then ran for an hour before this exit
    assert supervisor.restart_at["worker"] == 3601
    supervisor.stop()


def test_make_run_starts_the_telegram_bot_only_with_a_token():
    """Issue 15: the demo works without a bot; with a token `make run` polls with `runbot`."""
    manage = ["python", "manage.py"]
    assert devstack.bot_command({}, manage) is None
    assert devstack.bot_command({"TELEGRAM_BOT_TOKEN": "  "}, manage) is None
    assert devstack.bot_command({"TELEGRAM_BOT_TOKEN": "123:abc"}, manage) == ["python", "manage.py", "runbot"]
