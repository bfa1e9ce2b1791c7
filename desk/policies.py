"""The history of the penalty sheet (CancellationPolicy) and the reason lists (ChangeReason): the
admin records each add, change and delete with who did it and the row before and after, in the same
transaction as the change. The guidance people see is read from the sheet as it is now
(lifecycle.cancellation_guidance), so an edit applies to the next cancel panel at once."""

from django.db import models
from django.utils import timezone

from .models import PolicyChange

SKIPPED = ("id", "updated_at")


def snapshot(obj: models.Model) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.attname not in SKIPPED}


def record_change(*, by, obj: models.Model, before: dict, after: dict, action: str) -> PolicyChange | None:
    """One history row; an edit that changed nothing writes none."""
    if action == "changed" and before == after:
        return None
    return PolicyChange.objects.create(
        table=obj._meta.verbose_name, object_id=obj.pk, object_repr=str(obj)[:200], action=action,
        before=before, after=after, changed_by=by, changed_at=timezone.now())


def history_of(model: type[models.Model], object_id: int):
    return (PolicyChange.objects.filter(table=model._meta.verbose_name, object_id=object_id)
            .select_related("changed_by").order_by("-changed_at", "-id"))
