"""Issue 10 item 10: /api/docs works offline: every script and style it loads is served by this
site from packaged files (django-ninja's own Swagger UI under static/), none from a CDN."""

import re

from django.contrib.staticfiles import finders


def test_the_api_docs_load_only_local_files(client, coordinator):
    client.force_login(coordinator)
    page = client.get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    scripts = [a for a in assets if a.endswith(".js")]
    assert any(a.endswith("swagger-ui-bundle.js") for a in scripts)
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset  # this site, not a CDN
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), asset  # the file is here


def test_the_browsers_favicon_request_is_answered_without_an_icon(client, db):
    """The admin's pages and the API docs name no icon, so browsers ask /favicon.ico: an empty
    answer (204) they keep for a day, not a 404 in every log; the site's own pages name an empty
    icon and ask nothing."""
    response = client.get("/favicon.ico")
    assert response.status_code == 204 and response.content == b""
    assert response["Cache-Control"] == "public, max-age=86400"
    assert '<link rel="icon" href="data:,">' in client.get("/accounts/login/").content.decode()
