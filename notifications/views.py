"""The pages: the inbox (the bell's list), notification settings, one-click unsubscribe, and the
development outbox that shows locally kept email. Each page runs a fixed number of queries."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tutoring.http import see_other
from tutoring.input import InvalidInput, clean_text, parse_id
from tutoring.models import User

from .channels import CHANNELS
from .email import read_unsubscribe_token
from .kinds import KINDS
from .models import Channel, KeptEmail, Notification, Preference, SuppressedAddress, Topic
from .texts import shorten

PAGE = 30
PREVIEW = 300  # characters shown of a text longer than WHOLE, before "Show all"
WHOLE = 500
FORCED = {(kind.topic, name) for kind in KINDS.values() for name in kind.forced_channels}


def _when(moment, user) -> str:
    local = moment.astimezone(user.tzinfo)
    today = timezone.now().astimezone(user.tzinfo).date()
    return f"{local:%H:%M}" if local.date() == today else f"{local:%a %d %b, %H:%M}"


def unread_count(user) -> int:
    """The bell's figure: unread notifications, counted up to 100 (shown as 99+). One query."""
    return len(Notification.objects.filter(recipient=user, read_at__isnull=True).values_list("id", flat=True)[:100])


@never_cache
@login_required
@require_GET
def inbox(request):
    user = request.user
    rows = Notification.objects.filter(recipient=user).order_by("-id")
    before = request.GET.get("before", "")
    if before:
        if (before_id := parse_id(before)) is None:
            raise Http404("No such page.")
        rows = rows.filter(id__lt=before_id)
    page = list(rows[: PAGE + 1])
    more = len(page) > PAGE
    page = page[:PAGE]
    items = [{
        "n": n,
        "when": _when(n.created_at, user),
        "long": len(n.text) > WHOLE,
        "preview": shorten(n.text, PREVIEW) if len(n.text) > WHOLE else "",
    } for n in page]
    return render(request, "notifications/inbox.html", {
        "items": items,
        "older": page[-1].id if more else None,
        "first_page": not before,
        "unread": sum(1 for n in page if n.read_at is None),
    })


def _own(request, notification_id) -> Notification:
    return get_object_or_404(Notification, pk=notification_id, recipient=request.user)


@login_required
@require_POST
def open_notification(request, notification_id):
    """Mark it read and go where it points (a path on this site)."""
    n = _own(request, notification_id)
    Notification.objects.filter(pk=n.pk, read_at__isnull=True).update(read_at=timezone.now())
    return see_other(n.url if n.url.startswith("/") and not n.url.startswith("//") else "/notifications/")


@login_required
@require_POST
def mark_read(request, notification_id):
    n = _own(request, notification_id)
    Notification.objects.filter(pk=n.pk, read_at__isnull=True).update(read_at=timezone.now())
    return see_other(_back(request))


@login_required
@require_POST
def mark_all_read(request):
    done = Notification.objects.filter(recipient=request.user, read_at__isnull=True).update(read_at=timezone.now())
    messages.success(request, f"Marked {done} notification{'s' if done != 1 else ''} as read." if done
                     else "Nothing was unread.")
    return see_other(_back(request))


def _back(request) -> str:
    before = request.POST.get("before", "")
    return f"/notifications/?before={before}" if parse_id(before) is not None else "/notifications/"


# --- settings ---------------------------------------------------------------------------------


