"""People and courses every app shares: users with roles and a time zone, guardianship, courses,
enrollments, tutor-student matches, lesson packages."""

import zoneinfo
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import models as auth_models
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from .prepared import Get


class Role(models.TextChoices):
    PARENT = "parent", "Parent"
    TUTOR = "tutor", "Tutor"
    STUDENT = "student", "Student"
    CREATOR = "creator", "Creator"
    COORDINATOR = "coordinator", "Coordinator"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (use a name like Europe/Berlin).")


class UserManager(auth_models.UserManager):
    def get(self, *args, **kwargs):
        """`User.objects.get(pk=<int>)`, the query of every signed-in request (Django's
        ModelBackend.get_user), runs the SQL the ORM builds for it prepared once per process
        (tutoring/prepared.py); every other get(), a related manager's among them, is the ORM's, and
        so is a migration's historical User (the manager is used in migrations: a prepared get
        there would answer with today's User and read today's columns)."""
        if (not args and kwargs.keys() == {"pk"} and type(kwargs["pk"]) is int and type(self) is UserManager
                and self.model is User):
            return user_by_id(kwargs["pk"], using=self.db)
        return super().get(*args, **kwargs)


class User(AbstractUser):
    """A person. One person may hold several roles (a tutor who is also a parent, say)."""

    name = models.CharField(max_length=150)
    avatar_url = models.URLField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    roles = ArrayField(models.CharField(max_length=16, choices=Role.choices), default=list, blank=True)

    objects = UserManager()

    class Meta:
        indexes = [
            GinIndex(fields=["roles"], name="user_roles_gin"),
            # name__icontains (the creator's student search, people lookups) runs
            # UPPER(name) LIKE UPPER('%...%'): a trigram index on that expression answers it, and
            # its statistics let the planner tell a rare name from a common one
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="user_name_trgm"),
        ]

    def __str__(self) -> str:
        return self.name or self.username

    def save(self, *args, **kwargs):
        if not self.name:
            self.name = self.get_full_name() or self.username
        super().save(*args, **kwargs)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_coordinator(self) -> bool:
        """Coordinators run operations; a superuser can do all a coordinator can."""
        return Role.COORDINATOR in self.roles or self.is_superuser

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def end_of_local_day(self, moment: datetime) -> datetime:
        """The first instant of the next calendar day in this user's zone (DST-correct)."""
        local = moment.astimezone(self.tzinfo)
        next_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.tzinfo)
        return next_day

    def local_day_bounds(self, moment: datetime) -> tuple[datetime, datetime]:
        """The first instant of `moment`'s calendar day in this user's zone, and of the next (DST-correct)."""
        start = datetime.combine(moment.astimezone(self.tzinfo).date(), time(0), tzinfo=self.tzinfo)
        return start, self.end_of_local_day(moment)


user_by_id = Get(lambda pk: User._base_manager.filter(pk=pk), (-1,), (-2,))


class Guardianship(models.Model):
    """A parent (guardian) of a student; a parent sees all of their children's sessions."""

    parent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="guardianships")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="guardian_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["parent", "student"], name="guardianship_unique"),
            models.CheckConstraint(condition=~Q(parent=models.F("student")), name="guardianship_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.parent} → {self.student}"


class Course(models.Model):
    creator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="courses")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.title


class Enrollment(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["course", "student"], name="enrollment_unique")]

    def __str__(self) -> str:
        return f"{self.student} in {self.course}"


class MatchState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACCEPTED = "accepted", "Accepted"
    ENDED = "ended", "Ended"


class Match(models.Model):
    """A tutor paired with a student. A coordinator proposes it, then accepts it with a weekly
    pattern (desk/patterns.py creates the sessions); tutors may log ad-hoc sessions only for
    students they are matched with (active)."""

    tutor = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tutor_matches")
    student = models.ForeignKey(User, on_delete=models.CASCADE, related_name="student_matches")
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.SET_NULL, related_name="matches")
    # a match made before acceptance had a state (and every one made outside the admin) is accepted
    state = models.CharField(max_length=16, choices=MatchState.choices, default=MatchState.ACCEPTED)
    accepted_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "matches"
        constraints = [models.UniqueConstraint(fields=["tutor", "student", "course"], name="match_unique",
                                               nulls_distinct=False)]

    def __str__(self) -> str:
        return f"{self.tutor} teaches {self.student}"


class LessonPackage(models.Model):
    """Prepaid lesson credits of one student. The ledger is PackageDeduction (one row per approved
    session, unique per session); remaining = credits - deductions."""

    student = models.ForeignKey(User, on_delete=models.PROTECT, related_name="packages")
    course = models.ForeignKey(Course, null=True, blank=True, on_delete=models.PROTECT, related_name="packages",
                               help_text="Empty: valid for any course.")
    credits = models.PositiveIntegerField()
    expires_on = models.DateField(help_text="Last day a session may be deducted from this package.")
    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True,
                                validators=[MinValueValidator(Decimal("0"))],
                                help_text="What the whole package cost (empty: not priced). A cancellation "
                                          "charge is then also shown as an amount.")
    currency = models.CharField(max_length=3, blank=True, default="EUR",
                                validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO code, e.g. EUR.")],
                                help_text="ISO 4217 code of the price, e.g. EUR.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["student", "expires_on"], name="package_student_expiry")]
        constraints = [
            models.CheckConstraint(condition=Q(credits__gt=0), name="package_credits_positive"),
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gte=0), name="package_price_not_negative"),
        ]

    @property
    def credit_price(self) -> Decimal | None:
        """The price of one lesson credit, where the package has a price."""
        return None if self.price is None else self.price / self.credits

    def __str__(self) -> str:
        return f"{self.credits} lessons for {self.student} until {self.expires_on}"
