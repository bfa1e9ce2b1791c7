"""Input checked at the edge, once: the one text type and the one date type every web form field
and every API schema uses, so a new field cannot forget a check (tests/tutoring/test_input.py
walks every form and every API operation and fails on a plain string or date field).

Text (`TextField` in forms, `Text(...)` in ninja schemas, `clean_text` for the rest): line ends
become "\\n", surrounding whitespace is trimmed, the length is at most `max_length` characters
(stated in the message, the OpenAPI schema and the field's help text) and at least `min_length`,
and NUL, the other control characters (newline and tab are kept) and lone surrogates are refused:
PostgreSQL cannot store NUL in text or JSONB, and none of them belongs in what people type.

Dates (`DateTimeField`/`DayField` in forms, `Moment`/`Day` in schemas, `check_moment`/`check_day`
for the rest): between EARLIEST and LATEST, and a date-time carries its offset. A year 9999 start
overflows as soon as a duration is added to it; no session is planned outside this century.

Everything raises `InvalidInput` (a ValueError) with a message to show as is; the form fields turn
it into a ValidationError, the schema types into a 422 naming the field.
"""

import json
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from django import forms
from django.core.exceptions import ValidationError
from pydantic import AfterValidator, AwareDatetime, WithJsonSchema
from pydantic_core import PydanticCustomError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)
RANGE_MESSAGE = "Choose a date between the years 2000 and 2100."

_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class InvalidInput(ValueError):
    """Input refused at the edge; str(exc) is the message to show, `code` a stable name for it
    (required, too_short, too_long, invalid_text, naive_time, out_of_range)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _describe(char: str) -> str:
    return f"U+{ord(char):04X}"


def clean_text(value: Any, *, max_length: int, min_length: int = 0, what: str = "text",
               too_short: str | None = None) -> str:
    """The text as stored (see the module docstring), or InvalidInput. `min_length` 0 allows empty."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"The {what} must be text.", "invalid_text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if bad := _FORBIDDEN.search(text):
        raise InvalidInput(f"There is a character in the {what} that cannot be saved ({_describe(bad.group())}, "
                           "a control or broken character): remove it and try again.", "invalid_text")
    if len(text) > max_length:
        raise InvalidInput(f"The {what} must be at most {max_length:,} characters long (this is {len(text):,}).",
                           "too_long")
    if min_length and not text:
        raise InvalidInput(f"Please give a {what}.", "required")
    if len(text) < min_length:
        raise InvalidInput(too_short or f"The {what} must be at least {min_length} characters long.", "too_short")
    return text


def unreadable_parameter(params) -> str | None:
    """The message for the first parameter of a query (a QueryDict) whose name or value has a
    character clean_text refuses (a NUL reaches PostgreSQL as an error wherever a view or the
    admin's list filters look it up), else None."""
    for name, values in params.lists():
        for text in (name, *values):
            if bad := _FORBIDDEN.search(text):
                shown = _FORBIDDEN.sub("", name)[:40] or "?"
                return (f"The address has a character that cannot be read in “{shown}” ({_describe(bad.group())}, "
                        "a control or broken character): remove it and try again.")
    return None


def check_moment(value: datetime) -> datetime:
    """An aware date-time within EARLIEST..LATEST, or InvalidInput."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("The time must include its time zone offset.", "naive_time")
    try:
        inside = EARLIEST <= value <= LATEST
    except OverflowError:  # an offset that pushes year 1 or 9999 out of range
        inside = False
    if not inside:
        raise InvalidInput(RANGE_MESSAGE, "out_of_range")
    return value


def check_day(value: date) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise InvalidInput(RANGE_MESSAGE, "out_of_range")
    return value


MAX_ID = 2**63 - 1  # a bigint, the widest id column


def parse_int(value: Any, *, maximum: int = MAX_ID) -> int | None:
    """A whole number 0..maximum written in ASCII digits (a URL's query, a search box, a button's
    data, a provider's text), else None. Not str.isdigit(): it is true for "²", which int()
    refuses; and a wider number than a bigint is refused by PostgreSQL."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not (value.isascii() and value.isdecimal()) or len(value) > len(str(maximum)):
        return None
    number = int(value)
    return number if number <= maximum else None


def from_epoch(seconds: float | None) -> datetime | None:
    """The aware UTC moment `seconds` after 1970 (a provider's timestamp), or None when missing or
    beyond what a datetime holds (a number past the year 9999, float('inf') from JSON's 1e999)."""
    try:
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None
    except (OverflowError, ValueError, OSError):
        return None


def parse_id(value: Any) -> int | None:
    """A database id (1..bigint) as parse_int reads it, else None."""
    number = parse_int(value)
    return number or None


def parse_json(body: bytes | str) -> Any:
    """json.loads for request bodies: ValueError for bad JSON, bad UTF-8 and JSON nested too deep
    for the parser (never a RecursionError)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("The JSON is nested too deeply.") from None


# --- API schemas (pydantic / django-ninja) -----------------------------------------------------


class _TextMarker:
    """Marks a schema field as the shared text type (the field walk in the tests looks for it)."""

    def __init__(self, max_length: int, min_length: int):
        self.max_length, self.min_length = max_length, min_length


def Text(max_length: int, *, min_length: int = 0, what: str = "text", too_short: str | None = None):  # noqa: N802
    """The API's text type: `name: Text(2000)`; the OpenAPI schema states both lengths."""

    def check(value: str) -> str:
        try:
            return clean_text(value, max_length=max_length, min_length=min_length, what=what, too_short=too_short)
        except InvalidInput as exc:
            raise PydanticCustomError("text", str(exc)) from None

    schema = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema), _TextMarker(max_length, min_length)]


