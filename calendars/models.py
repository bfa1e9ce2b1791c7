"""A person's private calendar feed: one secret URL per tutor or parent, revocable and regenerable."""

import secrets

from django.conf import settings
from django.db import models


def new_token() -> str:
    """256 random bits, URL-safe: the feed's only credential (calendar apps cannot sign in)."""
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """The feed of `user`: its URL carries `token`. Revoking deletes the row (the old URL then 404s);
    regenerating replaces the token."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"
