"""The tutoring session and everything attached to it.

Only the sessions/lifecycle/ package changes Session.status (and the slot, attendance and thread states);
see docs/lifecycle.md for the state machine as built.
"""

import re

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Func, Q
from django.utils import timezone



def local_moment(moment) -> str:
    """A time in the active zone (the viewer's: tutoring.middleware activates it for every request),
    named: the admin's titles, breadcrumbs and history show objects by their str()."""
    if moment is None:
        return "-"
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M} ({timezone.get_current_timezone_name()})"

class Status(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKED_IN = "checked_in", "Checked in"
    AWAITING_APPROVAL_PARENT = "awaiting_approval_parent", "Awaiting parent acknowledgement"
    APPROVED = "approved", "Approved"
    DISPUTED = "disputed", "Disputed"
    CANCELLED_BY_TUTOR = "cancelled_by_tutor", "Cancelled by tutor"
    CANCELLED_BY_PARENT = "cancelled_by_parent", "Cancelled by parent"
    NOT_COMPLETED = "not_completed", "Not completed"
    # Extension of spec 004 (see DESIGN.md): the student or the tutor did not attend.
    NO_SHOW = "no_show", "No-show"


# Statuses in which the session occupies the tutor's calendar: no two may overlap (DB-enforced).
OCCUPYING_STATUSES = (
    Status.SCHEDULED,
    Status.CHECKED_IN,
    Status.AWAITING_APPROVAL_PARENT,
    Status.APPROVED,
    Status.DISPUTED,
)
# The room can be entered and the session is still to happen or under way: scheduled or checked in.
LIVE = (Status.SCHEDULED, Status.CHECKED_IN)
# The session took place (or was meant to) and is closed: checked out and beyond.
CLOSED = (Status.AWAITING_APPROVAL_PARENT, Status.APPROVED, Status.DISPUTED)
CANCELLED = (Status.CANCELLED_BY_TUTOR, Status.CANCELLED_BY_PARENT)
# The session did not take place: cancelled, or not completed (an expired reschedule, a voided dispute).
DID_NOT_TAKE_PLACE = (*CANCELLED, Status.NOT_COMPLETED)


class Source(models.TextChoices):
    NATIVE = "native", "Native"
    IMPORTED = "imported", "Imported"
    LEGACY = "legacy", "Legacy"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    TELEGRAM = "telegram", "Telegram"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class Party(models.TextChoices):
    PARENT = "parent", "Parent"
    TUTOR = "tutor", "Tutor"


def counterparty(party: str) -> Party:
    """The other side of a change: the parent answers the tutor, the tutor answers the parent."""
    return Party.PARENT if party == Party.TUTOR else Party.TUTOR


class NoShowParty(models.TextChoices):
    STUDENT = "student", "Student did not attend"
    TUTOR = "tutor", "Tutor did not check in"


class VideoProvider(models.TextChoices):
    P2P = "p2p", "Built-in P2P room"
    PLUGNMEET = "plugnmeet", "PlugNmeet"
    BBB = "bbb", "BigBlueButton"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Session(models.Model):
    # No single-column FK indexes: the (fk, scheduled_start) indexes below serve those lookups,
    # and every index is one more write per status change (the sweeps change 100,000s at once).
    tutor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tutor_sessions",
                              db_index=False)
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="student_sessions",
                                db_index=False)
    course = models.ForeignKey("tutoring.Course", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="sessions", db_index=False)
    scheduled_start = models.DateTimeField()
    scheduled_end = models.DateTimeField()
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.SCHEDULED)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    no_show_party = models.CharField(max_length=16, choices=NoShowParty.choices, blank=True)
    is_trial = models.BooleanField(default=False)
    billed_as_addon = models.BooleanField(default=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.NATIVE)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.ForeignKey("ChangeReason", null=True, blank=True, on_delete=models.PROTECT,
                                            related_name="+", db_index=False)
    # video room (spec 002): provider, its room id and the meeting URL it hands out
    video_provider = models.CharField(max_length=16, choices=VideoProvider.choices, default=VideoProvider.P2P)
    video_room_id = models.CharField(max_length=100, blank=True)
    meeting_url = models.URLField(max_length=500, blank=True)
    # set by the lifecycle from its injected `now` (auto_now would overwrite it with the wall clock)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["tutor", "scheduled_start"], name="session_tutor_start"),
            models.Index(fields=["student", "scheduled_start"], name="session_student_start"),
            # a creator's history searched by student: each (student, course)'s newest rows, read
            # in order from the index alone (creators.selectors.history_rows), the status and tutor
            # filters tested there too
            models.Index(fields=["student", "course", "scheduled_start", "id"], include=["status", "tutor"],
                         name="session_pair_newest"),
            models.Index(fields=["course", "scheduled_start"], name="session_course_start"),
            models.Index(fields=["scheduled_start", "id"], name="session_start_id"),
            models.Index(fields=["status", "scheduled_start"], name="session_status_start"),
            # the no-show sweep reads only scheduled sessions that have started
            models.Index(fields=["scheduled_start"], condition=Q(status="scheduled"), name="session_sched_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(scheduled_end__gt=models.F("scheduled_start")),
                                   name="session_end_after_start"),
            models.CheckConstraint(condition=~Q(tutor=models.F("student")), name="session_tutor_not_student"),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True) | Q(checked_in_at__isnull=False),
                name="session_checkout_after_checkin",
            ),
            ExclusionConstraint(
                name="session_tutor_no_overlap",
                expressions=[
                    ("tutor", RangeOperators.EQUAL),
                    (TsTzRange("scheduled_start", "scheduled_end"), RangeOperators.OVERLAPS),
                ],
                condition=Q(status__in=[s.value for s in OCCUPYING_STATUSES]),
                violation_error_message="The tutor already has a session at that time.",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} ({self.get_status_display()}) {local_moment(self.scheduled_start)}"

    @property
    def duration(self):
        return self.scheduled_end - self.scheduled_start

    @property
    def actual_duration(self):
        if self.checked_in_at and self.checked_out_at:
            return self.checked_out_at - self.checked_in_at
        return None

    @property
    def attendance_exempt(self) -> bool:
        """Imported and legacy sessions need no check-in/out and never deduct credits (spec 004)."""
        return self.source != Source.NATIVE

    @property
    def deducts_credit(self) -> bool:
        return not (self.attendance_exempt or self.billed_as_addon or self.is_trial)


