"""Issue 11 item 6: a Content-Security-Policy on every page through Django's built-in CSP, a nonce
for any inline script or style, never 'unsafe-inline' (tests/browser/test_csp.py drives the pages
in Chromium and wants no violation)."""

import re
from datetime import timedelta

import pytest

from sessions.models import Status
from tests.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def check_page(response) -> str | None:
    """The policy, and every inline script and style of the page carries its nonce (a page that
    uses none gets a policy without one: no inline script runs there at all)."""
    assert response.status_code == 200, response.status_code
    directives = policy(response)
    nonces = [s[len("'nonce-"):-1] for s in directives["script-src"] if s.startswith("'nonce-")]
    assert directives["default-src"] == ["'self'"] and len(nonces) <= 1
    assert "'unsafe-inline'" not in directives["script-src"] + directives["style-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    nonce = nonces[0] if nonces else None
    html = response.content.decode()
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        if "src=" not in tag and 'type="application/json"' not in tag:
            assert nonce and f'nonce="{nonce}"' in tag, tag
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers are blocked by the CSP"
    assert not re.search(r"<[a-z][^>]*\sstyle=", html), "style attributes are blocked by the CSP"
    if "htmx.min.js" in html:  # htmx's own indicator style gets the nonce
        assert f'"inlineStyleNonce": "{nonce}"' in html
    return nonce


def test_every_page_has_the_policy_with_a_fresh_nonce(client, parent, tutor, student, creator, course,
                                                      coordinator, make_session):
    start = NOW - timedelta(days=1)
    done = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))
    make_session()
    pages = {
        None: ["/accounts/login/", "/accounts/password_reset/"],
        parent: ["/family/", f"/sessions/{done.id}/", "/messages/"],
        tutor: ["/teach/", "/teach/adhoc/", f"/sessions/{done.id}/notes/"],
        student: ["/learn/"],
        creator: ["/dashboard/teaching/sessions", "/dashboard/teaching/sessions?tab=upcoming",
                  f"/dashboard/teaching/sessions/{done.id}/", "/dashboard/teaching/sessions/metrics",
                  f"/courses/{course.id}/", "/api/docs"],
        coordinator: ["/admin/", "/admin/tutoring_sessions/session/",
                      f"/admin/tutoring_sessions/session/{done.id}/change/"],
    }
    seen = set()
    for user, urls in pages.items():
        if user is None:
            client.logout()
        else:
            client.force_login(user)
        for url in urls:
            nonce = check_page(client.get(url))
            if nonce:
                assert nonce not in seen, "a nonce is never reused"
                seen.add(nonce)
    assert len(seen) >= 10


def test_the_api_and_errors_carry_the_policy_too(client, parent):
    assert "default-src 'self'" in client.get("/api/me")["Content-Security-Policy"]
    client.force_login(parent)
    assert "default-src 'self'" in client.get("/sessions/999999/")["Content-Security-Policy"]


def test_the_object_store_is_allowed_for_pictures_and_media(client, parent, settings):
    """Attachments and recordings redirect to presigned URLs on the bucket's host (R2 in
    production): that origin is allowed where the storage points, and only there."""
    from tutoring.settings import s3_notes_storage

    assert "r2.example" not in client.get("/accounts/login/")["Content-Security-Policy"]
    settings.STORAGES = {**settings.STORAGES, "notes": s3_notes_storage(
        bucket="notes", endpoint_url="https://acct.r2.example/", access_key="k", secret_key="s")}
    directives = policy(client.get("/accounts/login/"))
    assert directives["media-src"] == ["'self'", "https://acct.r2.example"]
    assert directives["img-src"][-1] == "https://acct.r2.example"
    assert "https://acct.r2.example" not in directives["script-src"] + directives["connect-src"]
