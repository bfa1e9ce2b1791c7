"""The shared edge validation (tutoring/input.py): one text type and one date type, and a walk over
every web form and every API operation that fails when a field is a plain string or date, so a
new field cannot forget the checks (issue 11 item 3)."""

import importlib
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django import forms
from django.apps import apps
from pydantic import AwareDatetime, BaseModel

from tutoring.input import (
    DateTimeField,
    DayField,
    InvalidInput,
    TextField,
    check_moment,
    clean_text,
    from_epoch,
    is_date_type,
    is_text_type,
    parse_id,
    parse_int,
    parse_json,
)

OUR_APPS = ("tutoring", "sessions", "creators", "notes", "messaging", "analytics", "telegram_bot", "desk")


# --- the text type ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\ud800"])
def test_text_refuses_nul_control_and_broken_characters(bad):
    with pytest.raises(InvalidInput) as exc:
        clean_text(f"before{bad}after", max_length=100, what="note")
    assert exc.value.code == "invalid_text" and "cannot be saved" in str(exc.value)


def test_text_keeps_newlines_and_tabs_trims_and_normalises_line_ends():
    assert clean_text("  a\r\nb\tc\rd  ", max_length=100) == "a\nb\tc\nd"


def test_text_states_its_limits():
    with pytest.raises(InvalidInput, match=r"at most 2,000 characters long \(this is 2,001\)"):
        clean_text("x" * 2001, max_length=2000, what="note")
    with pytest.raises(InvalidInput, match="at least 15 characters"):
        clean_text("short", max_length=2000, min_length=15, what="reason")
    with pytest.raises(InvalidInput, match="Please give a reason"):
        clean_text("   ", max_length=2000, min_length=1, what="reason")


def test_the_form_field_and_the_schema_type_say_the_same():
    from pydantic import TypeAdapter, ValidationError

    from tutoring.input import Text

    field = TextField(max_length=10, what="note")
    with pytest.raises(forms.ValidationError) as form_error:
        field.clean("a\x00b")
    with pytest.raises(ValidationError) as schema_error:
        TypeAdapter(Text(10, what="note")).validate_python("a\x00b")
    assert form_error.value.messages[0] == schema_error.value.errors()[0]["msg"]
    assert 'maxlength="10"' in str(forms.Form.__class__("F", (forms.Form,), {"n": TextField(max_length=10)})())
    assert TextField(max_length=2000).help_text == "Up to 2,000 characters."


# --- the date type ---------------------------------------------------------------------------


@pytest.mark.parametrize("moment", [datetime(9999, 12, 31, 23, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
                                    datetime(2101, 1, 1, tzinfo=UTC), datetime(1999, 12, 31, tzinfo=UTC),
                                    datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-12)))])
def test_dates_outside_2000_to_2100_are_refused(moment):
    with pytest.raises(InvalidInput, match="between the years 2000 and 2100"):
        check_moment(moment)


def test_a_date_time_needs_its_offset():
    with pytest.raises(InvalidInput) as exc:
        check_moment(datetime(2026, 11, 16, 10))
    assert exc.value.code == "naive_time"


def test_the_form_date_fields_use_the_range():
    with pytest.raises(forms.ValidationError, match="between the years 2000 and 2100"):
        DateTimeField().clean("9999-12-31T23:00")
    with pytest.raises(forms.ValidationError, match="between the years 2000 and 2100"):
        DayField().clean("0001-01-01")
    assert DayField().clean("2026-11-16") == date(2026, 11, 16)


def test_a_time_the_clocks_skip_or_repeat_is_refused_in_plain_words():
    """Bad input gets a clear message: a local time that does not exist (the clocks go forward) or
    happens twice (they go back) in the viewer's zone is refused saying which, not with Django's
    "couldn't be interpreted ... it may be ambiguous or it may not exist"."""
    from django.utils import timezone as django_timezone

    with django_timezone.override("Europe/London"):
        with pytest.raises(forms.ValidationError) as skipped:
            DateTimeField().clean("2027-03-28T01:30")
        assert skipped.value.messages == ["28 Mar 2027, 01:30 does not exist in Europe/London: the clocks go "
                                          "forward then. Choose a time after the change."]
        with pytest.raises(forms.ValidationError) as repeated:
            DateTimeField().clean("2027-10-31T01:30")
        assert repeated.value.messages == ["31 Oct 2027, 01:30 happens twice in Europe/London: the clocks go "
                                           "back then. Choose a time outside that hour."]
        assert DateTimeField().clean("2027-03-28T02:30").utcoffset() == timedelta(hours=1)


