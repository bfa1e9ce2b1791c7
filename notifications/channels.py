"""The channels that can deliver now, one entry each in CHANNELS.

A channel says who it can reach (in SQL, for the set-based reminder sweep, and in Python, checked
again just before sending) and delivers a batch of prepared messages, answering one Outcome per
delivery (outcomes.py). A feature app joins with its own channel class (the same members: `name`,
`reachable_sql`, `unreachable`, `deliver`, optionally `preload` and `offered`) passed to
`register` from its AppConfig.ready, as the Telegram bot does (telegram_bot/channel.py): this app
imports no feature app. Everything else (the Channel choice, preferences, the settings page's
column, delivery records, retries) follows from the entry.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from .email import send_all
from .models import Channel, Delivery, DeliveryStatus, Notification
from .outcomes import Outcome


class InApp:
    name = Channel.IN_APP
    # everyone with an account can be told in the app
    reachable_sql = "TRUE"

    def unreachable(self, user, suppressed: set[str]) -> str:
        return ""

    def deliver(self, items: list, now: datetime) -> list[Outcome]:
        """The inbox rows and the deliveries' state in one transaction: a crash before the commit
        leaves neither, and a second run finds the row (one per delivery) and adds nothing."""
        rows = [Notification(recipient_id=d.recipient_id, kind=d.kind, title=m.title, text=m.text, url=m.url,
                             event_id=d.event_id, delivery=d) for d, m in items]
        with transaction.atomic():
            Notification.objects.bulk_create(rows, ignore_conflicts=True)
            Delivery.objects.filter(pk__in=[d.pk for d, _ in items]).update(
                status=DeliveryStatus.SENT, sent_at=now, claimed_until=None, last_error="", updated_at=now)
        return [Outcome(d, "sent", recorded=True) for d, _ in items]


class Email:
    name = Channel.EMAIL
    # an address, and not one that bounced or complained (kept lower-case by the webhook)
    reachable_sql = ("u.email <> '' AND NOT EXISTS (SELECT 1 FROM notifications_suppressedaddress x "
                     "WHERE lower(x.email) = lower(u.email))")

    def unreachable(self, user, suppressed: set[str]) -> str:
        if not user.email:
            return "no email address"
        if user.email.lower() in suppressed:
            return "email to this address is stopped (it bounced or was marked as spam)"
        return ""

    def deliver(self, items: list, now: datetime) -> list[Outcome]:
        return send_all(items, now)


CHANNELS: dict[str, object] = {channel.name: channel for channel in (InApp(), Email())}


def register(channel) -> None:
    """Add a channel from the app that owns it (its AppConfig.ready), so this app imports no feature
    app: the Telegram bot registers telegram_bot.channel.Telegram. Registering a name again replaces
    its entry; the order of registration is the order of the settings page's columns."""
    CHANNELS[channel.name] = channel
