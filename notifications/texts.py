"""Small text helpers shared by every message: times in the reader's zone, subjects that fit
without cutting a word, people's words quoted whole or shortened on a word boundary, and absolute
links built from the one configured SITE_URL."""

from datetime import datetime, timedelta

from django.conf import settings

# A subject longer than this is folded or cut by many mail clients (RFC 5322 recommends 78).
SUBJECT_MAX = 78
ELLIPSIS = "…"


def absolute(path: str) -> str:
    """The absolute URL of a path on this site, from SITE_URL (never from a request's Host)."""
    return f"{settings.SITE_URL}{path}" if path.startswith("/") else path


def local(moment: datetime | str, user) -> str:
    """A time as the reader reads it: their zone, named. "Wed 18 Nov 10:00 (Europe/London)"."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment.astimezone(user.tzinfo):%a %d %b %H:%M} ({user.time_zone})"


def local_day(moment: datetime | str, user) -> str:
    """The day only, in the reader's zone: "Wed 18 Nov"."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment.astimezone(user.tzinfo):%a %d %b}"


def fit(*candidates: str, limit: int = SUBJECT_MAX) -> str:
    """The first candidate that fits in `limit` characters: subjects are written in several
    lengths, most specific first, and the last one is short enough always to fit. A subject is
    never cut; if even the last is too long (a bug), it is shortened on a word boundary."""
    for candidate in candidates:
        candidate = " ".join(candidate.split())
        if len(candidate) <= limit:
            return candidate
    return shorten(candidates[-1], limit)


def shorten(text: str, limit: int) -> str:
    """`text` if it fits, else its first words that fit with an ellipsis: never a broken word
    (a single word longer than the limit, such as a URL, is the only thing ever cut)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    head = text[: room + 1]
    cut = head.rfind(" ")
    head = head[:cut] if cut > 0 else text[:room]
    return head.rstrip(" ,.;:-–—") + ELLIPSIS


def in_how_long(delta: timedelta) -> str:
    """"in 24 hours", "in 1 hour", "in 15 minutes": how far off a start is, rounded the way
    people say it (whole hours from two hours up, minutes below)."""
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes >= 120:
        hours = round(minutes / 60)
        return f"in {hours} hours"
    if 55 <= minutes <= 65:
        return "in 1 hour"
    if minutes >= 60:
        return f"in 1 hour {minutes - 60} minutes"
    if minutes <= 1:
        return "now"
    return f"in {minutes} minutes"


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"
