"""The analytics events of the creator's Session History page (page code "CSES"), the data each
one carries, and record(), the one way rows are written (the beacon endpoint uses it too).

Declared data, per event (every key required, no other keys, no type coercion):

    page_view         session_count: int, 0 <= n <= 10**9
                      filter_state: {str (1-40 chars): str (<= 200 chars)}, at most 20 entries
    session_viewed    session_id: int >= 1
    recording_played  session_id: int >= 1
    filter_applied    filter_type: one of FILTER_TYPES
                      value: str (<= 200 chars; "" when a filter is cleared)

page_view is recorded by the server only; the others may also come from the browser
(BROWSER_EVENTS). A mistake raises InvalidEvent, a ValueError carrying a stable `code` and a
user-facing `detail`.
"""

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Literal, get_args

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tutoring.input import Text as SafeText

from .models import Event, EventName, EventSource

DEFAULT_PAGE = "CSES"
FilterType = Literal["course", "st", "student", "status", "range", "from", "to", "low_rated", "tab"]
FILTER_TYPES: tuple[str, ...] = get_args(FilterType)
BROWSER_EVENTS = frozenset({EventName.SESSION_VIEWED, EventName.RECORDING_PLAYED, EventName.FILTER_APPLIED})
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


SCHEMAS: dict[str, type[EventData]] = {
    EventName.PAGE_VIEW: PageViewData,
    EventName.SESSION_VIEWED: SessionViewedData,
    EventName.RECORDING_PLAYED: RecordingPlayedData,
    EventName.FILTER_APPLIED: FilterAppliedData,
}


class InvalidEvent(ValueError):
    """An event that cannot be recorded. code: unknown_event, invalid_data, invalid_page,
    invalid_source (and not_from_browser, raised by the beacon)."""

    def __init__(self, detail: str, code: str):
        super().__init__(detail)
        self.detail, self.code = detail, code


def validate(name, data) -> dict:
    """The event's data checked against its schema, as the plain dict to store."""
    schema = SCHEMAS.get(name) if isinstance(name, str) else None
    if schema is None:
        raise InvalidEvent(f"Unknown event {name!r}: expected one of {', '.join(SCHEMAS)}.", "unknown_event")
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
    clean = validate(name, data)
    page = check_page(page)
    if source not in EventSource.values:
        raise InvalidEvent(f"source must be one of {', '.join(EventSource.values)}.", "invalid_source")
    if now is not None and timezone.is_naive(now):
        raise ValueError("now must be an aware datetime")
    if user is not None and not user.is_authenticated:
        user = None
    return Event.objects.create(name=name, user=user, page=page, data=clean, source=source,
                                created_at=now or timezone.now())


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in ("data", *error["loc"]))
    return f"{where}: {error['msg']}"
