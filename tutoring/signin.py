"""Brute-force protection for signing in and resetting a password.

Sign-in: django-axes counts failed attempts per account (username) and per client address; after
AXES_FAILURE_LIMIT failures within AXES_COOLOFF_TIME either is locked until that much time has
passed since its last failure, and the sign-in page says when that is (429, Retry-After). A
successful sign-in clears the account's count; so does choosing a new password through a reset
link. Password reset requests are limited per client address and per email address
(tutoring.limits), so nobody can flood a mailbox; the answer says when to try again.

Demo logins: in production (DJANGO_ENV=production) the password of the demo world ('demo', the
password seed_demo gives every demo account) never signs anyone in, on the site or the admin,
whatever the database holds (`NoDemoLoginsBackend`); seed_demo itself refuses to run there.
"""

import math

from axes.helpers import get_client_ip_address, get_client_username
from axes.models import AccessAttempt
from axes.utils import reset as reset_attempts
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Max, Q
from django.shortcuts import render
from django.utils import timezone

from . import limits

DEMO_PASSWORD = "demo"  # seed_demo's accounts' password (demo/management/commands/seed_demo.py)


class NoDemoLoginsBackend:
    """Listed before Django's ModelBackend: in production it stops the sign-in (PermissionDenied
    ends Django's walk through the backends; axes counts it as a failure) when the password is the
    demo password; otherwise it has no opinion and the next backend decides."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if settings.PRODUCTION and password == DEMO_PASSWORD:
            raise PermissionDenied("demo logins are off in production")
        return None


RESET_PER_ADDRESS = limits.Limit("password-reset-address", limit=10, window=3600)
RESET_PER_EMAIL = limits.Limit("password-reset-email", limit=3, window=3600)


def lockout_seconds(username: str | None, ip_address: str | None, now=None) -> int:
    """Seconds until the account or the address may try again (the later of the two)."""
    now = now or timezone.now()
    since = now - settings.AXES_COOLOFF_TIME
    who = Q(username=username) if username else Q()
    if ip_address:
        who = (who | Q(ip_address=ip_address)) if username else Q(ip_address=ip_address)
    last = AccessAttempt.objects.filter(who, attempt_time__gte=since).aggregate(last=Max("attempt_time"))[
        "last"
    ]
    if last is None:
        return 60
    return max(1, math.ceil((last + settings.AXES_COOLOFF_TIME - now).total_seconds()))


def locked_out(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the sign-in page with the lockout and when it lifts."""
    username = get_client_username(request, credentials)
    wait = lockout_seconds(username, get_client_ip_address(request))
    message = (
        f"Too many failed sign-in attempts for this account or from your network. Try again in "
        f"{limits.in_words(wait)}, or reset your password to sign in now."
    )
    form = AuthenticationForm(request, data=None, initial={"username": username or ""})
    response = render(
        request,
        "registration/login.html",
        {"form": form, "lockout": message, "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(wait + 1)  # the lock lifts just after `wait` seconds
    return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view, at most RESET_PER_EMAIL requests an hour for one email address and
    RESET_PER_ADDRESS from one client address (whether or not the account exists: the answer
    reveals nothing)."""

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        wait = max(
            limits.hit(RESET_PER_ADDRESS, get_client_ip_address(self.request) or "unknown"),
            limits.hit(RESET_PER_EMAIL, email),
        )
        if wait:
            form.add_error(
                None,
                f"Too many password reset requests: try again in {limits.in_words(wait)}. "
                "If an email is on its way, it is enough to follow its link.",
            )
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(wait)
            return response
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing a new password through a reset link also lifts the account's sign-in lockout."""

    def form_valid(self, form):
        response = super().form_valid(form)
        reset_attempts(username=form.user.get_username())
        return response
