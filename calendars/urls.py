from django.urls import path

from . import views

urlpatterns = [
    path("calendar/", views.settings_page, name="calendar-settings"),
    path("calendar/<str:token>.ics", views.feed, name="calendar-feed"),
]
