"""Keyset paging on (scheduled_start, id) for the JSON lists: the last page costs what the first
does. The cursor is "<scheduled_start ISO>_<id>" of the last row served."""

from datetime import datetime

from django.db.models import Q, QuerySet

from .errors import Refused


def after_cursor(qs: QuerySet, cursor: str | None, *, newest_first: bool) -> QuerySet:
    """The rows after the cursor, in the list's order (oldest or newest first)."""
    if not cursor:
        return qs
    try:
        start_s, pk_s = cursor.rsplit("_", 1)
        start, pk = datetime.fromisoformat(start_s), int(pk_s)
    except ValueError:
        raise Refused("The cursor is not valid.", code="invalid", status=422) from None
    if newest_first:
        return qs.filter(Q(scheduled_start__lt=start) | Q(scheduled_start=start, pk__lt=pk))
    return qs.filter(Q(scheduled_start__gt=start) | Q(scheduled_start=start, pk__gt=pk))


def order(qs: QuerySet, *, newest_first: bool) -> QuerySet:
    return qs.order_by("-scheduled_start", "-pk") if newest_first else qs.order_by("scheduled_start", "pk")


def cut(rows: list, limit: int) -> tuple[list, str | None]:
    """`rows` were fetched with limit + 1: the page, and the cursor for the next one (or None)."""
    page = rows[:limit]
    more = len(rows) > limit
    return page, (f"{page[-1].scheduled_start.isoformat()}_{page[-1].pk}" if more else None)
