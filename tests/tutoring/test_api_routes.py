"""Each app mounts its own routes (issue 13 item 3): its API routers on the project's API
(tutoring.api.mount, from its AppConfig.ready) and its sockets on the routes tutoring.asgi serves
(tutoring.sockets), so the project package imports no app and lists none of their routes."""

from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.urls import reverse
from ninja import Router
from ninja.utils import normalize_path

from room import routing
from tutoring import sockets
from tutoring.api import MOUNTED, api, mount


def routers_of_the_apps() -> dict[str, Router]:
    """Every ninja Router an app of this project defines in its api.py, by dotted name."""
    found = {}
    for config in apps.get_app_configs():
        if Path(config.path).parent != Path(settings.BASE_DIR) or find_spec(f"{config.name}.api") is None:
            continue
        module = import_module(f"{config.name}.api")
        for name, value in vars(module).items():
            if isinstance(value, Router):
                found[f"{config.name}.api.{name}"] = value
    return found


def test_every_router_of_every_app_is_mounted_once():
    routers = routers_of_the_apps()
    assert len(routers) >= 8  # sessions (2), creators (3), notes, video, desk
    mounted = [router for _, router in MOUNTED]
    assert sorted(name for name, router in routers.items() if router in mounted) == sorted(routers)
    assert len(mounted) == len({id(router) for router in mounted}) == len(routers)


def test_mounting_a_router_again_changes_nothing():
    before = list(MOUNTED)
    prefix, router = MOUNTED[-1]
    mount(prefix, router)
    assert MOUNTED == before


def test_no_path_is_served_by_two_routers():
    """Several apps mount under /sessions; as no two routers serve one path, the order the apps
    are ready in cannot hide a route (Django would answer the first router's 405)."""
    owner = {}
    for prefix, router in MOUNTED:
        for path in router.path_operations:
            full = normalize_path(f"{prefix}/{path}").rstrip("/")
            assert full not in owner, f"{full} is served by two routers"
            owner[full] = router
    assert {"/sessions/{session_id}/notes", "/sessions/{session_id}/recording",
            "/sessions/{session_id}/video/join", "/sessions/{session_id}/check-in", "/me", "/me/st-sessions",
            "/matches/{match_id}/accept"} <= set(owner)


def test_the_api_answers_on_every_app_s_paths(client, db):
    """The mounted routes are the API's: a signed-out call to one of each app is the API's 401."""
    for path in ("/api/me", "/api/sessions", "/api/creators/me/courses", "/api/me/st-sessions",
                 "/api/sessions/1/notes", "/api/sessions/1/recording"):
        response = client.get(path)
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated", path
    for path in ("/api/sessions/1/video/join", "/api/matches/1/accept"):
        response = client.post(path, {}, content_type="application/json")
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated", path
    assert reverse("api:openapi-json") == "/api/openapi.json"
    paths = api.get_openapi_schema()["paths"]
    assert {"/api/sessions/{session_id}/notes", "/api/matches/{match_id}/accept"} <= paths.keys()


def test_the_room_adds_its_socket_to_the_served_routes():
    """The room's route, then the fallback for every other path (last, whatever is added)."""
    assert [str(p.pattern) for p in sockets.websocket_urlpatterns] == ["ws/session/<int:session_id>/", ""]
    served = sockets.websocket_urlpatterns
    assert all(any(p is known for known in served) for p in routing.websocket_urlpatterns)
    sockets.add_routes(routing.websocket_urlpatterns)
    assert len(sockets.websocket_urlpatterns) == 2 and sockets.websocket_urlpatterns[-1] is sockets.NO_SUCH_SOCKET
