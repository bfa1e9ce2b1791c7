"""Direct messages between two people: one conversation per unordered pair, messages in it.

The pair is stored in a canonical order (user_low has the smaller id), so "Pat and Tia" and
"Tia and Pat" are the same row; the database refuses a second row for a pair and a pair of one.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

MAX_BODY = 5_000


class Conversation(models.Model):
    """Two participants. Deleting a person deletes their conversations (their personal data);
    people are normally deactivated, not deleted."""

    user_low = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                 db_index=False)  # the pair's unique index starts with user_low
    user_high = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                  db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    # the time of the last message (or of the start): the inbox is ordered by it
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(user_low__lt=F("user_high")), name="conversation_low_lt_high"),
            models.UniqueConstraint(fields=["user_low", "user_high"], name="conversation_pair_unique"),
        ]
        indexes = [
            models.Index(fields=["user_low", "-updated_at"], name="conversation_low_inbox"),
            models.Index(fields=["user_high", "-updated_at"], name="conversation_high_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.user_low} and {self.user_high}"

    @property
    def participant_ids(self) -> tuple[int, int]:
        return (self.user_low_id, self.user_high_id)

    def other(self, user):
        """The participant who is not `user`."""
        return self.user_high if self.user_low_id == user.id else self.user_low


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages",
                                     db_index=False)  # message_thread serves it
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    body = models.TextField(max_length=MAX_BODY)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="message_thread"),
            # unread counts and marking read touch only the unread rows
            models.Index(fields=["conversation", "sender"], condition=Q(read_at__isnull=True),
                         name="message_unread"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(body=""), name="message_body_not_empty"),
            models.CheckConstraint(condition=Q(LessThanOrEqual(Length("body"), MAX_BODY)),
                                   name="message_body_max_length"),
        ]

    def __str__(self) -> str:
        return f"{self.sender}: {self.body[:50]}"
