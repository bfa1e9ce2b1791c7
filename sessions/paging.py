"""Keyset paging on (scheduled_start, id) for the JSON lists: the last page costs what the first
does. The cursor is "<scheduled_start ISO>_<id>" of the last row served."""

from datetime import datetime
from typing import Annotated

from django.db.models import F, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from tutoring.input import Text

from .errors import Refused


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    """(scheduled_start, id) of a cursor; Refused (422) when it is not one."""
    try:
        start_s, pk_s = cursor.rsplit("_", 1)
        start, pk = datetime.fromisoformat(start_s), int(pk_s)
    except ValueError:
        raise Refused("The cursor is not valid.", code="invalid", status=422) from None
    if start.tzinfo is None:
        raise Refused("The cursor is not valid.", code="invalid", status=422)
    return start, pk


def _check_cursor(value: str) -> str:
    if value:
        try:
            parse_cursor(value)
        except Refused as refused:
            raise PydanticCustomError("cursor", refused.message) from None
    return value


# The cursor parameter of a list: checked with the rest of the input (a 422 naming it), before
# anything is looked up.
Cursor = Annotated[Text(100, what="cursor"), AfterValidator(_check_cursor)]


def after_cursor(qs: QuerySet, cursor: str | None, *, newest_first: bool) -> QuerySet:
    """The rows after the cursor, in the list's order (oldest or newest first)."""
    if not cursor:
        return qs
    return beyond(qs, parse_cursor(cursor), newest_first=newest_first)


def beyond(qs: QuerySet, key: tuple[datetime, int], *, newest_first: bool) -> QuerySet:
    """The rows after (scheduled_start, id) `key` in the list's order: later ones, or with
    `newest_first` earlier ones."""
    # a row comparison, so PostgreSQL starts the index scan at the cursor instead of reading and
    # dropping every newer row (as `start < X OR (start = X AND id < Y)` makes it do)
    row = Tuple(F("scheduled_start"), F("pk"))
    return qs.filter(TupleLessThan(row, key) if newest_first else TupleGreaterThan(row, key))


def order(qs: QuerySet, *, newest_first: bool) -> QuerySet:
    return qs.order_by("-scheduled_start", "-pk") if newest_first else qs.order_by("scheduled_start", "pk")


def cut(rows: list, limit: int) -> tuple[list, str | None]:
    """`rows` were fetched with limit + 1: the page, and the cursor for the next one (or None)."""
    page = rows[:limit]
    more = len(rows) > limit
    return page, (cursor_of(page[-1]) if more else None)


def cursor_of(row) -> str:
    """The cursor that continues after this row."""
    return f"{row.scheduled_start.isoformat()}_{row.pk}"
