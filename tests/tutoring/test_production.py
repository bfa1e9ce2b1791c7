"""Issue 18 item 5: production settings. The deploy check itself is tests/tutoring/test_settings.py
(a real `manage.py check --deploy --fail-level WARNING` with the production environment, and
DEBUG on refused there); here: demo logins are impossible in production, and a 404 with DEBUG off
shows no URL patterns."""

import pytest
from django.test import override_settings

from tutoring import signin
from tutoring.models import Role, User

LOGIN = "/accounts/login/"


def sign_in(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR="203.0.113.9")


def user_with(username, password):
    return User.objects.create_user(username=username, password=password, name=username.title(),
                                    email=f"{username}@example.test", roles=[Role.PARENT], time_zone="UTC")


@pytest.fixture
def demo_parent(db):
    return user_with("demo-parent", "demo")


@pytest.mark.django_db
def test_the_demo_password_signs_nobody_in_in_production(client, demo_parent, settings):
    settings.PRODUCTION = True
    response = sign_in(client, "demo-parent", "demo")
    assert response.status_code == 200 and "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302  # still signed out

    demo_parent.is_staff = True
    demo_parent.save()
    admin = client.post("/admin/login/", {"username": "demo-parent", "password": "demo"}, REMOTE_ADDR="203.0.113.9")
    assert admin.status_code == 200 and "_auth_user_id" not in client.session  # the admin's sign-in too


@pytest.mark.django_db
def test_the_same_account_signs_in_outside_production(client, demo_parent, settings):
    """The refusal is production's, not a broken sign-in: in development the demo works."""
    settings.PRODUCTION = False
    assert sign_in(client, "demo-parent", "demo").status_code == 302
    assert int(client.session["_auth_user_id"]) == demo_parent.pk


@pytest.mark.django_db
def test_other_passwords_still_sign_in_in_production(client, settings):
    settings.PRODUCTION = True
    user = user_with("pat-prod", "a long and real passphrase")
    assert sign_in(client, "pat-prod", "a long and real passphrase").status_code == 302
    assert int(client.session["_auth_user_id"]) == user.pk


def test_the_demo_seed_uses_the_password_production_refuses():
    from demo.management.commands import seed_demo

    assert seed_demo.DEMO_PASSWORD == signin.DEMO_PASSWORD == "demo"


@override_settings(DEBUG=False)
@pytest.mark.django_db
def test_production_404_lists_no_url_patterns(client):
    """`make run` (DEBUG) lists every URL pattern on a 404; with DEBUG off nothing of the kind."""
    response = client.get("/no-such-page-at-all/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "URLconf" not in page and "admin/" not in page and "api/" not in page and "Traceback" not in page


def test_the_refusal_is_in_every_environments_backends():
    """The backends do not depend on DJANGO_ENV (the backend reads PRODUCTION at sign-in), and
    production with DEBUG on does not start (tests/tutoring/test_settings.py)."""
    from django.conf import settings

    assert settings.AUTHENTICATION_BACKENDS.index("tutoring.signin.NoDemoLoginsBackend") < \
        settings.AUTHENTICATION_BACKENDS.index("django.contrib.auth.backends.ModelBackend")