def _grid(user) -> list[dict]:
    off = set(Preference.objects.filter(user=user, enabled=False).values_list("topic", "channel"))
    # a topic shows only to people whose roles can receive one of its kinds (operations alerts
    # only to coordinators, tutor notes only to parents)
    topics = [t for t in Topic if any(k.topic == t and (k.roles is None or k.roles & set(user.roles))
                                      for k in KINDS.values())]
    # a channel this person cannot have yet (Telegram before a chat is linked) shows no column
    offered = {name for name, channel in CHANNELS.items() if not hasattr(channel, "offered") or channel.offered(user)}
    rows = []
    for topic in topics:
        cells = []
        for name in CHANNELS:
            forced_topic = any(k.topic == topic and k.forced_channels for k in KINDS.values())
            if name not in offered or (forced_topic and (topic, name) not in FORCED):
                cells.append({"channel": name, "label": Channel(name).label, "na": True})
                continue
            cells.append({"channel": name, "label": Channel(name).label, "field": f"{topic}:{name}",
                          "on": (topic, name) not in off, "locked": (topic, name) in FORCED})
        rows.append({"topic": topic, "label": Topic(topic).label, "cells": cells})
    return rows


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    user = request.user
    if request.method == "POST":
        if request.POST.get("action") == "resume_email":
            if user.email:
                SuppressedAddress.objects.filter(email__iexact=user.email).delete()
                messages.success(request, f"Email to {user.email} is on again.")
            return see_other("/notifications/preferences/")
        chosen = set(request.POST.getlist("on"))
        with transaction.atomic():
            for row in _grid(user):
                for cell in row["cells"]:
                    if cell.get("na") or cell.get("locked"):
                        continue
                    Preference.objects.update_or_create(
                        user=user, topic=row["topic"], channel=cell["channel"],
                        defaults={"enabled": cell["field"] in chosen})
        messages.success(request, "Your notification settings are saved.")
        return see_other("/notifications/preferences/")
    suppressed = (SuppressedAddress.objects.filter(email__iexact=user.email).first() if user.email else None)
    return render(request, "notifications/preferences.html", {
        "rows": _grid(user),
        "channels": [Channel(name).label for name in CHANNELS],
        "suppressed": suppressed,
        "suppressed_when": _when(suppressed.created_at, user) if suppressed else "",
    })


# --- one-click unsubscribe (RFC 8058) ---------------------------------------------------------


@csrf_exempt  # mail clients POST "List-Unsubscribe=One-Click" with no cookie: the signed token is the proof
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET shows what the link stops and a button (a mail scanner following links changes
    nothing); POST, from that button or from the mail client's one-click, turns it off."""
    data = read_unsubscribe_token(token)
    user = User.objects.filter(pk=data["u"], is_active=True).first() if data else None
    if user is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    topic, channel = Topic(data["t"]), Channel(data["c"])
    context = {"user_email": user.email, "topic": topic.label.split(" (")[0].lower(), "channel": channel.label.lower(),
               "token": token}
    if request.method == "POST":
        Preference.objects.update_or_create(user=user, topic=topic, channel=channel, defaults={"enabled": False})
        return render(request, "notifications/unsubscribe.html", {**context, "done": True})
    return render(request, "notifications/unsubscribe.html", context)


# --- the development outbox -------------------------------------------------------------------


def _dev_only():
    if not settings.DEV_OUTBOX:
        raise Http404("There is no outbox page in production.")


@never_cache
@require_GET
def dev_outbox(request):
    _dev_only()
    status = 200
    try:
        to = clean_text(request.GET.get("to", ""), max_length=254, what="address")
    except InvalidInput as exc:  # PostgreSQL cannot compare a NUL: the page says why it shows everyone's
        messages.error(request, str(exc))
        to, status = "", 400
    kept = KeptEmail.objects.order_by("-id")
    if to:
        kept = kept.filter(to__contains=[to])
    emails = list(kept[:100])
    people = list(User.objects.exclude(email="").order_by("name").values_list("email", "name", "roles"))
    return render(request, "notifications/outbox.html", {
        "emails": emails, "to": to, "people": people,
        "backend": settings.MAILERS["default"].get("BACKEND", ""),
        "keeps": settings.MAILERS["default"].get("BACKEND") == settings.LOCAL_EMAIL_BACKEND,
    }, status=status)


@never_cache
@require_GET
def dev_outbox_email(request, email_id):
    _dev_only()
    email = get_object_or_404(KeptEmail, pk=email_id)
    unsubscribe = email.headers.get("List-Unsubscribe", "").strip("<>")
    return render(request, "notifications/outbox_email.html", {"email": email, "unsubscribe": unsubscribe})


@xframe_options_sameorigin
@never_cache
@require_GET
def dev_outbox_html(request, email_id):
    """The HTML part on its own, for the sandboxed frame of the email's page."""
    _dev_only()
    email = get_object_or_404(KeptEmail, pk=email_id)
    response = HttpResponse(email.html or "<p>(no HTML part)</p>", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    return response
