"""POST /analytics/beacon: the browser's events, checked like the server's, for signed-in users,
about sessions they can see, a few a second at most. Nothing is written unless the answer is 204."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from analytics import views
from analytics.models import Event
from tests.conftest import NOW

URL = "/analytics/beacon"
FILTER = {"filter_type": "course", "value": "3"}


def post(client, body, content_type="application/json", **headers):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, raw, content_type=content_type, headers=headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code and body["detail"]
    assert not Event.objects.exists()


def test_the_url_is_named():
    assert reverse("analytics-beacon") == URL


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data"), [
    ("recording_played", {"session_id": None}),
    ("session_viewed", {"session_id": None}),
    ("filter_applied", {"filter_type": "status", "value": "completed"}),
])
def test_a_browser_event_is_recorded(client, creator, session, name, data):
    data = {k: session.id if v is None else v for k, v in data.items()}
    client.force_login(creator)
    response = post(client, {"name": name, "data": data, "page": "CSES"})
    assert response.status_code == 204 and response.content == b""
    row = Event.objects.get()
    assert (row.name, row.user, row.source, row.page, row.data) == (name, creator, "browser", "CSES", data)


@pytest.mark.django_db
def test_page_defaults_to_cses_and_may_be_a_path(client, creator):
    client.force_login(creator)
    body = {"name": "filter_applied", "data": {"filter_type": "tab", "value": "past"}}
    assert post(client, body).status_code == 204
    assert post(client, {"name": "filter_applied", "data": {"filter_type": "tab", "value": "all"},
                         "page": "/dashboard/teaching/sessions"}).status_code == 204
    assert sorted(Event.objects.values_list("page", flat=True)) == ["/dashboard/teaching/sessions", "CSES"]


@pytest.mark.django_db
def test_signed_out_gets_401(client, session):
    assert_error(post(client, {"name": "recording_played", "data": {"session_id": session.id}}), 401,
                 "not_authenticated")


@pytest.mark.django_db
def test_csrf_is_enforced(creator, session):
    client = Client(enforce_csrf_checks=True)
    client.force_login(creator)
    body = {"name": "recording_played", "data": {"session_id": session.id}}
    assert post(client, body).status_code == 403
    assert post(client, body, X_CSRFToken="x" * 32).status_code == 403
    assert not Event.objects.exists()
    # what beacon.js sends: the page's token in X-CSRFToken, with the csrftoken cookie
    token = "a" * 32
    client.cookies["csrftoken"] = token
    assert post(client, body, X_CSRFToken=token).status_code == 204
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_only_post(client, creator):
    client.force_login(creator)
    response = client.get(URL)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
@pytest.mark.parametrize("raw", ["{not json", " ", "[]", '"recording_played"', "null", b"\xff\xfe{}",
                                 '{"name": "filter_applied", "data": {"filter_type": "tab", "value": "x"}'])
def test_malformed_json_is_400(client, creator, raw):
    client.force_login(creator)
    assert_error(post(client, raw), 400, "bad_json")


@pytest.mark.django_db
def test_huge_integers_are_422_not_500(client, creator):
    client.force_login(creator)
    body = '{"name": "session_viewed", "data": {"session_id": 1' + "0" * 4000 + "}}"
    assert len(body) <= views.MAX_BODY_BYTES
    assert_error(post(client, body), 422, "invalid_data")


@pytest.mark.django_db
def test_not_json_content_type_is_415(client, creator, session):
    client.force_login(creator)
    body = json.dumps({"name": "recording_played", "data": {"session_id": session.id}})
    assert_error(post(client, body, content_type="text/plain"), 415, "unsupported_media_type")


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "code"), [
    ({"name": "clicked", "data": {}}, "unknown_event"),
    ({"data": {"session_id": 1}}, "unknown_event"),
    ({"name": ["recording_played"], "data": {"session_id": 1}}, "unknown_event"),
    ({"name": "page_view", "data": {"session_count": 3, "filter_state": {}}}, "not_from_browser"),
    ({"name": "page_view", "data": {}}, "not_from_browser"),
    ({"name": "recording_played"}, "invalid_data"),
    ({"name": "recording_played", "data": {"session_id": "12"}}, "invalid_data"),
    ({"name": "recording_played", "data": {"session_id": 12.5}}, "invalid_data"),
    ({"name": "recording_played", "data": {"session_id": 12, "at": 3}}, "invalid_data"),
    ({"name": "session_viewed", "data": {"session_id": -4}}, "invalid_data"),
    ({"name": "filter_applied", "data": {"filter_type": "evil", "value": "x"}}, "invalid_data"),
    ({"name": "filter_applied", "data": {"filter_type": "course", "value": ["3"]}}, "invalid_data"),
    ({"name": "filter_applied", "data": {"filter_type": "course", "value": "x" * 201}}, "invalid_data"),
    ({"name": "filter_applied", "data": FILTER, "page": "<b>"}, "invalid_page"),
    ({"name": "filter_applied", "data": FILTER, "page": 7}, "invalid_page"),
    ({"name": "filter_applied", "data": FILTER, "user": 1}, "invalid_body"),
])
def test_invalid_events_are_422(client, creator, body, code):
    client.force_login(creator)
    assert_error(post(client, body), 422, code)


@pytest.mark.django_db
def test_oversize_body_is_413(client, creator):
    client.force_login(creator)
    body = {"name": "filter_applied", "data": {"filter_type": "course", "value": "x"}, "pad": "y" * 5000}
    assert_error(post(client, body), 413, "too_large")


@pytest.mark.django_db
def test_a_session_the_user_cannot_see_is_404(client, outsider, session):
    client.force_login(outsider)
    for name in ("recording_played", "session_viewed"):
        assert_error(post(client, {"name": name, "data": {"session_id": session.id}}), 404, "not_found")


@pytest.mark.django_db
def test_a_session_that_does_not_exist_is_404(client, creator, session):
    client.force_login(creator)
    assert_error(post(client, {"name": "recording_played", "data": {"session_id": session.id + 1000}}), 404,
                 "not_found")


@pytest.mark.django_db
def test_everyone_who_sees_the_session_may_report_it(client, session, creator, tutor, student, parent,
                                                     coordinator):
    readers = (creator, tutor, student, parent, coordinator)
    for user in readers:
        client.force_login(user)
        response = post(client, {"name": "recording_played", "data": {"session_id": session.id}})
        assert response.status_code == 204
    assert set(Event.objects.values_list("user", flat=True)) == {u.id for u in readers}


@pytest.mark.django_db
def test_rate_limited_per_user_per_minute(client, settings, creator, tutor):
    settings.ANALYTICS_BEACON_PER_MINUTE = 3
    body = {"name": "filter_applied", "data": {"filter_type": "st", "value": "completed"}}
    with time_machine.travel(NOW + timedelta(seconds=15), tick=False) as clock:
        client.force_login(creator)
        assert [post(client, body).status_code for _ in range(3)] == [204, 204, 204]
        response = post(client, body)
        assert response.status_code == 429 and response.json()["code"] == "rate_limited"
        assert response["Retry-After"] == "45"
        assert post(client, {"name": "bogus"}).status_code == 429  # every attempt counts
        assert Event.objects.count() == 3

        client.force_login(tutor)  # another user has a count of their own
        assert post(client, body).status_code == 204

        clock.shift(timedelta(seconds=45))  # the next minute
        client.force_login(creator)
        assert post(client, body).status_code == 204
    assert Event.objects.filter(user=creator).count() == 4


@pytest.mark.django_db
def test_the_default_limit_is_120_a_minute(client, creator):
    body = {"name": "filter_applied", "data": {"filter_type": "st", "value": "x"}}
    client.force_login(creator)
    with time_machine.travel(NOW, tick=False):
        codes = [post(client, body).status_code for _ in range(121)]
    assert codes.count(204) == 120 and codes[-1] == 429


@pytest.mark.django_db
def test_a_cache_outage_does_not_block_events(client, creator, settings):
    """A real outage: the cache points at a Redis that is not there."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}}
    client.force_login(creator)
    response = post(client, {"name": "filter_applied", "data": {"filter_type": "st", "value": "x"}})
    assert response.status_code == 204
