from django.urls import path, re_path

from . import views

urlpatterns = [
    path("session/<int:session_id>", views.room, name="room"),
    path("session/<int:session_id>/", views.room),
    path("session/<int:session_id>/check-in", views.check_in, name="room-check-in"),
    path("session/<int:session_id>/feedback", views.feedback, name="room-feedback"),
    path("session/<int:session_id>/resources", views.upload_resources, name="room-resources"),
    path("session/<int:session_id>/resources/<int:resource_id>", views.resource, name="room-resource"),
    path("session/<int:session_id>/recording", views.recording_start, name="room-recording"),
    path("session/<int:session_id>/recording/<int:recording_id>/parts/<int:number>", views.recording_part,
         name="room-recording-part"),
    path("session/<int:session_id>/recording/<int:recording_id>/complete", views.recording_complete,
         name="room-recording-complete"),
    re_path(r"^session/(?P<rest>.*)$", views.unknown),
]
