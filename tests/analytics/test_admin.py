"""Coordinators read the events in the admin, with a count per event for the filtered list;
nobody else gets in, and nobody can add, change or delete an event there."""

from datetime import timedelta

import pytest

from analytics import admin as analytics_admin
from analytics import events
from analytics.models import Event
from tests.conftest import NOW, make_user
from tutoring.models import Role

LIST = "/admin/analytics/event/"


@pytest.fixture
def logged(creator, tutor):
    made = [
        events.record("page_view", user=creator, data={"session_count": 4, "filter_state": {}}, now=NOW),
        events.record("page_view", user=creator,
                      data={"session_count": 2, "filter_state": {"st": "completed"}},
                      now=NOW + timedelta(minutes=1)),
        events.record("filter_applied", user=creator, data={"filter_type": "st", "value": "completed"},
                      source="browser", now=NOW + timedelta(minutes=1)),
        events.record("recording_played", user=tutor, data={"session_id": 7}, source="browser",
                      now=NOW - timedelta(days=40)),
    ]
    return made


def counts(response) -> dict:
    return {row["name"]: row["count"] for row in response.context["event_counts"]}


@pytest.mark.django_db
def test_coordinator_sees_the_events_and_counts(client, coordinator, logged):
    client.force_login(coordinator)
    response = client.get(LIST)
    assert response.status_code == 200
    assert counts(response) == {"page_view": 2, "session_viewed": 0, "recording_played": 1,
                                "filter_applied": 1, "session_joined": 0, "session_started": 0,
                                "session_ended": 0, "feedback_submitted": 0, "tech_issue": 0}
    page = response.content.decode()
    assert 'id="event-counts"' in page and "Recording played" in page and "Cleo" in page
    assert "completed" in page  # the data column


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "expected"), [
    ("?name=page_view", {"page_view": 2}),
    ("?source=browser", {"recording_played": 1, "filter_applied": 1}),
    ("?q=tia", {"recording_played": 1}),
    ("?q=cleo&source=server", {"page_view": 2}),
    (f"?created_at__year={NOW.year}&created_at__month={NOW.month}", {"page_view": 2, "filter_applied": 1}),
])
def test_counts_follow_the_filters(client, coordinator, logged, query, expected):
    client.force_login(coordinator)
    response = client.get(LIST + query)
    assert response.status_code == 200
    assert {name: n for name, n in counts(response).items() if n} == expected
    assert response.context["cl"].result_count == sum(expected.values())


@pytest.mark.django_db
def test_counts_stop_at_the_cap(client, coordinator, logged):
    rows = analytics_admin.event_counts(Event.objects.all(), cap=1)
    by_name = {row["name"]: (row["count"], row["capped"]) for row in rows}
    assert by_name["page_view"] == (1, True) and by_name["filter_applied"] == (1, False)


@pytest.mark.django_db
def test_events_are_read_only(client, coordinator, logged):
    client.force_login(coordinator)
    event = logged[0]
    detail = client.get(f"{LIST}{event.id}/change/")
    assert detail.status_code == 200 and "session_count" in detail.content.decode()
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{event.id}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"{LIST}{event.id}/change/", {"name": "session_viewed"}).status_code == 403
    assert Event.objects.count() == 4 and Event.objects.get(pk=event.id).name == "page_view"


@pytest.mark.django_db
def test_others_are_refused(client, logged, tutor, parent, creator):
    for user in (tutor, parent, creator):
        client.force_login(user)
        response = client.get(LIST)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(make_user("stan", Role.TUTOR, is_staff=True))  # staff without the coordinator role
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{logged[0].id}/change/").status_code == 403
