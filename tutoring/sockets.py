"""The WebSocket routes tutoring.asgi serves. An app with sockets adds its routes from its
AppConfig.ready (the session room: room/apps.py), as each app mounts its API router on
tutoring.api, so the project package imports no app. The last route, whatever is added, is
NoSuchSocket for a path no other matches (/ws/session/abc/, /ws/anything): Channels' router
raised ValueError there, which the server answered with a 500."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.urls import re_path


class NoSuchSocket(AsyncJsonWebsocketConsumer):
    """Accepted only to say why it closes: an "error" frame (not_found) and the close code 4404,
    as the room's socket says a session is not there."""

    async def connect(self):
        await self.accept()
        await self.send_json({"type": "error", "code": "not_found", "detail": "There is no such socket here."})
        await self.close(code=4404)


NO_SUCH_SOCKET = re_path(r"", NoSuchSocket.as_asgi())

websocket_urlpatterns: list = [NO_SUCH_SOCKET]


def add_routes(patterns) -> None:
    """Serve these routes (Channels' path() entries), before the fallback; a route added again is
    not added twice."""
    for pattern in patterns:
        if not any(known is pattern for known in websocket_urlpatterns):
            websocket_urlpatterns.insert(len(websocket_urlpatterns) - 1, pattern)
