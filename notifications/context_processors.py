from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import SimpleLazyObject

from tutoring.prepared import Plan, plan

from .models import Notification

BADGE_LIMIT = 100  # counted up to 100, shown as 99+


def _unread_notifications(user) -> QuerySet:
    return Notification.objects.filter(recipient=user, read_at__isnull=True)


# The navigation's badges, each the unread rows of a user, shown as {{ unread_<name> }}: the bell's
# is here; a feature app adds its own from its AppConfig.ready (messaging: the unread messages), so
# notifications imports none of them.
BADGES: dict[str, Callable[..., QuerySet]] = {"notifications": _unread_notifications}
# the badges declared to depend on the user's id alone (add_badge's id_only): while every badge is,
# their query is built once per process (_plan)
ID_ONLY: set[str] = {"notifications"}


def add_badge(name: str, unread: Callable[..., QuerySet], *, id_only: bool = False) -> None:
    """A badge: `unread(user)` is the user's unread rows. id_only=True declares that the query it
    builds depends on nothing but the user's id: no other field of the user, no database read, no
    clock, time zone or setting (those would be frozen into the query built once per process);
    otherwise the badges' query is built for each request."""
    BADGES[name] = unread
    if id_only:
        ID_ONLY.add(name)
    else:
        ID_ONLY.discard(name)


def _compile(badges: dict[str, Callable[..., QuerySet]], user) -> tuple[str, list]:
    counts, params = [], []
    for i, unread in enumerate(badges.values()):
        sql, part = unread(user).values("id")[:BADGE_LIMIT].query.sql_with_params()
        counts.append(f"(SELECT count(*) FROM ({sql}) b{i})")
        params.extend(part)
    return f"SELECT {', '.join(counts)}", params


STAND_INS = (-1, -2)  # two ids no user has
_plans: dict[tuple, Plan | None] = {}


def _stand_in(user_class, pk: int):
    """A user of whom only the id is loaded: reading any other field loads it from the database,
    where there is no such user (DoesNotExist)."""
    return user_class.from_db(None, [user_class._meta.pk.attname], [pk])


def _plan(badges: dict[str, Callable[..., QuerySet]], user_class) -> Plan | None:
    """The badges' query built through the ORM once per process (per badge set): building it
    cost more than running it. It is built for two stand-in users of whom only the id is known
    (tutoring.prepared.plan: the same SQL, only the stand-ins' ids differing among the
    parameters). A badge set whose query reads more of the user than the id has no plan (None):
    it is built for each request."""
    key = (user_class, *badges.items())
    if key not in _plans:
        try:
            _plans[key] = plan(lambda pk: _compile(badges, _stand_in(user_class, pk)),
                               (STAND_INS[0],), (STAND_INS[1],))
        except ObjectDoesNotExist:  # a badge read another field of the stand-in
            _plans[key] = None
    return _plans[key]


def badge_counts(user) -> dict[str, int]:
    """The navigation's figures (unread notifications for the bell, unread messages, ...) in ONE
    query: each counted up to BADGE_LIMIT."""
    badges = dict(BADGES)
    found = _plan(badges, user.__class__) if badges.keys() <= ID_ONLY else None
    sql, params = (found.sql, found.params_for(user.pk)) if found else _compile(badges, user)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(zip(badges, cursor.fetchone(), strict=True))


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
