"""In-app notifications plus an email through Django's mail API (Resend in production)."""

from django.conf import settings
from django.core.mail import send_mail

from .models import Notification, User


def notify(users, *, kind: str, text, url: str = "", event_id: int | None = None) -> int:
    """Notify each user once per event: a retried task finds the rows and sends nothing again.
    `text` is a string or a function of the recipient (to speak in their time zone)."""
    sent = 0
    for user in users:
        body = text(user) if callable(text) else text
        if event_id is None:  # nothing to deduplicate on: every call notifies
            Notification.objects.create(recipient=user, kind=kind, text=body, url=url)
            created = True
        else:
            _, created = Notification.objects.get_or_create(
                recipient=user, event_id=event_id, defaults={"kind": kind, "text": body, "url": url}
            )
        if created and user.email:
            link = f"\n\n{settings.SITE_URL}{url}" if url else ""
            send_mail(subject=body[:78], message=f"{body}{link}", from_email=None, recipient_list=[user.email])
        sent += created
    return sent


def coordinators():
    return User.objects.filter(roles__contains=["coordinator"], is_active=True)
