"""One guard for every page that belongs to a role (issue 10 item 4).

`@role_page(Role.TUTOR)` on a view: a visitor who is not signed in goes to sign in; a signed-in
person without the role gets a clear page saying whose page it is, with a link to their own home
(HTTP 403), never the page's empty form or an empty list. Object URLs keep answering 404 to
people who may not see the object: this guards the role's own pages, not other people's things."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .models import Role

FOR_WHOM = {
    Role.PARENT: "parents",
    Role.TUTOR: "tutors",
    Role.STUDENT: "students",
    Role.CREATOR: "course creators",
    Role.COORDINATOR: "coordinators",
}


def holds(user, role: str) -> bool:
    if role == Role.COORDINATOR:
        return user.is_coordinator
    return role in user.roles


def refused(request, role: str):
    """The page a person sees on another role's page: whose page it is and the way home."""
    return render(request, "role_refused.html", {"for_whom": FOR_WHOM[role], "role": role}, status=403)


def role_page(role: str):
    def decorate(view):
        @login_required
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not holds(request.user, role):
                return refused(request, role)
            return view(request, *args, **kwargs)

        guarded.role = role
        return guarded

    return decorate
