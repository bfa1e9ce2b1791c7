from django.apps import AppConfig


class RoomConfig(AppConfig):
    name = "room"
    verbose_name = "Session room"

    def ready(self) -> None:
        # the room's socket (/ws/session/<id>/) joins the routes tutoring.asgi serves; the project
        # package imports no app
        from tutoring.sockets import add_routes

        from .routing import websocket_urlpatterns

        add_routes(websocket_urlpatterns)
