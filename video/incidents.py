"""Provider credentials that stop working are an operations problem: coordinators hear of it once
per incident (one delivery per coordinator and channel through the outbox, and a row in the admin), not once per request.
The incident stays open, counting occurrences, until a call to that provider succeeds again."""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from sessions.models import VideoProvider
from notifications.outbox import notify
from tutoring.models import Role, User

from .models import ProviderIncident

log = logging.getLogger("video")

SETTINGS_TO_CHECK = {
    VideoProvider.PLUGNMEET: "PLUGNMEET_API_KEY and PLUGNMEET_API_SECRET",
    VideoProvider.BBB: "BBB_SECRET and BBB_CHECKSUM",
}


def credentials_rejected(provider: str, *, detail: str, now=None) -> bool:
    """Count the failure on the open incident, or open one and tell the coordinators. True when
    this call opened it. Runs in its own transaction: the caller's request may roll back."""
    now = now or timezone.now()
    open_incident = ProviderIncident.objects.filter(provider=provider, kind=ProviderIncident.CREDENTIALS,
                                                    closed_at__isnull=True)
    if open_incident.update(occurrences=F("occurrences") + 1, last_seen_at=now, detail=detail):
        return False
    try:
        with transaction.atomic():
            incident = ProviderIncident.objects.create(provider=provider, kind=ProviderIncident.CREDENTIALS,
                                                       detail=detail, opened_at=now, last_seen_at=now)
    except IntegrityError:  # another request opened it a moment ago: count this one there
        open_incident.update(occurrences=F("occurrences") + 1, last_seen_at=now)
        return False
    label = VideoProvider(provider).label
    coordinators = User.objects.filter(roles__contains=[Role.COORDINATOR], is_active=True)
    notify(coordinators, kind="video_credentials", source=f"video_incident:{incident.pk}", now=now,
           data={"provider": label, "settings": SETTINGS_TO_CHECK.get(provider, "its settings"),
                 "url": reverse("admin:video_providerincident_change", args=[incident.pk])})
    log.error("%s credentials rejected: %s (coordinators notified)", provider, detail)
    return True


def provider_answered(provider: str, *, now=None) -> int:
    """A call succeeded: an open credentials incident of that provider is over."""
    return ProviderIncident.objects.filter(provider=provider, closed_at__isnull=True).update(
        closed_at=now or timezone.now())
