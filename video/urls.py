from django.urls import path

from . import views

urlpatterns = [
    path("video/webhooks/plugnmeet", views.plugnmeet_webhook, name="video-webhook-plugnmeet"),
    path("video/webhooks/bbb/recording-ready", views.bbb_recording_ready, name="video-webhook-bbb-recording-ready"),
]