def _pydantic(check):
    def run(value):
        try:
            return check(value)
        except InvalidInput as exc:
            raise PydanticCustomError("date_range", str(exc)) from None

    return AfterValidator(run)


class _DateMarker:
    pass


DATE_MARKER = _DateMarker()
Moment = Annotated[AwareDatetime, _pydantic(check_moment), DATE_MARKER]
Day = Annotated[date, _pydantic(check_day), DATE_MARKER]


def is_text_type(metadata) -> bool:
    return any(isinstance(m, _TextMarker) for m in metadata)


def is_date_type(metadata) -> bool:
    return any(m is DATE_MARKER for m in metadata)


# --- web forms -------------------------------------------------------------------------------


class TextField(forms.CharField):
    """A form's free text: the same checks as the API's Text, the limit stated in the help text."""

    def __init__(self, *, max_length: int, min_length: int = 0, what: str = "text", too_short: str | None = None,
                 **kwargs):
        self.what, self.too_short = what, too_short
        kwargs.setdefault("help_text", f"Up to {max_length:,} characters." if not min_length
                          else f"At least {min_length} and up to {max_length:,} characters.")
        super().__init__(max_length=max_length, min_length=min_length or None, **kwargs)
        self.validators = []  # clean_text states every limit in one message

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return self.empty_value
        try:
            return clean_text(value, max_length=self.max_length, min_length=self.min_length or 0, what=self.what,
                              too_short=self.too_short)
        except InvalidInput as exc:
            raise ValidationError(str(exc), code=exc.code) from None


LOCAL_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class DateTimeField(forms.DateTimeField):
    """A datetime-local input, read in the active time zone (the viewer's, set by the view), within
    the shared range."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "min": "2000-01-01T00:00",
                                        "max": "2100-12-31T23:59"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", LOCAL_INPUT)
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            moment = super().to_python(value)
        except ValidationError as exc:
            if exc.code != "ambiguous_timezone":
                raise
            raise ValidationError(_clock_change(exc.params["datetime"], exc.params["current_timezone"]),
                                  code="clock_change") from None
        return _form_checked(check_moment, moment)


def _clock_change(local: datetime, zone) -> str:
    """What to say of a local time the clocks skip or repeat in `zone` (Django's own message says
    only "couldn't be interpreted ... it may be ambiguous or it may not exist", with seconds)."""
    shown = f"{local:%d %b %Y, %H:%M}"
    placed = local.replace(tzinfo=zone)
    if placed.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        return (f"{shown} does not exist in {zone}: the clocks go forward then. "
                f"Choose a time after the change.")
    return (f"{shown} happens twice in {zone}: the clocks go back then. "
            f"Choose a time outside that hour.")


class DayField(forms.DateField):
    widget = forms.DateInput(attrs={"type": "date", "min": "2000-01-01", "max": "2100-12-31"})

    def to_python(self, value):
        return _form_checked(check_day, super().to_python(value))


def _form_checked(check, value):
    """A parsed form value through one of the checks above, InvalidInput as the form's error."""
    if value is None:
        return value
    try:
        return check(value)
    except InvalidInput as exc:
        raise ValidationError(str(exc), code=exc.code) from None
