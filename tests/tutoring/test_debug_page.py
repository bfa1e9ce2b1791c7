"""Issue 11 item 5: the development server's debug 500 page showed DATABASE_URL unmasked. Every
URL with credentials is masked (tutoring/debug.py), in settings, the environment and the request."""

import pytest
from django.http import HttpResponse
from django.urls import path


def boom(request):
    raise RuntimeError("a bug")


def fine(request):
    return HttpResponse("ok")


urlpatterns = [path("boom/", boom), path("fine/", fine)]

SECRETS = {
    "DATABASE_URL": "postgresql://tutoring:s3cret-db@db.example:5432/tutoring",
    "REDIS_URL": "redis://:s3cret-redis@broker.example:6379/0",
    "CACHE_URL": "redis://default:s3cret-cache@cache.example:6379/1",
    "R2_ENDPOINT_URL": "https://key:s3cret-r2@account.r2.example",
    "SENTRY_DSN": "https://s3cret-dsn@o1.ingest.example/1",
}


@pytest.fixture
def leaky_environment(monkeypatch, settings):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings.DEBUG = True
    settings.REDIS_URL = SECRETS["REDIS_URL"]
    settings.CACHE_URL = SECRETS["CACHE_URL"]
    settings.CELERY_BROKER_URL = SECRETS["REDIS_URL"]
    settings.CELERY_RESULT_BACKEND = SECRETS["REDIS_URL"]
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": SECRETS["CACHE_URL"]}}
    settings.SOME_WEBHOOK = "see https://bot:s3cret-hook@hooks.example/x"


@pytest.mark.urls(__name__)
def test_the_debug_500_page_masks_every_url_with_credentials(client, leaky_environment):
    """The settings (ENV, REDIS_URL, CACHE_URL, CACHES' LOCATION, the Celery URLs, a URL inside
    any text) and the request's META carry none of the passwords."""
    client.raise_request_exception = False
    response = client.get("/boom/", **{f"HTTP_X_{k}": v for k, v in SECRETS.items()}, DATABASE_URL=SECRETS[
        "DATABASE_URL"])
    page = response.content.decode()
    assert response.status_code == 500 and "RuntimeError" in page and "Settings" in page
    assert "s3cret" not in page
    assert "********************" in page
    assert "hooks.example" in page  # only the password of an innocent-looking setting is masked


def test_the_filter_is_the_projects():
    from django.conf import settings

    assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER == "tutoring.debug.CredentialsFilter"
