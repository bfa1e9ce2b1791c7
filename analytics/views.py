"""The beacon: the browser reports the events only it sees (a recording played, a filter picked,
a session opened in place). Signed-in users only, CSRF-protected like every POST, 4 KB at most,
120 events a minute per user. Errors are {"detail": "...", "code": "..."}; nothing is written
unless the answer is 204.

    204  recorded
    400  bad_json: the body is not a JSON object
    401  not_authenticated
    403  CSRF failure (Django's page)
    404  not_found: a session_id the user may not see (or that does not exist)
    405  method_not_allowed: anything but POST
    413  too_large: body over MAX_BODY_BYTES
    415  unsupported_media_type: Content-Type is not application/json
    422  unknown_event, not_from_browser (page_view), invalid_data, invalid_page, invalid_body
    429  rate_limited (Retry-After: seconds to the next minute)
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse

from sessions.access import Viewer, visible_sessions
from tutoring import limits
from tutoring.input import parse_json

from . import events
from .models import EventSource

MAX_BODY_BYTES = 4096
BODY_KEYS = frozenset({"name", "data", "page"})


def _error(status: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status)


def beacon(request):
    if request.method != "POST":
        response = _error(405, "Use POST.", "method_not_allowed")
        response["Allow"] = "POST"
        return response
    if not request.user.is_authenticated:
        return _error(401, "Sign in first.", "not_authenticated")
    retry_after = _rate_limited(request.user.pk)
    if retry_after:
        response = _error(429, "Too many events: try again in a minute.", "rate_limited")
        response["Retry-After"] = str(retry_after)
        return response
    if _declared_length(request) > MAX_BODY_BYTES or len(request.body) > MAX_BODY_BYTES:
        return _error(413, f"The body may be at most {MAX_BODY_BYTES} bytes.", "too_large")
    if request.content_type != "application/json":
        return _error(415, "Send the event as application/json.", "unsupported_media_type")
    try:
        payload = parse_json(request.body)
    except ValueError:  # also bad UTF-8, over-long integers and JSON nested too deep
        payload = None
    if not isinstance(payload, dict):
        return _error(400, 'The body must be a JSON object: {"name": ..., "data": {...}, "page": ...}.',
                      "bad_json")

    name, data, page = payload.get("name"), payload.get("data"), payload.get("page", events.DEFAULT_PAGE)
    try:
        if extra := sorted(set(payload) - BODY_KEYS):
            raise events.InvalidEvent(f"Unexpected keys: {', '.join(extra)}.", "invalid_body")
        if isinstance(name, str) and name in events.schemas_for(page) and name not in events.BROWSER_EVENTS:
            raise events.InvalidEvent(f"{name} is recorded by the server, not reported by the browser.",
                                      "not_from_browser")
        clean = events.validate(name, data, page)
        events.check_page(page)
    except events.InvalidEvent as exc:
        return _error(422, exc.detail, exc.code)

    session_id = clean.get("session_id")
    visible = visible_sessions(Viewer.of(request.user))
    if session_id is not None and not visible.filter(pk=session_id).exists():
        return _error(404, "Session not found.", "not_found")
    events.record(name, user=request.user, data=clean, page=page, source=EventSource.BROWSER)
    return HttpResponse(status=204)


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _rate_limited(user_id: int) -> int:
    """Count this request in the user's current minute; seconds until the next minute when over
    the limit, else 0. A cache outage lets events through: analytics never blocks anyone."""
    limit = settings.ANALYTICS_BEACON_PER_MINUTE
    return limits.hit(limits.Limit("analytics-beacon", limit=limit, window=60), str(user_id))
