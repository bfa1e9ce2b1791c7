from django.urls import path

from . import views

urlpatterns = [
    path("analytics/beacon", views.beacon, name="analytics-beacon"),
]
