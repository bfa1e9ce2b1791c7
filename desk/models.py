"""The desk's records: sessions imported from before the platform (by the id they had in the old
system), disputes as a queue (a proxy), the history of the penalty sheet and the reason lists, the
weekly patterns of accepted matches with the sessions they made, and the low-balance alerts sent."""

import zoneinfo

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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
class WeeklyPattern(models.Model):
    """How an accepted match meets (issue 17 item 2): on these weekdays at this local start time in
    the tutor's zone (kept across DST changes), for this long, from `starts_on` for `weeks` weeks
    or, without a number of weeks, until the student's package credits are planned. Its sessions
    are linked by PatternSession; desk/patterns.py is the one writer."""

    match = models.OneToOneField("tutoring.Match", on_delete=models.PROTECT, related_name="pattern")
    weekdays = ArrayField(models.PositiveSmallIntegerField(), help_text="0 = Monday … 6 = Sunday.")
    start_time = models.TimeField(help_text="Local start time in the tutor's time zone.")
    minutes = models.PositiveSmallIntegerField(help_text="Length of each session in minutes.")
    time_zone = models.CharField(max_length=64, help_text="The tutor's zone when the pattern was set.")
    starts_on = models.DateField()
    weeks = models.PositiveSmallIntegerField(null=True, blank=True,
                                             help_text="Empty: until the package's credits are planned.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(minutes__gt=0), name="pattern_minutes_positive"),
            models.CheckConstraint(condition=models.Q(weeks__isnull=True) | models.Q(weeks__gt=0),
                                   name="pattern_weeks_positive"),
        ]

    def __str__(self) -> str:
        return f"Weekly pattern of {self.match}"

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class PatternSession(models.Model):
    """A session that a weekly pattern created (and may still move or withdraw while untouched)."""

    pattern = models.ForeignKey(WeeklyPattern, on_delete=models.PROTECT, related_name="links")
    session = models.OneToOneField("tutoring_sessions.Session", on_delete=models.PROTECT, related_name="pattern_link")

    def __str__(self) -> str:
        return f"session {self.session_id} of pattern {self.pattern_id}"


class LowBalanceAlert(models.Model):
    """A package reached the low-balance threshold and its parents and the coordinators were told:
    one row per package (unique), so the alert goes once however often it is triggered."""

    package = models.OneToOneField("tutoring.LessonPackage", on_delete=models.PROTECT, related_name="low_balance_alert")
    remaining = models.IntegerField(help_text="Credits left when the alert was sent.")
    sent_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"low balance of package {self.package_id}"
