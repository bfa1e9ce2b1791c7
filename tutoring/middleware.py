"""Every request in its viewer's time zone, in one place.

`ViewerTimeZoneMiddleware` activates the signed-in user's zone (`User.time_zone`) for the whole
request: full pages, htmx partials, pieces rendered into the creator's page cache (keyed by the
same zone, creators/pagecache.py), CSV exports and API views alike, so a template's `date` filter
and Python's `timezone.localtime()` both show the viewer's wall clock. Anonymous requests run in
settings.TIME_ZONE. Emails are rendered in their recipient's zone (notifications/email.py)."""

import zoneinfo

from django.shortcuts import render
from django.utils import timezone

from tutoring.input import unreadable_parameter


class ViewerTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = None
        if user is not None and user.is_authenticated:
            try:
                zone = zoneinfo.ZoneInfo(user.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = None  # a zone the database no longer knows: the server's, never a 500
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)


class UnreadableQueryMiddleware:
    """A page's query string with a NUL or another control character (in a name or a value) is a
    400 that says so, before any view or admin list filter reads it: every page's parameters, the
    admin's ?status__exact= and ?q= among them, reached PostgreSQL, which refuses a NUL (a 500).
    The API checks its own parameters (its schemas' Text type, a 422 naming the field)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.GET and not request.path.startswith("/api/"):
            if message := unreadable_parameter(request.GET):
                return render(request, "bad_request.html", {"message": message}, status=400)
        return self.get_response(request)
