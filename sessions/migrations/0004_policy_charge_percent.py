"""Cancellation bands get a structured charge (a share of one lesson, 0–100), read from the
existing rows' free-text penalty where it is recognisable: "No charge"/"No penalty"/"Free" → 0,
"50% of the lesson" → 50, "Full lesson" → 100, "Half …" → 50. Anything else (e.g. a tutor's
"Reliability strike") stays 0: it is a penalty, but not a cost to the student's package."""

import re

import django.core.validators
from django.db import migrations, models


def percent_from_text(text: str) -> int:
    """The share of a lesson a free-text penalty names, or 0 when it names none (kept here, not
    imported, so the migration stays as it was written)."""
    text = text.strip().lower()
    match = re.search(r"(\d{1,3})\s*%", text)
    if match:
        return min(int(match.group(1)), 100)
    if text.startswith(("full", "whole", "one lesson", "1 lesson", "the lesson")):
        return 100
    if text.startswith("half"):
        return 50
    return 0


def fill(apps, schema_editor):
    Policy = apps.get_model("tutoring_sessions", "CancellationPolicy")
    for policy in Policy.objects.all():
        percent = percent_from_text(policy.penalty)
        if percent:
            Policy.objects.filter(pk=policy.pk).update(charge_percent=percent)


class Migration(migrations.Migration):

    dependencies = [
        ('tutoring_sessions', '0003_event_outbox'),
    ]

    operations = [
        migrations.AddField(
            model_name='cancellationpolicy',
            name='charge_percent',
            field=models.PositiveSmallIntegerField(default=0, help_text="Share of one lesson charged, 0–100: shown as credits of the student's package (and an amount where the package has a price). 0: no charge to the package.", validators=[django.core.validators.MaxValueValidator(100)]),
        ),
        migrations.AddConstraint(
            model_name='cancellationpolicy',
            constraint=models.CheckConstraint(condition=models.Q(('charge_percent__lte', 100)), name='policy_charge_percent_max'),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
