"""The desk's records: sessions imported from before the platform, disputes as a queue (a proxy), and
the history of the penalty sheet and the reason lists."""

from django.conf import settings
from django.db import models

from sessions.models import Session


class ImportedSession(models.Model):
    """One imported row: `external_id` (the old system's id) is the natural key that makes a second
    import of the same file add nothing."""

    external_id = models.CharField(max_length=100, unique=True)
    session = models.OneToOneField("tutoring_sessions.Session", on_delete=models.PROTECT, related_name="import_record")
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "imported session"

    def __str__(self) -> str:
        return f"{self.external_id} → session {self.session_id}"



class Dispute(Session):
    """A disputed session as the desk's dispute queue shows it (no table of its own): its page
    gathers what a coordinator needs to decide it (desk/disputes.py)."""

    class Meta:
        proxy = True
        verbose_name = "dispute"


class PolicyChange(models.Model):
    """The history of the penalty sheet and the reason lists: who changed which row, when, from
    what to what (`before` / `after` are the row's fields; empty when it was added or deleted)."""

    table = models.CharField(max_length=60)  # "cancellation policy" or "change reason"
    object_id = models.PositiveIntegerField()
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=16)  # added, changed, deleted
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = "policy change"
        indexes = [models.Index(fields=["table", "object_id", "changed_at"], name="policy_change_row")]

    def __str__(self) -> str:
        return f"{self.object_repr} {self.action}"
