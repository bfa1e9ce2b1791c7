import logging
import os
from importlib import import_module

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutoring.settings")

app = Celery("tutoring")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)


def _task(task):
    """A task, or its registered name ("notes.tasks.summarize_notes"): publishing by name lets an
    app's services enqueue its tasks without importing the tasks module that imports them."""
    if not isinstance(task, str):
        return task
    if task not in app.tasks:  # tutoring.apps imports every app's tasks module at start-up
        import_module(task.rsplit(".", 1)[0])
    return app.tasks[task]


def publish(task, *args, **kwargs) -> bool:
    """Enqueue `task` (a task or its name) from a request (typically in a commit hook) without ever failing or holding
    up the request: a connection of its own that gives up after BROKER_PUBLISH_TIMEOUT seconds
    when Redis is down or frozen, no retry, and any error logged and swallowed. Returns whether
    the task was sent. Whatever is published this way must also be found by a beat sweep (the
    outbox relay, the stalled-summary requeue), which delivers what a failed publish could not.

    In eager mode (unit tests) the task runs in place and its errors propagate, as they should."""
    return publish_each(task, [args], kwargs) == 1


def publish_each(task, arg_lists, kwargs=None) -> int:
    """publish() for several calls of one task over one connection; how many were sent."""
    kwargs = kwargs or {}
    if app.conf.task_always_eager:
        task = _task(task)
        for args in arg_lists:
            task.apply_async(tuple(args), kwargs)
        return len(arg_lists)
    try:
        task = _task(task)
    except Exception:  # noqa: BLE001 - a commit hook must not turn a committed change into a 500
        log.error("could not publish %s: not a registered task (the beat sweep will pick it up)", task,
                  exc_info=True)
        return 0
    timeout = settings.BROKER_PUBLISH_TIMEOUT
    options = {**(app.conf.broker_transport_options or {}), "socket_timeout": timeout,
               "socket_connect_timeout": timeout, "max_retries": 0}
    sent = 0
    try:
        with app.connection_for_write(connect_timeout=timeout, transport_options=options) as connection:
            for args in arg_lists:
                task.apply_async(tuple(args), kwargs, connection=connection, retry=False)
                sent += 1
    except Exception:  # noqa: BLE001 - the broker's trouble is never the request's
        log.warning("could not publish %s (%d of %d sent; the beat sweep will pick the rest up)", task.name,
                    sent, len(arg_lists), exc_info=True)
    return sent
