from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from tests.conftest import make_user
from tutoring.models import Role


def test_home_requires_sign_in(client):
    r = client.get("/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_sign_in_page_renders(client):
    r = client.get("/accounts/login/")
    assert r.status_code == 200 and b"Sign in" in r.content


@pytest.mark.parametrize(("role", "landing"), [(Role.PARENT, "/family/"), (Role.TUTOR, "/teach/"),
                                               (Role.STUDENT, "/learn/")])
def test_it_sends_each_role_to_its_own_pages(client, db, role, landing):
    client.force_login(make_user("una", role))
    r = client.get("/")
    assert r.status_code == 302 and r["Location"] == landing


def test_a_creator_gets_the_session_history_link(client, creator):
    client.force_login(creator)
    r = client.get("/")
    assert r.status_code == 200
    assert b'href="/dashboard/teaching/sessions">View Sessions</a>' in r.content  # H02


def test_a_coordinator_gets_the_admin_link(client, coordinator):
    client.force_login(coordinator)
    r = client.get("/")
    assert r.status_code == 200 and b'href="/admin/">Open the coordinator admin' in r.content


def test_a_superuser_without_roles_is_a_coordinator_here(client, db):
    client.force_login(make_user("root", is_superuser=True, is_staff=True))
    assert b"Open the coordinator admin" in client.get("/").content


def test_a_person_with_no_role_gets_a_friendly_page(client, db):
    client.force_login(make_user("nora"))
    r = client.get("/")
    assert r.status_code == 200 and b"no role yet" in r.content and b"Coming sessions" not in r.content


def test_home_lists_the_creators_coming_sessions_in_their_zone(client, creator, make_session,
                                                              django_assert_max_num_queries):
    creator.time_zone = "Europe/London"
    creator.save()
    make_session(start=timezone.now() + timedelta(days=1))
    client.force_login(creator)
    with django_assert_max_num_queries(6):
        r = client.get("/")
    assert r.status_code == 200
    assert b"Sam with Tia" in r.content and b"(Europe/London)" in r.content


def test_it_lets_a_parent_and_tutor_switch_roles(client, db):
    both = make_user("pia", Role.PARENT, Role.TUTOR)
    client.force_login(both)
    assert client.get("/")["Location"] == "/family/"
    page = client.get("/accounts/password_change/").content.decode()
    assert 'name="role"' in page and '<option value="parent" selected>' in page

    r = client.post("/role/", {"role": "tutor"})
    assert r.status_code == 302 and r["Location"] == "/"
    assert client.session["active_role"] == "tutor"
    assert client.get("/")["Location"] == "/teach/"
    assert '<option value="tutor" selected>' in client.get("/accounts/password_change/").content.decode()


@pytest.mark.parametrize("choice", ["creator", "coordinator", "", "wizard"])
def test_it_refuses_a_role_the_person_does_not_hold(client, db, choice):
    both = make_user("pia", Role.PARENT, Role.TUTOR)
    client.force_login(both)
    r = client.post("/role/", {"role": choice})
    assert r.status_code == 302
    assert [str(m) for m in get_messages(r.wsgi_request)] == ["You can only switch to one of your own roles."]
    assert "active_role" not in client.session
    assert client.get("/")["Location"] == "/family/"


def test_role_switching_is_post_only(client, parent):
    client.force_login(parent)
    assert client.get("/role/", {"role": "parent"}).status_code == 405


def test_a_single_role_person_sees_no_switcher(client, creator):
    client.force_login(creator)
    assert b'name="role"' not in client.get("/").content


def test_healthz(client, db):
    assert client.get("/healthz").content == b"ok"
