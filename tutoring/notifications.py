"""In-app notifications plus an email through Django's mail API (Resend in production)."""

from django.conf import settings
from django.core.mail import send_mail

from .models import Notification, User

TEXT_LIMIT = Notification._meta.get_field("text").max_length


def fit(text: str, limit: int) -> str:
    """The text within `limit` characters: cut at a word where possible, with an ellipsis."""
    text = str(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:") + "…"


def notify(users, *, kind: str, text, url: str = "", event_id: int | None = None) -> int:
    """Notify each user once per event: a retried task finds the rows and sends nothing again.
    `text` is a string or a function of the recipient (to speak in their time zone)."""
    sent = 0
    for user in users:
        # people's words (a 2,000-character dispute, a long name) must not cost the notification
        body = fit(text(user) if callable(text) else text, TEXT_LIMIT)
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
