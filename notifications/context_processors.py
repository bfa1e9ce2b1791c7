from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils.functional import SimpleLazyObject

BADGE_LIMIT = 100  # counted up to 100, shown as 99+


def badge_counts(user) -> tuple[int, int]:
    """The navigation's figures, unread notifications (the bell) and unread messages, in ONE
    query: each counted up to BADGE_LIMIT."""
    from messaging.models import Message
    from notifications.models import Notification

    notices = Notification.objects.filter(recipient=user, read_at__isnull=True).values("id")[:BADGE_LIMIT]
    messages = (Message.objects.filter(Q(conversation__user_low=user) | Q(conversation__user_high=user),
                                       read_at__isnull=True).exclude(sender=user).values("id")[:BADGE_LIMIT])
    sql_n, params_n = notices.query.sql_with_params()
    sql_m, params_m = messages.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT count(*) FROM ({sql_n}) n), (SELECT count(*) FROM ({sql_m}) m)",
                       [*params_n, *params_m])
        notices_n, messages_n = cursor.fetchone()
    return notices_n, messages_n


def inbox(request):
    """The navigation's unread counts (the bell and Messages), counted only when a page shows
    them, both in one query."""
    user = getattr(request, "user", None)
    context = {"dev_outbox": settings.DEV_OUTBOX}
    if user is not None and user.is_authenticated:
        counts = cache(lambda: badge_counts(user))
        context["unread_notifications"] = SimpleLazyObject(lambda: counts()[0])
        context["unread_messages"] = SimpleLazyObject(lambda: counts()[1])
    return context
