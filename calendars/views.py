"""The calendar feed (no sign-in: the secret in its URL is the credential) and its settings page."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from tutoring.models import Role

from . import feeds
from .models import CalendarFeed, new_token

TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")

FEED_ROLES = (Role.TUTOR, Role.PARENT)


def _may_have_feed(user) -> bool:
    return any(user.has_role(role) for role in FEED_ROLES)


@require_GET
def feed(request, token: str):
    """A revoked, regenerated-away or made-up token is a plain 404: nothing says whether it ever existed."""
    # tokens are token_urlsafe: anything else (a NUL reached PostgreSQL: a 500) is no token
    found = (CalendarFeed.objects.select_related("user").filter(token=token).first()
             if TOKEN.fullmatch(token) else None)
    if found is None or not found.user.is_active or not _may_have_feed(found.user):
        raise Http404
    now = timezone.now()
    # the site's own address, not the request's: UIDs stay the same whichever host name was used
    site = settings.SITE_URL.rstrip("/")
    body = feeds.build(found.user, now=now, base_url=site, host=urlsplit(site).hostname)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="sessions.ics"'
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    user = request.user
    allowed = _may_have_feed(user)
    current = CalendarFeed.objects.filter(user=user).first()
    if request.method == "POST":
        action = request.POST.get("action", "")
        if not allowed or action not in ("create", "regenerate", "revoke"):
            messages.error(request, "That calendar action is not available.")
        elif action == "revoke":
            CalendarFeed.objects.filter(user=user).delete()
            messages.success(request, "Your calendar link is switched off: calendars using it stop updating.")
        elif current is None:
            CalendarFeed.objects.create(user=user)
            messages.success(request, "Your calendar link is ready: add it to your calendar app.")
        else:
            current.token = new_token()
            current.save(update_fields=["token"])
            messages.success(request, "You have a new calendar link. The old one no longer works.")
        return redirect("calendar-settings")
    url = request.build_absolute_uri(f"/calendar/{current.token}.ics") if current else ""
    return render(request, "calendars/settings.html", {
        "allowed": allowed, "feed": current, "url": url,
        "webcal": url.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1),
    })