def test_json_nested_too_deep_is_a_value_error_not_a_recursion_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError):
        parse_json(b"\xff")
    assert parse_json(b'{"a": [1]}') == {"a": [1]}


# --- every field, walked ----------------------------------------------------------------------


def _project_forms():
    for config in apps.get_app_configs():
        if config.name.split(".")[0] not in OUR_APPS:
            continue
        for module_name in ("forms", "admin"):
            try:
                importlib.import_module(f"{config.name.split('.')[0]}.{module_name}")
            except ModuleNotFoundError:
                continue
    seen, stack = [], list(forms.BaseForm.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.split(".")[0] in OUR_APPS:
            seen.append(cls)
    return seen


def test_every_form_field_uses_the_shared_text_and_date_types():
    """A plain CharField or DateField in any of our forms fails here: use TextField, DayField or
    DateTimeField from tutoring.input (format fields such as EmailField check their own shape;
    passwords are kept as typed)."""
    wrong, checked = [], 0
    for cls in _project_forms():
        # a ModelForm's other fields come from the model (and the admin's widgets): its own count
        fields = cls.declared_fields if issubclass(cls, forms.ModelForm) else cls.base_fields
        for name, field in fields.items():
            if isinstance(field.widget, forms.PasswordInput):
                continue  # a password is kept exactly as typed
            where = f"{cls.__module__}.{cls.__qualname__}.{name}"
            checked += 1
            plain_text = type(field) in (forms.CharField,) or (isinstance(field, forms.CharField)
                                                               and type(field).__module__.startswith(OUR_APPS)
                                                               and not isinstance(field, TextField))
            plain_date = isinstance(field, forms.DateField | forms.DateTimeField) and not isinstance(
                field, DayField | DateTimeField)
            if (plain_text or plain_date):
                wrong.append(where)
    assert checked > 20
    assert not wrong, f"fields that skip tutoring.input's checks: {wrong}"


def _walk(annotation, metadata, where, wrong, seen):
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(annotation)
        return _walk(base, [*metadata, *extra], where, wrong, seen)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                _walk(arg, metadata, where, wrong, seen)
        return
    if origin in (list, tuple, set, dict):
        for arg in typing.get_args(annotation):
            _walk(arg, [], where, wrong, seen)
        return
    if origin is typing.Literal:
        return
    if annotation is str and not is_text_type(metadata):
        wrong.append(f"{where}: str")
    if annotation in (datetime, date, AwareDatetime) and not is_date_type(metadata):
        wrong.append(f"{where}: {annotation.__name__}")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            _walk(field.annotation, field.metadata, f"{where}.{name}", wrong, seen)


def test_every_api_input_uses_the_shared_text_and_date_types():
    """Every body, query and path parameter of every API operation (and every analytics event's
    data): a plain `str` or `datetime` fails here; use tutoring.input's Text(...), Moment or Day."""
    from analytics.events import SCHEMAS
    from tutoring.api import api

    wrong, seen, operations = [], set(), 0
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                operations += 1
                for model in operation.models:
                    _walk(model, [], f"{','.join(operation.methods)} {prefix}{path} {model.__name__}", wrong, seen)
    for name, schema in SCHEMAS.items():
        _walk(schema, [], f"analytics event {name}", wrong, seen)
    assert operations > 25
    assert not wrong, f"inputs that skip tutoring.input's checks: {wrong}"


@pytest.mark.parametrize(("value", "number"), [
    ("1", 1), ("0", 0), ("007", 7), ("9223372036854775807", 2**63 - 1), (42, 42),
    ("9223372036854775808", None), ("9" * 40, None), ("²", None), ("١٢", None), ("-1", None), (" 1", None),
    ("1.0", None), ("", None), (None, None), (True, None), ("1\x00", None), (["1"], None)])
def test_parse_int_reads_ascii_digits_within_a_bigint(value, number):
    """str.isdigit() is true for "²" (int() refuses it) and for Arabic-Indic digits: ids in URLs,
    search boxes and button data are ASCII digits within a bigint, or nothing."""
    assert parse_int(value) == number
    assert parse_id(value) == (number or None)


@pytest.mark.parametrize(("seconds", "moment"), [
    (0, datetime(1970, 1, 1, tzinfo=UTC)), (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    (1_700_000_000.5, datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)), (None, None),
    (10**12, None), (float("inf"), None), (float("nan"), None)])
def test_from_epoch_reads_a_providers_timestamp_or_nothing(seconds, moment):
    """A provider's seconds since 1970 as an aware UTC moment; past the year 9999, JSON's 1e999
    (inf) or a NaN is no moment (it raised OverflowError or ValueError: a 500 in a webhook)."""
    assert from_epoch(seconds) == moment
