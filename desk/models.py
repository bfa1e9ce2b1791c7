"""Sessions imported from before the platform, by the id they had in the old system."""

from django.conf import settings
from django.db import models


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
