from django.urls import path

from . import views

urlpatterns = [
    path("telegram/", views.link, name="telegram-link"),
    path("telegram/webhook/", views.webhook, name="telegram-webhook"),
]
