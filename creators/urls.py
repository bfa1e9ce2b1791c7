from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/teaching/sessions", views.history, name="creator-sessions"),
    path("dashboard/teaching/sessions/export.csv", views.export_csv, name="creator-export"),
    path("dashboard/teaching/sessions/metrics", views.metrics_panel, name="creator-metrics"),
    path("dashboard/teaching/sessions/<int:session_id>/", views.detail, name="creator-session"),
    path("dashboard/teaching/sessions/<int:session_id>/resolve/", views.resolve, name="creator-resolve"),
    path("people/<int:person_id>/", views.profile, name="profile"),
    path("courses/<int:course_id>/", views.course_page, name="course"),
    path("sessions/<int:session_id>/recording/", views.recording, name="session-recording"),
]
