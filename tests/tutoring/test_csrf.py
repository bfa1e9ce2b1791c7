"""Issue 18 item 3 (CSRF): every path that can change something refuses a request without the
CSRF token. The URL resolver is walked, and a signed-in user (every role, staff and superuser, so
no view would turn the request away for another reason first) POSTs to each route without a token,
plain and (outside the admin) as htmx; the API's mutating operations are sent with their own methods. Each answer is
the CSRF refusal (403), and nothing in the database changed.

The only views exempt from Django's check are listed in EXEMPT with the proof each takes instead;
a new exempt view fails this test until it is listed. The API's views are exempt from Django's
middleware and checked by the API's session auth (tutoring.api.SignedIn) instead."""

import hashlib
import re
import uuid

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from ninja.operation import PathView

from tests.conftest import make_user
from tutoring.api import api
from tutoring.models import Role, User

# route -> what proves the caller instead of the CSRF token
EXEMPT = {
    "telegram/webhook/": "the secret token Telegram sends (X-Telegram-Bot-Api-Secret-Token)",
    "notifications/webhooks/resend/": "Resend's signature (svix headers)",
    "notifications/unsubscribe/<str:token>/": "the signed token in the link (one-click unsubscribe)",
    "video/webhooks/plugnmeet": "PlugNmeet's signed JWT",
    "video/webhooks/bbb/recording-ready": "BigBlueButton's signed parameters",
}
DJANGO_CSRF_PAGE = "CSRF verification failed"


def routes(patterns=None, prefix=""):
    """(route, pattern) for every URL pattern, with the prefixes of the includes."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from routes(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p


def concrete(route: str) -> str:
    """A URL the route matches: ids 1, strings "x", a uuid; regex groups with their first
    alternative (or "x")."""
    def group(m):
        body = m.group(2)
        if re.fullmatch(r"[\w|]+", body):
            return body.split("|")[0]
        return "1" if "\\d" in body else "x"
    url = re.sub(r"\(\?P<(\w+)>(.*?)\)(?=/|\$|$)", group, route)
    url = re.sub(r"<int:\w+>", "1", url)
    url = re.sub(r"<uuid:\w+>", str(uuid.uuid4()), url)
    url = re.sub(r"<(?:\w+:)?\w+>", "x", url)
    url = url.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + url


def is_api(pattern: URLPattern) -> bool:
    return isinstance(getattr(pattern.callback, "__self__", None), PathView) or pattern.lookup_str.startswith("ninja.")


def snapshot() -> str:
    """Every table's row count, every session's status and every user's credentials and roles."""
    parts = [f"{m._meta.label}:{m._default_manager.count()}" for m in apps.get_models()
             if not m._meta.proxy and m._meta.managed]
    Session = apps.get_model("tutoring_sessions", "Session")
    parts += [repr(list(Session.objects.order_by("pk").values_list("pk", "status")))]
    parts += [repr(list(User.objects.order_by("pk").values_list("pk", "password", "is_active", "roles")))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@pytest.fixture
def everyone(db):
    return make_user("omni", *Role.values, is_staff=True, is_superuser=True)


@pytest.mark.django_db
def test_every_mutating_path_refuses_a_request_without_the_csrf_token(everyone, make_session):
    make_session()
    client = Client(enforce_csrf_checks=True)
    client.force_login(everyone)
    before = snapshot()
    refused, exempt, api_routes = [], set(), []
    for route, pattern in routes():
        if is_api(pattern):
            api_routes.append(route)
            continue
        url = concrete(route)
        match = resolve(url)
        assert match.route.replace("^", "") == route.replace("^", ""), f"{url} resolves to {match.route}, not {route}"
        if getattr(pattern.callback, "csrf_exempt", False):
            exempt.add(route)
            continue
        # htmx too, on the site's pages (the admin has no htmx)
        for headers in ({},) if route.startswith("admin/") else ({}, {"HX-Request": "true"}):
            response = client.post(url, {"anything": "1"}, headers=headers)
            assert response.status_code == 403 and DJANGO_CSRF_PAGE in response.content.decode(), \
                (route, response.status_code)
        refused.append(route)
    assert exempt == set(EXEMPT), "a view exempt from CSRF must be listed in EXEMPT with its proof"
    assert len(refused) > 150  # the site's pages and the admin's
    assert snapshot() == before


@pytest.mark.django_db
def test_every_mutating_api_operation_refuses_a_request_without_the_csrf_token(everyone, make_session):
    session = make_session()
    client = Client(enforce_csrf_checks=True)
    client.force_login(everyone)
    before = snapshot()
    checked = []
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in set(operation.methods) - {"GET", "HEAD", "OPTIONS"}:
                    url = "/api" + re.sub(r"{(?:int:)?(\w+)}", str(session.id), prefix + path)
                    response = client.generic(method, url, "{}", content_type="application/json",
                                              headers={"HX-Request": "true"})
                    assert response.status_code == 403, (method, url, response.status_code)
                    assert response.json()["code"] == "csrf_failed", (method, url)
                    checked.append((method, url))
    assert len(checked) >= 15  # the session actions, reschedules, notes, recording, video join
    assert snapshot() == before