# What each kind of SessionEvent means, in words: the audit trails, the dispute page and the session
# admin show these, never the internal codes (issue 17); sessions.projections re-exports them. A kind
# missing here reads as its words.
EVENT_LABELS = {
    "created": "Scheduled",
    "adhoc_logged": "Ad-hoc session logged",
    "imported": "Imported",
    "pattern_moved": "Moved by the weekly pattern",
    "moved": "Moved by a coordinator",
    "pattern_withdrawn": "Withdrawn by the weekly pattern",
    "check_in": "Checked in",
    "check_out": "Checked out",
    "no_show": "Recorded as a no-show",
    "notes_added": "Notes added",
    "acknowledge": "Acknowledged by the parent",
    "dispute": "Disputed by the parent",
    "verify": "Approved by a coordinator's override",
    "resolve_dispute": "Dispute decided",
    "cancel": "Cancelled",
    "penalty_waived": "Cancellation penalty waived",
    "reschedule_proposed": "New time proposed",
    "reschedule_accepted": "New time accepted",
    "reschedule_rejected": "New time declined",
    "reschedule_countered": "Another time proposed",
    "reschedule_withdrawn": "Reschedule request withdrawn",
    "reschedule_expired": "Reschedule request expired",
    "room_joined": "Joined the session room",
    "room_left": "Left the session room",
    "feedback_submitted": "Feedback given",
    "feedback_changed": "Feedback changed",
    "resources_added": "Resources uploaded",
}


def event_label(kind: str) -> str:
    """"check_in" → "Checked in"; an unknown kind reads as its words ("some_kind" → "Some kind")."""
    return EVENT_LABELS.get(kind) or kind.replace("_", " ").strip().capitalize() or "—"


def status_name(status: str) -> str:
    """A status in the admin's words, its choice label ("awaiting_approval_parent" → "Awaiting parent
    acknowledgement"); empty stays empty."""
    if not status:
        return ""
    return Status(status).label if status in Status.values else status.replace("_", " ").capitalize()


