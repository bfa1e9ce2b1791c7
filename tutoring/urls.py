from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path

from sessions.api import api
from sessions.views import switch_role


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


class SignOutView(auth_views.LogoutView):
    """Django's POST-only logout, then a note on the sign-in page it redirects to."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have signed out.")
        return response


urlpatterns = [
    path("healthz", healthz),
    path("admin/", admin.site.urls),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("role/", switch_role, name="switch_role"),
    path("api/", api.urls),
    path("", include("notes.urls")),
    path("", include("creators.urls")),
    path("", include("messaging.urls")),
    path("", include("analytics.urls")),
    path("", include("room.urls")),
    path("", include("sessions.urls")),
]
