from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tutoring.models import Role

from .. import projections, selectors
from ..access import Viewer

# Roles with their own pages land there; creators and coordinators get the home page with their links.
ROLE_PAGES = {Role.PARENT: "/family/", Role.TUTOR: "/teach/", Role.STUDENT: "/learn/"}
ACTIVE_ROLE_KEY = "active_role"


def roles_of(user) -> list[str]:
    """The roles a person may act in; a superuser acts as a coordinator without the role."""
    roles = list(user.roles)
    if user.is_superuser and Role.COORDINATOR not in roles:
        roles.append(Role.COORDINATOR)
    return roles


def active_role(request) -> str | None:
    """The role chosen in this browser session, else the person's first role (base.html agrees)."""
    roles = roles_of(request.user)
    chosen = request.session.get(ACTIVE_ROLE_KEY)
    return chosen if chosen in roles else (roles[0] if roles else None)


@login_required
def home(request):
    role = active_role(request)
    if role in ROLE_PAGES:
        return redirect(ROLE_PAGES[role])
    upcoming = coming_sessions(request.user) if role in (Role.CREATOR, Role.COORDINATOR) else []
    return render(request, "sessions/home.html", {"role": role, "upcoming": upcoming})


def coming_sessions(user, limit=20):
    """The viewer's coming sessions with their role-facing labels, in the viewer's time zone."""
    viewer = Viewer.of(user)
    return [
        {
            "session": s,
            "when": f"{s.scheduled_start.astimezone(user.tzinfo):%a %d %b %H:%M} ({user.time_zone})",
            "label": projections.status_label(s, viewer.relations(s)),
        }
        for s in selectors.coming_sessions(viewer, limit)
    ]


@login_required
@require_POST
def switch_role(request):
    """Choose the role the home page and nav act in; only one of the person's own roles."""
    role = request.POST.get("role", "")
    if role not in roles_of(request.user):
        messages.error(request, "You can only switch to one of your own roles.")
        return redirect("home")
    request.session[ACTIVE_ROLE_KEY] = role
    messages.success(request, f"You are now acting as {Role(role).label.lower()}.")
    return redirect("home")