class SessionEvent(models.Model):
    """Append-only audit row for every change of a session (a DB trigger refuses UPDATE/DELETE).
    It is also the outbox: `notified_at` is empty until the notifications relay has turned the
    event into deliveries (the one write the trigger allows, once)."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="events", db_index=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    kind = models.CharField(max_length=40)
    from_status = models.CharField(max_length=32, blank=True)
    to_status = models.CharField(max_length=32, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["session", "id"], name="event_session_id"),
            # the relay reads only the events nobody has been told about yet
            models.Index(fields=["id"], condition=Q(notified_at__isnull=True), name="event_unnotified"),
        ]

    def __str__(self) -> str:
        """In words, as the admin's trail shows it: "Checked in: Scheduled → Checked in"."""
        before, after = status_name(self.from_status) or "-", status_name(self.to_status) or "-"
        return f"{event_label(self.kind)}: {before} → {after}"


class ChangeKind(models.TextChoices):
    CANCEL = "cancel", "Cancel"
    RESCHEDULE = "reschedule", "Reschedule"


class ChangeReason(models.Model):
    """The role-specific reason pickers for cancel and reschedule (coordinator-editable)."""

    role = models.CharField(max_length=16, choices=Party.choices)
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    code = models.SlugField(max_length=60)
    label = models.CharField(max_length=200)
    requires_note = models.BooleanField(default=False, help_text="e.g. 'Other': the user must say more.")
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["role", "kind", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["role", "kind", "code"], name="change_reason_unique")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.kind}: {self.label}"


FREE_PENALTIES = ("no charge", "no penalty", "free", "none", "nothing")
# words that tell people a cancellation costs nothing (a band that charges must not use them)
FREE_WORDS = re.compile(r"\b(free|no charge|no penalty|not charged|without charge|costs nothing)\b", re.I)


class CancellationPolicy(models.Model):
    """The penalty guidance sheet: for a role, cancelling when between min_hours and max_hours
    before the start carries this penalty. Coordinators edit it in the admin."""

    role = models.CharField(max_length=16, choices=Party.choices)
    min_hours_before = models.PositiveIntegerField(help_text="Applies from this many hours before the start…")
    max_hours_before = models.PositiveIntegerField(null=True, blank=True, help_text="…up to this many (empty: no limit).")
    penalty = models.CharField(max_length=200, help_text="Short penalty, e.g. 'No charge' or '50% of the lesson'.")
    charge_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(100)],
        help_text="Share of one lesson charged, 0–100: shown as credits of the student's package (and an "
                  "amount where the package has a price). 0: no charge to the package.")
    guidance = models.TextField(help_text="What the person cancelling is told before confirming.")
    applies_to_trials = models.BooleanField(
        default=True, verbose_name="applies to trial sessions",
        help_text="Off: cancelling a trial session in this window carries no penalty (a trial exception).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "cancellation policies"
        ordering = ["role", "min_hours_before"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_hours_before__isnull=True) | Q(max_hours_before__gt=models.F("min_hours_before")),
                name="policy_band_ordered",
            ),
            models.UniqueConstraint(fields=["role", "min_hours_before"], name="policy_band_unique"),
            models.CheckConstraint(condition=Q(charge_percent__lte=100), name="policy_charge_percent_max"),
        ]

    def clean(self):
        """The words must not contradict the number people are charged (issue 17 item 4): a percent
        written in the penalty or the guidance is the band's charge_percent, and a band that charges
        is not called free ("Free cancellation" with 60% is refused)."""
        super().clean()
        errors = {}
        for field in ("penalty", "guidance"):
            text = getattr(self, field) or ""
            stated = {int(n) for n in re.findall(r"(\d{1,3})\s*%", text)}
            if stated - {self.charge_percent}:
                errors[field] = (f"This says {', '.join(f'{n}%' for n in sorted(stated))} but the charge is "
                                 f"{self.charge_percent}%: make them agree.")
            elif self.charge_percent and FREE_WORDS.search(text):
                errors[field] = ("This says the cancellation is free but the charge is "
                                 f"{self.charge_percent}%: make them agree.")
        if errors:
            raise ValidationError(errors)

    @property
    def charges(self) -> bool:
        """Whether cancelling in this band costs anything (a share of the lesson, or a penalty such
        as a tutor's reliability strike; "No charge", "Free", "None" do not): the coordinator's
        waiver reminder is shown only when it does."""
        return self.charge_percent > 0 or not self.penalty.strip().lower().startswith(FREE_PENALTIES)

    def __str__(self) -> str:
        upper = f"{self.max_hours_before} h" if self.max_hours_before is not None else "∞"
        return f"{self.get_role_display()} {self.min_hours_before}–{upper}: {self.penalty}"


class ThreadStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"
    CLOSED = "closed", "Closed by cancellation"


class ProposalStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    COUNTERED = "countered", "Countered"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"
    CLOSED = "closed", "Closed by cancellation"


class RescheduleThread(models.Model):
    """A negotiation to move one session; its proposals are numbered versions."""

    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="reschedule_threads")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    opened_by_role = models.CharField(max_length=16, choices=Party.choices)
    reason = models.ForeignKey(ChangeReason, on_delete=models.PROTECT, related_name="+", db_index=False)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ThreadStatus.choices, default=ThreadStatus.OPEN)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session"], condition=Q(status="open"), name="one_open_thread_per_session"),
        ]

    def __str__(self) -> str:
        return f"Reschedule of session {self.session_id} ({self.status})"


class RescheduleProposal(models.Model):
    # (thread, version) is unique, which indexes lookups by thread
    thread = models.ForeignKey(RescheduleThread, on_delete=models.PROTECT, related_name="proposals", db_index=False)
    version = models.PositiveSmallIntegerField()
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    db_index=False)
    proposed_by_role = models.CharField(max_length=16, choices=Party.choices)
    proposed_start = models.DateTimeField()
    proposed_end = models.DateTimeField(help_text="Derived by the server: the session's duration is kept.")
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN)
    created_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", db_index=False)
    answer_note = models.TextField(blank=True)

    class Meta:
        ordering = ["thread", "version"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "version"], name="proposal_version_unique"),
            models.UniqueConstraint(fields=["thread"], condition=Q(status="open"), name="one_open_proposal_per_thread"),
            models.CheckConstraint(condition=Q(proposed_end__gt=models.F("proposed_start")),
                                   name="proposal_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {local_moment(self.proposed_start)} ({self.get_status_display()})"


class PackageDeduction(models.Model):
    """The ledger of a LessonPackage: one credit per approved session, never two for one session."""

    package = models.ForeignKey("tutoring.LessonPackage", on_delete=models.PROTECT, related_name="deductions")
    session = models.OneToOneField(Session, on_delete=models.PROTECT, related_name="deduction")
    credits = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.credits} credit for session {self.session_id}"

    @classmethod
    def used_by(cls, packages) -> dict[int, int]:
        """Credits used per package id (one query): the sum of the ledger's rows."""
        rows = (cls.objects.filter(package__in=packages).order_by().values("package_id")
                .annotate(used=models.Sum("credits")).values_list("package_id", "used"))
        return dict(rows)


class AssessmentRole(models.TextChoices):
    STUDENT = "student", "Student"
    TUTOR = "tutor", "Tutor"


class SessionAssessment(models.Model):
    """Feedback on a session: a rating and a comment, by the student and by the tutor (one each)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="assessments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author_role = models.CharField(max_length=16, choices=AssessmentRole.choices)
    rating = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "author_role"], name="assessment_once_per_role"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="assessment_rating_1_5"),
        ]


class ResourceType(models.TextChoices):
    DOCUMENT = "document", "Document"
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"
    LINK = "link", "Link"


class SessionResource(models.Model):
    """Material shared in the session room (spec 002): stored under r2_key on object storage."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="resources")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=ResourceType.choices)
    r2_key = models.CharField(max_length=500, blank=True)
    url = models.URLField(blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class RecordingStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    AVAILABLE = "available", "Available"
    FAILED = "failed", "Failed"


class Recording(models.Model):
    """A recording of the session room, replicated from the video provider to R2."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="recordings")
    provider = models.CharField(max_length=16, choices=VideoProvider.choices)
    provider_recording_id = models.CharField(max_length=200, blank=True)
    r2_key = models.CharField(max_length=500, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RecordingStatus.choices, default=RecordingStatus.PROCESSING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["session"], condition=Q(status="available"), name="recording_available")]
