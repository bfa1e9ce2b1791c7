from django.urls import path

from .consumers import RoomConsumer

websocket_urlpatterns = [
    path("ws/session/<int:session_id>/", RoomConsumer.as_asgi()),
]
