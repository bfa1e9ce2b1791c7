"""The audit views' reads (issue 17 item 4): a session's whole event trail, and every event in
which a person is the actor or the subject (the session's tutor or student, or a student in their
care), newest first, a page at a time. Times are shown in the viewer's zone (the middleware)."""

from django.core.paginator import Paginator
from django.db.models import Q

from sessions.models import SessionEvent
from tutoring.models import Guardianship, User

PAGE_SIZE = 50


def session_trail(session_id: int):
    return SessionEvent.objects.filter(session_id=session_id).select_related("actor").order_by("created_at", "id")


def person_events(person: User):
    children = Guardianship.objects.filter(parent=person).values("student_id")
    about = (Q(actor=person) | Q(session__tutor=person) | Q(session__student=person)
             | Q(session__student__in=children))
    return (SessionEvent.objects.filter(about).select_related("actor", "session__tutor", "session__student")
            .order_by("-created_at", "-id"))


def page_of(queryset, number):
    """A page of events (an out-of-range or malformed number gives the nearest page)."""
    return Paginator(queryset, PAGE_SIZE).get_page(number)
