"""In-app notifications plus an email through Django's mail API (Resend in production)."""

from django.conf import settings
from django.core.mail import send_mail

from .models import Notification, User


def notify(users, *, kind: str, text: str, url: str = "", event_id: int | None = None) -> int:
    """Notify each user once per event: a retried task finds the rows and sends nothing again."""
    sent = 0
    for user in users:
        _, created = Notification.objects.get_or_create(
            recipient=user, event_id=event_id, defaults={"kind": kind, "text": text, "url": url}
        )
        if created and user.email:
            link = f"\n\n{settings.SITE_URL}{url}" if url else ""
            send_mail(subject=text[:78], message=f"{text}{link}", from_email=None, recipient_list=[user.email])
        sent += created
    return sent


def coordinators():
    return User.objects.filter(roles__contains=["coordinator"], is_active=True)
