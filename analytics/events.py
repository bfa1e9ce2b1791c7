"""The analytics events of the creator's Session History page (page code "CSES") and of the
Session Room (page code "SROM"), the data each one carries, and record(), the one way rows are
written (the beacon endpoint uses it too). An event's schema is chosen by its page: the room's
events with page "SROM", the Session History's with any other page (its code or a path).

Declared data of the Session History's events (every key required, no other keys, no coercion):

    page_view         session_count: int, 0 <= n <= 10**9
                      filter_state: {str (1-40 chars): str (<= 200 chars)}, at most 20 entries
    session_viewed    session_id: int >= 1
    recording_played  session_id: int >= 1
    filter_applied    filter_type: one of FILTER_TYPES
                      value: str (<= 200 chars; "" when a filter is cleared)

The Session Room's (spec 002, R13):

    page_view           session_id: int >= 1, user_role: "tutor" | "student"
    session_joined      session_id, time_before_start: int seconds (negative: joined late)
    session_started     session_id (both participants present)
    session_ended       session_id, duration: int seconds >= 0 (from both present to an empty room)
    feedback_submitted  session_id, rating: 1..5
    tech_issue          session_id, error_type: one of TECH_ISSUES

page_view is recorded by the server only; session_viewed, recording_played, filter_applied and
tech_issue may also come from the browser (BROWSER_EVENTS). A mistake raises InvalidEvent, a
ValueError carrying a stable `code` and a user-facing `detail`.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Literal, get_args

from django.db import connection
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutoring.input import Text as SafeText

from .models import Event, EventName, EventSource

DEFAULT_PAGE = "CSES"
ROOM_PAGE = "SROM"
FilterType = Literal["course", "st", "student", "status", "range", "from", "to", "low_rated", "tab"]
FILTER_TYPES: tuple[str, ...] = get_args(FilterType)
TechIssue = Literal["media_denied", "media_unavailable", "connection_failed", "peer_connection_failed",
                    "provider_unavailable"]
TECH_ISSUES: tuple[str, ...] = get_args(TechIssue)
BROWSER_EVENTS = frozenset({EventName.SESSION_VIEWED, EventName.RECORDING_PLAYED, EventName.FILTER_APPLIED,
                            EventName.TECH_ISSUE})
MAX_ID = 2**63 - 1  # a bigint primary key

# A page code ("CSES") or a path ("/dashboard/teaching/sessions"), 200 characters at most.
PAGE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,31}|/[^\s\x00-\x1f\x7f-\x9f]{0,199}")

# the shared text type: no NUL (which the JSONB column refuses) or other control characters
Text = SafeText(200, what="value")
Key = SafeText(40, min_length=1, what="key")
SessionId = Annotated[int, Field(ge=1, le=MAX_ID)]


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PageViewData(EventData):
    session_count: Annotated[int, Field(ge=0, le=10**9)]
    filter_state: Annotated[dict[Key, Text], Field(max_length=20)]


class SessionViewedData(EventData):
    session_id: SessionId


class RecordingPlayedData(EventData):
    session_id: SessionId


class FilterAppliedData(EventData):
    filter_type: FilterType
    value: Text


class RoomPageViewData(EventData):
    session_id: SessionId
    user_role: Literal["tutor", "student"]


class SessionJoinedData(EventData):
    session_id: SessionId
    time_before_start: Annotated[int, Field(ge=-(10**9), le=10**9)]


class SessionStartedData(EventData):
    session_id: SessionId


class SessionEndedData(EventData):
    session_id: SessionId
    duration: Annotated[int, Field(ge=0, le=10**9)]


class FeedbackSubmittedData(EventData):
    session_id: SessionId
    rating: Annotated[int, Field(ge=1, le=5)]


class TechIssueData(EventData):
    session_id: SessionId
    error_type: TechIssue


SCHEMAS: dict[str, type[EventData]] = {
    EventName.PAGE_VIEW: PageViewData,
    EventName.SESSION_VIEWED: SessionViewedData,
    EventName.RECORDING_PLAYED: RecordingPlayedData,
    EventName.FILTER_APPLIED: FilterAppliedData,
}
ROOM_SCHEMAS: dict[str, type[EventData]] = {
    EventName.PAGE_VIEW: RoomPageViewData,
    EventName.SESSION_JOINED: SessionJoinedData,
    EventName.SESSION_STARTED: SessionStartedData,
    EventName.SESSION_ENDED: SessionEndedData,
    EventName.FEEDBACK_SUBMITTED: FeedbackSubmittedData,
    EventName.TECH_ISSUE: TechIssueData,
}


def schemas_for(page) -> dict[str, type[EventData]]:
    return ROOM_SCHEMAS if page == ROOM_PAGE else SCHEMAS


class InvalidEvent(ValueError):
    """An event that cannot be recorded. code: unknown_event, invalid_data, invalid_page,
    invalid_source (and not_from_browser, raised by the beacon)."""

    def __init__(self, detail: str, code: str):
        super().__init__(detail)
        self.detail, self.code = detail, code


def validate(name, data, page=DEFAULT_PAGE) -> dict:
    """The event's data checked against its schema (chosen by the page), as the plain dict to store."""
    schemas = schemas_for(page)
    schema = schemas.get(name) if isinstance(name, str) else None
    if schema is None:
        raise InvalidEvent(f"Unknown event {name!r}: expected one of {', '.join(schemas)}.", "unknown_event")
    if not isinstance(data, Mapping):
        raise InvalidEvent(f"The data of {name} must be an object.", "invalid_data")
    try:
        return schema.model_validate(dict(data)).model_dump()
    except ValidationError as exc:
        raise InvalidEvent(f"{name}: {_first_error(exc)}", "invalid_data") from None


def check_page(page) -> str:
    if not (isinstance(page, str) and PAGE_PATTERN.fullmatch(page)):
        raise InvalidEvent('page must be a page code such as "CSES" or a path starting with "/".',
                           "invalid_page")
    return page


def record(name: str, *, user, data: Mapping, page: str = DEFAULT_PAGE, source: str = EventSource.SERVER,
           now: datetime | None = None) -> Event:
    """Validate and write one event. `user` may be None or anonymous (stored as no user).
    Raises InvalidEvent (a ValueError) for an unknown name, bad data, page or source."""
    clean = validate(name, data, page)
    page = check_page(page)
    if source not in EventSource.values:
        raise InvalidEvent(f"source must be one of {', '.join(EventSource.values)}.", "invalid_source")
    if now is not None and timezone.is_naive(now):
        raise ValueError("now must be an aware datetime")
    if user is not None and not user.is_authenticated:
        user = None
    event = Event(name=name, user=user, page=page, data=clean, source=source,
                  created_at=now or timezone.now())
    # the row Event.objects.create writes, without building its SQL each time
    sql, fields = _insert()
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_save(getattr(event, field.attname), connection)
                             for field in fields])
        (event.pk,) = cursor.fetchone()
    event._state.adding, event._state.db = False, connection.alias
    return event


@cache
def _insert() -> tuple[str, list]:
    """An event's INSERT (every column but the id, which it returns) and its fields in order. It
    writes what Event.objects.create writes only while Event has no pre_save behaviour (auto_now),
    db_default or generated field, and nothing listens to its save signals (none does: the test
    compares the row with the ORM's column by column)."""
    fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(Event._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(Event._meta.pk.column)}")
    return sql, fields


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in ("data", *error["loc"]))
    return f"{where}: {error['msg']}"
