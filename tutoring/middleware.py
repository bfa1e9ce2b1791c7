"""Every request in its viewer's time zone, in one place.

`ViewerTimeZoneMiddleware` activates the signed-in user's zone (`User.time_zone`) for the whole
request: full pages, htmx partials, pieces rendered into the creator's page cache (keyed by the
same zone, creators/pagecache.py), CSV exports and API views alike, so a template's `date` filter
and Python's `timezone.localtime()` both show the viewer's wall clock. Anonymous requests run in
settings.TIME_ZONE. Emails are rendered in their recipient's zone (notifications/email.py)."""

import zoneinfo

from django.utils import timezone


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
