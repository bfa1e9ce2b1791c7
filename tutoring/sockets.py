"""The WebSocket routes tutoring.asgi serves. An app with sockets adds its routes from its
AppConfig.ready (the session room: room/apps.py), as each app mounts its API router on
tutoring.api, so the project package imports no app."""

websocket_urlpatterns: list = []


def add_routes(patterns) -> None:
    """Serve these routes (Channels' path() entries); a route added again is not added twice."""
    for pattern in patterns:
        if not any(known is pattern for known in websocket_urlpatterns):
            websocket_urlpatterns.append(pattern)
