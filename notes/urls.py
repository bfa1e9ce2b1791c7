from django.urls import path

from . import views

urlpatterns = [
    path("sessions/<int:session_id>/notes/", views.notes_page, name="session-notes"),
    path("notes/attachments/<int:attachment_id>/", views.attachment, name="notes-attachment"),
    path("notes/files/<str:token>/", views.signed_file, name="notes-file"),
]
