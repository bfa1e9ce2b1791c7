"""What the platform tells people, and the record of every attempt to tell them.

A `Delivery` is one message to one person over one channel (in-app, email, Telegram), written
before anything is sent, with its own status, attempts and last error: an email that fails is
retried on its own and never repeats the in-app notice. Its `source` names what it is about
("event:123", "reminder_1h:45:1795000000", "message:9"), and (source, recipient, channel) is
unique, so a retried, duplicated or concurrent relay or sweep never delivers twice.

The in-app channel's output is a `Notification` (the inbox row); the email channel's goes through
Django's mail API (Resend, or `KeptEmail` rows when mail is kept locally).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class Channel(models.TextChoices):
    """Every channel a delivery may use. `channels.CHANNELS` holds the ones that can send now
    (a feature app registers its own, as telegram_bot does from its AppConfig.ready)."""

    IN_APP = "in_app", "In the app"
    EMAIL = "email", "Email"
    TELEGRAM = "telegram", "Telegram"


class Topic(models.TextChoices):
    """What people choose to hear about, per channel (their preferences)."""

    REMINDERS = "reminders", "Session reminders (24 hours, 1 hour and 15 minutes before)"
    SESSIONS = "sessions", "New sessions, and extra sessions a tutor logged"
    CHANGES = "changes", "Reschedule requests, answers and cancellations"
    APPROVALS = "approvals", "Acknowledgements, disputes, decisions and no-shows"
    NOTES = "notes", "Tutor notes and their summaries"
    MESSAGES = "messages", "Messages from people you work with"
    ACCOUNT = "account", "Your account (problems delivering your email)"
    OPERATIONS = "operations", "Operations alerts for coordinators (a video provider refusing our credentials)"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"


class EmailBatch(models.Model):
    """One request to the email provider, formed once and kept: the emails exactly as sent (JSON, in
    order) and the Idempotency-Key they went with. A delivery that was in it is retried by sending
    this same request again, never by joining another batch: Resend answers a repeat of a key it
    has seen (same key, same body, within 24 hours) with its first answer and sends nothing, and a
    batch whose members changed would carry another key and go out twice."""

    key = models.CharField(max_length=100, unique=True, help_text="The Idempotency-Key of the request.")
    payload = models.TextField(help_text="The emails as sent: a JSON array, in order.")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "email batches"

    def __str__(self) -> str:
        return self.key


class Delivery(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries",
                                  db_index=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=40)
    source = models.CharField(max_length=100, help_text="What it is about; unique with recipient and channel.")
    session = models.ForeignKey("tutoring_sessions.Session", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+", db_index=False)
    event = models.ForeignKey("tutoring_sessions.SessionEvent", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+", db_index=False)
    due_for = models.DateTimeField(null=True, blank=True,
                                   help_text="Reminders: the start they are for. Nudges: when the wait began.")
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=100, blank=True, help_text="Resend's email id, for its webhooks.")
    email_batch = models.ForeignKey(EmailBatch, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="deliveries", db_index=False,
                                    help_text="The provider request this email went in (retries repeat it).")
    email_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Its place in that request.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["source", "recipient", "channel"], name="delivery_once"),
        ]
        indexes = [
            # the dispatcher's claim: due work only
            models.Index(fields=["next_attempt_at"], condition=Q(status__in=["pending", "sending"]),
                         name="delivery_due"),
            models.Index(fields=["recipient", "-id"], name="delivery_recipient"),
            models.Index(fields=["event"], condition=Q(event__isnull=False), name="delivery_event"),
            models.Index(fields=["provider_id"], condition=~Q(provider_id=""), name="delivery_provider_id"),
            models.Index(fields=["-updated_at"], condition=Q(status="failed"), name="delivery_failed"),
            models.Index(fields=["email_batch"], condition=Q(email_batch__isnull=False), name="delivery_email_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient_id} by {self.channel} ({self.status})"


class Notification(models.Model):
    """The in-app inbox row: what the in-app channel delivered (one per in-app delivery)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    url = models.CharField(max_length=300, blank=True)
    event_id = models.BigIntegerField(null=True, blank=True)
    delivery = models.OneToOneField(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            # the bell's unread count
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]
        constraints = [
            # one notification per (event, recipient): a retried task never notifies twice
            models.UniqueConstraint(fields=["event_id", "recipient"], name="notification_once_per_event"),
        ]

    def __str__(self) -> str:
        return self.title or self.text[:80]


class Preference(models.Model):
    """A person's choice for one topic on one channel. No row: the default (on)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=16, choices=Topic.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "topic", "channel"], name="preference_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.topic} {self.channel}: {'on' if self.enabled else 'off'}"


class SuppressionReason(models.TextChoices):
    BOUNCE = "bounce", "Bounced"
    COMPLAINT = "complaint", "Marked as spam"
    SUPPRESSED = "suppressed", "Suppressed by the email provider"


class SuppressedAddress(models.Model):
    """An address no email goes to any more: it bounced for good or its owner marked our mail as
    spam (Resend's webhooks). Deleting the row (the person's "try email again") lifts it."""

    email = models.EmailField(max_length=254)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "suppressed addresses"
        constraints = [models.UniqueConstraint(Lower("email"), name="suppressed_address_once")]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_reason_display()})"


class KeptEmail(models.Model):
    """An email kept in the database instead of sent (development without RESEND_API_KEY); the
    development outbox page shows them."""

    to = models.JSONField(default=list)
    from_email = models.CharField(max_length=300)
    subject = models.CharField(max_length=998)
    text = models.TextField()
    html = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.subject} → {', '.join(self.to)}"


class WebhookReceipt(models.Model):
    """A Resend webhook message handled once: Svix sends a message again (same svix-id) until it
    gets a 2xx, and a replay must change nothing."""

    message_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=60)
    received_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.type} {self.message_id}"
