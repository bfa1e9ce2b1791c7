from datetime import timedelta

from django.utils import timezone


def test_home_requires_sign_in(client):
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_sign_in_page_renders(client):
    r = client.get("/accounts/login/")
    assert r.status_code == 200 and b"Sign in" in r.content


def test_home_lists_coming_sessions_in_the_viewers_zone(client, parent, make_session, django_assert_max_num_queries):
    make_session(start=timezone.now() + timedelta(days=1))
    client.force_login(parent)
    with django_assert_max_num_queries(6):
        r = client.get("/")
    assert r.status_code == 200
    assert b"Sam with Tia" in r.content and b"(Europe/London)" in r.content


def test_healthz(client, db):
    assert client.get("/healthz").content == b"ok"
