"""record(): each event's declared data is checked before anything is written."""

from datetime import datetime

import pytest
from django.contrib.auth.models import AnonymousUser

from analytics import events
from analytics.models import Event
from tests.conftest import NOW

VALID = {
    "page_view": {"session_count": 12, "filter_state": {"course": "3", "status": "completed"}},
    "session_viewed": {"session_id": 41},
    "recording_played": {"session_id": 41},
    "filter_applied": {"filter_type": "low_rated", "value": "1"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(VALID))
def test_record_writes_one_server_row(name, creator):
    event = events.record(name, user=creator, data=VALID[name], now=NOW)
    row = Event.objects.get()
    assert row == event
    assert (row.name, row.user, row.page, row.source, row.data, row.created_at) == (
        name, creator, "CSES", "server", VALID[name], NOW)


@pytest.mark.django_db
def test_record_writes_the_row_the_orm_writes(creator):
    """record() writes with its own INSERT: every column as Event.objects.create writes it, and
    the event it returns is a saved one (saving it again updates that row)."""
    data = {"session_count": 10**9, "filter_state": {"student": "Zoë \"O'Brien\" <b>&", "status": "no_show"}}
    event = events.record("page_view", user=creator, data=data, page="/dashboard/teaching/sessions", now=NOW)
    same = Event.objects.create(name="page_view", user=creator, page="/dashboard/teaching/sessions",
                                data=events.validate("page_view", data), source="server", created_at=NOW)
    columns = [f.attname for f in Event._meta.concrete_fields if not f.primary_key]
    assert Event.objects.filter(pk=event.pk).values(*columns).get() == Event.objects.filter(pk=same.pk).values(
        *columns).get()
    assert not event._state.adding and event.pk < same.pk
    event.page = "CSES"
    event.save()
    assert Event.objects.count() == 2 and Event.objects.get(pk=event.pk).page == "CSES"


@pytest.mark.django_db
def test_record_defaults_and_page_paths(creator):
    event = events.record("filter_applied", user=creator, data={"filter_type": "from", "value": ""},
                          page="/dashboard/teaching/sessions")
    assert event.page == "/dashboard/teaching/sessions" and event.created_at is not None
    assert events.record("page_view", user=None, data={"session_count": 0, "filter_state": {}}).user is None
    assert events.record("session_viewed", user=AnonymousUser(), data={"session_id": 1}).user is None


def test_every_filter_type_is_accepted():
    for filter_type in events.FILTER_TYPES:
        assert events.validate("filter_applied", {"filter_type": filter_type, "value": "x"}) == {
            "filter_type": filter_type, "value": "x"}
    assert set(events.FILTER_TYPES) == {"course", "st", "student", "status", "range", "from", "to",
                                        "low_rated", "tab"}


BAD = [
    ("nope", {}, "unknown_event"),
    (None, {}, "unknown_event"),
    ("page_view", None, "invalid_data"),
    ("page_view", [], "invalid_data"),
    ("page_view", {"session_count": 3}, "invalid_data"),  # filter_state missing
    ("page_view", {"session_count": -1, "filter_state": {}}, "invalid_data"),
    ("page_view", {"session_count": True, "filter_state": {}}, "invalid_data"),
    ("page_view", {"session_count": "3", "filter_state": {}}, "invalid_data"),
    ("page_view", {"session_count": 3.0, "filter_state": {}}, "invalid_data"),
    ("page_view", {"session_count": 3, "filter_state": {"course": 3}}, "invalid_data"),
    ("page_view", {"session_count": 3, "filter_state": {"": "x"}}, "invalid_data"),
    ("page_view", {"session_count": 3, "filter_state": {f"k{i}": "v" for i in range(21)}}, "invalid_data"),
    ("page_view", {"session_count": 3, "filter_state": {}, "extra": 1}, "invalid_data"),
    ("session_viewed", {"session_id": "41"}, "invalid_data"),
    ("session_viewed", {"session_id": 0}, "invalid_data"),
    ("session_viewed", {"session_id": 2**63}, "invalid_data"),
    ("recording_played", {}, "invalid_data"),
    ("recording_played", {"session_id": None}, "invalid_data"),
    ("filter_applied", {"filter_type": "colour", "value": "red"}, "invalid_data"),
    ("filter_applied", {"filter_type": "course", "value": 3}, "invalid_data"),
    ("filter_applied", {"filter_type": "course", "value": "x" * 201}, "invalid_data"),
    ("filter_applied", {"filter_type": "course"}, "invalid_data"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data", "code"), BAD)
def test_record_refuses_bad_events_and_writes_nothing(name, data, code, creator):
    with pytest.raises(ValueError) as caught:
        events.record(name, user=creator, data=data)
    assert isinstance(caught.value, events.InvalidEvent) and caught.value.code == code
    assert not Event.objects.exists()


def test_errors_name_the_key():
    with pytest.raises(events.InvalidEvent, match=r"data\.session_id"):
        events.validate("session_viewed", {"session_id": "x"})
    assert events.validate("filter_applied", {"filter_type": "tab", "value": "x" * 200})["value"] == "x" * 200


@pytest.mark.django_db
@pytest.mark.parametrize(("kwargs", "code"), [
    ({"page": ""}, "invalid_page"),
    ({"page": "cses"}, "invalid_page"),
    ({"page": "/with space"}, "invalid_page"),
    ({"page": "/" + "a" * 200}, "invalid_page"),
    ({"page": None}, "invalid_page"),
    ({"source": "telegram"}, "invalid_source"),
])
def test_record_refuses_bad_page_or_source(kwargs, code, creator):
    with pytest.raises(events.InvalidEvent) as caught:
        events.record("session_viewed", user=creator, data={"session_id": 1}, **kwargs)
    assert caught.value.code == code
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_record_wants_an_aware_now(creator):
    with pytest.raises(ValueError, match="aware"):
        events.record("session_viewed", user=creator, data={"session_id": 1}, now=datetime(2026, 1, 1))
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_deleting_the_user_keeps_the_event(creator):
    events.record("session_viewed", user=creator, data={"session_id": 1})
    creator.delete()
    assert Event.objects.get().user is None
