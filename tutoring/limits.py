"""Rate limits counted in the Django cache (Redis): fixed windows keyed by the window's number, so
a test moves the clock instead of waiting, and a cache outage lets people through (logged) rather
than locking everyone out.

Who uses it (the numbers are settings, docs/operations.md lists them):
- password reset, per client address and per email (tutoring/signin.py; sign-in is django-axes');
- the analytics beacon, per user (analytics/views.py);
- the Telegram webhook, per Telegram user, and wrong secret tokens per client address
  (telegram_bot/views.py);
- uploads, per user: every multipart POST (notes' attachments on the web and the API, the room's
  resources) and every part of a browser recording (`UploadLimitMiddleware` below);
- the room's socket: connection attempts per user (room/consumers.py; messages per connection
  are a token bucket there).
An HTTP refusal is a 429 with Retry-After and a sentence saying when to try again."""

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int  # hits allowed per window
    window: int  # seconds


def count(limit: Limit, key: str, *, now: float | None = None) -> tuple[int, int]:
    """Count one hit for `key`: (the hits in this window so far, the seconds until it is allowed
    again when over the limit, else 0)."""
    now = time.time() if now is None else now
    number = int(now // limit.window)
    cache_key = f"limit:{limit.name}:{key}:{number}"
    try:
        cache.add(cache_key, 0, timeout=limit.window * 2)
        hits = cache.incr(cache_key)
    except Exception:  # noqa: BLE001 - any cache failure, including the key expiring in between
        log.warning("rate limit %s: cache unavailable, not counted", limit.name, exc_info=True)
        return 0, 0
    if hits <= limit.limit:
        return hits, 0
    return hits, max(1, math.ceil((number + 1) * limit.window - now))


def hit(limit: Limit, key: str, *, now: float | None = None) -> int:
    """Count one hit for `key`; the seconds until it is allowed again when over the limit, else 0."""
    return count(limit, key, now=now)[1]


def over(limit: Limit, key: str, *, now: float | None = None) -> int:
    """Without counting: the seconds until `key` is allowed again when it has used up this
    window, else 0."""
    now = time.time() if now is None else now
    number = int(now // limit.window)
    try:
        hits = cache.get(f"limit:{limit.name}:{key}:{number}") or 0
    except Exception:  # noqa: BLE001 - as in count()
        return 0
    return max(1, math.ceil((number + 1) * limit.window - now)) if hits >= limit.limit else 0


def in_words(seconds: int) -> str:
    """ "1 minute", "15 minutes", "2 hours" (rounded up to whole minutes)."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"


def too_many(request, wait: int, what: str, *, json: bool = False) -> HttpResponse:
    """429 with Retry-After: {"detail", "code": "rate_limited"} for the API and JSON endpoints, a
    page saying when to try again otherwise (for htmx, that sentence on top of the page)."""
    detail = f"Too many {what}: try again in {in_words(wait)}."
    wants_json = json or request.path.startswith("/api/") or "json" in request.headers.get("Accept", "") \
        or "json" in request.headers.get("Content-Type", "")
    if wants_json:
        response = JsonResponse({"detail": detail, "code": "rate_limited"}, status=429)
    elif request.headers.get("HX-Request") == "true":
        # htmx swaps a 429 (base.html's htmx-config): the message goes on top of the page, and
        # the form that was posted stays as it was, with what was typed in it
        response = render(request, "rate_limited.html#message", {"detail": detail}, status=429)
        response["HX-Retarget"] = "#main"
        response["HX-Reswap"] = "afterbegin"
    else:
        response = render(request, "rate_limited.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(wait)
    return response


# --- uploads ---------------------------------------------------------------------------------

RECORDING_PART_ROUTES = frozenset({"room-recording-part"})


def upload_limits() -> tuple[Limit, Limit]:
    return (Limit("uploads", settings.UPLOADS_PER_MINUTE, 60),
            Limit("recording-parts", settings.RECORDING_PARTS_PER_MINUTE, 60))


class UploadLimitMiddleware:
    """A signed-in user's uploads: every multipart request (notes' attachments, the room's
    resources, the notes API) against UPLOADS_PER_MINUTE, every part of a browser recording
    against RECORDING_PARTS_PER_MINUTE. Over the limit: 429 with Retry-After.

    A user already over the limit is refused before a byte of the body is read; a request is
    counted only once it has passed the CSRF check (this middleware comes after Django's), so a
    forged cross-site post cannot use up someone's uploads."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (which := self._which(request)) is not None:
            limit, what, as_json = which
            if wait := over(limit, str(request.user.pk)):
                return self._refuse(request, wait, what, as_json)
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        if (which := self._which(request)) is not None:
            limit, what, as_json = which
            if wait := hit(limit, str(request.user.pk)):
                return self._refuse(request, wait, what, as_json)
        return None

    @staticmethod
    def _which(request) -> tuple[Limit, str, bool] | None:
        """(the limit, what it counts, whether the endpoint answers JSON) for an upload by a
        signed-in user, else None."""
        if request.method not in ("POST", "PUT", "PATCH"):
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # the view refuses anonymous uploads itself
        try:
            route = resolve(request.path_info).url_name
        except Resolver404:
            route = None
        uploads, parts = upload_limits()
        if route in RECORDING_PART_ROUTES:
            return parts, "recording parts", True
        if request.content_type == "multipart/form-data":
            return uploads, "uploads", False
        return None

    @staticmethod
    def _refuse(request, wait, what, as_json):
        log.warning("upload limit: user %s over the limit of %s", request.user.pk, what)
        return too_many(request, wait, what, json=as_json)
