from django.urls import path, re_path

from . import views

urlpatterns = [
    path("session/<int:session_id>", views.room, name="room"),
    path("session/<int:session_id>/", views.room),
    path("session/<int:session_id>/check-in", views.check_in, name="room-check-in"),
    path("session/<int:session_id>/feedback", views.feedback, name="room-feedback"),
    path("session/<int:session_id>/resources", views.upload_resources, name="room-resources"),
    path("session/<int:session_id>/resources/<int:resource_id>", views.resource, name="room-resource"),
    re_path(r"^session/(?P<rest>.*)$", views.unknown),
]
