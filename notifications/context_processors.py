from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import SimpleLazyObject

from .models import Notification

BADGE_LIMIT = 100  # counted up to 100, shown as 99+


def _unread_notifications(user) -> QuerySet:
    return Notification.objects.filter(recipient=user, read_at__isnull=True)


# The navigation's badges, each the unread rows of a user, shown as {{ unread_<name> }}: the bell's
# is here; a feature app adds its own from its AppConfig.ready (messaging: the unread messages), so
# notifications imports none of them.
BADGES: dict[str, Callable[..., QuerySet]] = {"notifications": _unread_notifications}


def add_badge(name: str, unread: Callable[..., QuerySet]) -> None:
    BADGES[name] = unread


def badge_counts(user) -> dict[str, int]:
    """The navigation's figures (unread notifications for the bell, unread messages, ...) in ONE
    query: each counted up to BADGE_LIMIT."""
    names, counts, params = list(BADGES), [], []
    for i, name in enumerate(names):
        sql, part = BADGES[name](user).values("id")[:BADGE_LIMIT].query.sql_with_params()
        counts.append(f"(SELECT count(*) FROM ({sql}) b{i})")
        params.extend(part)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(counts)}", params)
        return dict(zip(names, cursor.fetchone(), strict=True))


def inbox(request):
    """The navigation's unread counts (the bell and Messages), counted only when a page shows
    them, all in one query."""
    user = getattr(request, "user", None)
    context = {"dev_outbox": settings.DEV_OUTBOX}
    if user is not None and user.is_authenticated:
        counts = cache(lambda: badge_counts(user))
        for name in BADGES:
            context[f"unread_{name}"] = SimpleLazyObject(lambda name=name: counts()[name])
    return context
