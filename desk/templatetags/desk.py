from django import template
from django.utils import timezone

from sessions import projections
from tutoring.admin import is_admin_operator

from ..queues import queues

register = template.Library()


@register.inclusion_tag("desk/panel.html", takes_context=True)
def desk_panel(context, admin_style=False):
    """The desk for the signed-in coordinator: nothing at all for anyone else."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not is_admin_operator(user):
        return {"queues": None}
    items = queues(user, timezone.now())
    return {"queues": items, "admin_style": admin_style, "waiting": sum(q.count for q in items)}


@register.filter
def event_label(kind: str) -> str:
    """A SessionEvent kind in words (sessions.models.EVENT_LABELS, through sessions.projections):
    "check_in" → "Checked in"."""
    return projections.event_label(kind or "")


@register.filter
def status_name(status: str) -> str:
    """A session status in the coordinators' words (sessions.models.status_name, through
    sessions.projections)."""
    return projections.status_name(status or "")
