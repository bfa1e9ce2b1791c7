"""Rate limits counted in the Django cache (Redis): fixed windows keyed by the window's number, so
a test moves the clock instead of waiting, and a cache outage lets people through (logged) rather
than locking everyone out. The analytics beacon and password reset use it; sign-in is django-axes'
(tutoring/signin.py)."""

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int  # hits allowed per window
    window: int  # seconds


def hit(limit: Limit, key: str, *, now: float | None = None) -> int:
    """Count one hit for `key`; the seconds until it is allowed again when over the limit, else 0."""
    now = time.time() if now is None else now
    number = int(now // limit.window)
    cache_key = f"limit:{limit.name}:{key}:{number}"
    try:
        cache.add(cache_key, 0, timeout=limit.window * 2)
        count = cache.incr(cache_key)
    except Exception:  # noqa: BLE001 - any cache failure, including the key expiring in between
        log.warning("rate limit %s: cache unavailable, not counted", limit.name, exc_info=True)
        return 0
    if count <= limit.limit:
        return 0
    return max(1, math.ceil((number + 1) * limit.window - now))


def in_words(seconds: int) -> str:
    """ "1 minute", "15 minutes", "2 hours" (rounded up to whole minutes)."""
    minutes = max(1, math.ceil(seconds / 60))
    if minutes < 120:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{math.ceil(minutes / 60)} hours"
