"""Publishing a task by name from a web process (tutoring.celery.publish): every task is
registered at start-up, and a publish never fails the request whose change already committed."""

import os
import subprocess
import sys

from django.conf import settings

from tutoring import celery

ROOT = settings.BASE_DIR

FRESH_PROCESS = """
import django, os
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
django.setup()
from tutoring.celery import app
names = set(app.tasks)
missing = [n for n in ("notifications.tasks.relay_events", "notes.tasks.summarize_notes",
                       "telegram_bot.tasks.handle_update") if n not in names]
print("MISSING", missing)
"""


def test_a_web_process_knows_every_task_before_its_first_request():
    """Issue 18 item 6 (found by bench/load.py under gunicorn): a check-in committed, then its
    commit hook raised NotRegistered('notifications.tasks.relay_events') and the client got a 500
    for a change that had happened. After django.setup() alone, the tasks are registered."""
    out = subprocess.run([sys.executable, "-c", FRESH_PROCESS], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "tutoring.settings"})
    assert "MISSING []" in out.stdout, out.stdout + out.stderr


def test_publishing_an_unknown_task_is_logged_not_raised(caplog):
    """A commit hook that publishes must never raise into the request: the outbox's beat sweep
    delivers what a failed publish did not."""
    eager = celery.app.conf.task_always_eager  # Celery's own configuration, restored after
    celery.app.conf.task_always_eager = False
    try:
        assert celery.publish("notifications.tasks.no_such_task", 1) is False
    finally:
        celery.app.conf.task_always_eager = eager
    assert "not a registered task" in caplog.text
