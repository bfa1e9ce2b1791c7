from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from .. import projections
from ..access import Viewer, visible_sessions
from ..models import Status


@login_required
def home(request):
    """A first landing page: the viewer's coming sessions with their role-facing labels."""
    viewer = Viewer.of(request.user)
    now = timezone.now()
    sessions = (
        visible_sessions(viewer)
        .filter(scheduled_end__gte=now, status__in=[Status.SCHEDULED, Status.CHECKED_IN])
        .select_related("tutor", "student", "course")
        .order_by("scheduled_start")[:20]
    )
    tz = request.user.tzinfo
    rows = [
        {
            "session": s,
            "when": f"{s.scheduled_start.astimezone(tz):%a %d %b %H:%M} ({request.user.time_zone})",
            "label": projections.status_label(s, viewer.relations(s)),
        }
        for s in sessions
    ]
    return render(request, "sessions/home.html", {"upcoming": rows})
