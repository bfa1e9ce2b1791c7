"""The iCalendar document of one person's sessions (RFC 5545, built with the `icalendar` package).

A tutor gets the sessions they teach, a parent their children's (a person who is both gets both),
from 60 days back on, in the person's own time zone (TZID with its VTIMEZONE). Each session is one
VEVENT with a stable UID; its SEQUENCE grows with the session's events (every reschedule or
cancellation appends one), so calendar apps replace the old copy; a cancelled session stays in the
feed as STATUS:CANCELLED. Two queries whatever the number of sessions.
"""

from datetime import datetime, timedelta

from django.db.models import Count, Q
from icalendar import Calendar, Event

from sessions.models import CANCELLED, Session
from tutoring.models import Guardianship, Role, User

PAST_DAYS = 60
MAX_EVENTS = 2000


def feed_sessions(user: User, now: datetime):
    """The sessions in `user`'s feed, oldest first, with the number of their events (one query)."""
    mine = Q(pk__in=[])
    if user.has_role(Role.TUTOR):
        mine |= Q(tutor=user)
    if user.has_role(Role.PARENT):
        mine |= Q(student__in=Guardianship.objects.filter(parent=user).values("student"))
    return (
        Session.objects.filter(mine, scheduled_end__gte=now - timedelta(days=PAST_DAYS))
        .select_related("tutor", "student", "course")
        .annotate(event_count=Count("events"))
        .order_by("scheduled_start", "id")[:MAX_EVENTS]
    )


def _summary(session: Session, user: User) -> str:
    course = f" · {session.course.title}" if session.course else ""
    if session.tutor_id == user.pk:
        return f"Lesson with {session.student.name}{course}"
    return f"{session.student.name}'s lesson with {session.tutor.name}{course}"


def build(user: User, *, now: datetime, base_url: str, host: str) -> bytes:
    tz = user.tzinfo
    cal = Calendar()
    cal.add("prodid", "-//Tutoring//Session feed//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"Tutoring: {user.name or user.username}")
    cal.add("x-wr-timezone", user.time_zone)
    for session in feed_sessions(user, now):
        event = Event()
        event.add("uid", f"session-{session.pk}@{host}")
        event.add("sequence", max(session.event_count - 1, 0))
        event.add("dtstamp", now)
        event.add("last-modified", session.updated_at)
        event.add("dtstart", session.scheduled_start.astimezone(tz))
        event.add("dtend", session.scheduled_end.astimezone(tz))
        event.add("summary", _summary(session, user))
        event.add("status", "CANCELLED" if session.status in CANCELLED else "CONFIRMED")
        url = f"{base_url}/sessions/{session.pk}/"
        event.add("url", url)
        event.add("description", f"{session.get_status_display()}. Details: {url}")
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()
