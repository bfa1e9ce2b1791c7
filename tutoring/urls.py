import sys

from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, JsonResponse
from django.urls import include, path
from django.views import defaults

from tutoring.api import RETRY_AFTER_SECONDS, SERVER_ERROR, UNAVAILABLE, api, database_unavailable

from . import signin


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def favicon(request):
    """No icon, said once a day: the site's pages name an empty one, but the admin's and the API
    docs name none, and the browser's /favicon.ico was a 404 in every log."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "public, max-age=86400"
    return response


class SignOutView(auth_views.LogoutView):
    """Django's POST-only logout, then a note on the sign-in page it redirects to."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You have signed out.")
        return response


UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unavailable for a moment</title></head>
<body><h1>Unavailable for a moment</h1><p>{detail}</p></body></html>
"""


def server_error(request):
    """An unhandled error outside the API's own handlers (a middleware, the database gone):
    the API still answers {"detail", "code"}, the pages Django's plain 500 page. With the database
    out of reach (restarting, the pool empty) both answer 503 with Retry-After instead: a page
    that needs no database and no template (the handler runs while Django handles the error, so
    sys.exception() is what was raised)."""
    if database_unavailable(sys.exception()):
        if request.path.startswith("/api/"):
            response = JsonResponse(UNAVAILABLE, status=503)
        else:
            response = HttpResponse(UNAVAILABLE_PAGE.format(detail=UNAVAILABLE["detail"]), status=503)
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if request.path.startswith("/api/"):
        return JsonResponse(SERVER_ERROR, status=500)
    return defaults.server_error(request)


handler500 = server_error

urlpatterns = [
    path("healthz", healthz),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    path("accounts/password_reset/", signin.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/reset/<uidb64>/<token>/", signin.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", api.urls),
    path("", include("notes.urls")),
    path("", include("creators.urls")),
    path("", include("messaging.urls")),
    path("", include("analytics.urls")),
    path("", include("notifications.urls")),
    path("", include("telegram_bot.urls")),
    path("", include("room.urls")),
    path("", include("sessions.urls")),
    path("", include("video.urls")),
    path("", include("calendars.urls")),
]
