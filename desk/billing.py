"""Packages and billing (issue 17 item 5): each student's statement (packages with credits, expiry
and the deduction ledger, add-on sessions totalled separately: spec 004 L30), the invoicing CSV
of a period (approved sessions, add-ons and cancellation penalties, in the viewer's zone), and the
low-balance alert, sent once per package to the student's parents and the coordinators."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications.outbox import notify
from sessions import projections
from sessions.models import PackageDeduction, Session, SessionEvent, Status
from sessions.selectors import remaining, used_credits
from tutoring.models import Guardianship, LessonPackage, Role, User

from .models import LowBalanceAlert
from .queues import low_packages, nearly_used_up


def low_balance_threshold() -> int:
    """Credits left at which the alert goes (LOW_BALANCE_CREDITS; the desk's "nearly used up")."""
    return nearly_used_up()


# --- a student's statement --------------------------------------------------------------------


@dataclass
class PackageLine:
    package: LessonPackage
    used: int
    deductions: list

    @property
    def remaining(self) -> int:
        return remaining(self.package.credits, self.used)


def statement(student: User) -> dict:
    """Packages (newest expiry first) with their ledgers, and the add-on sessions apart: four queries."""
    packages = list(LessonPackage.objects.filter(student=student).select_related("course")
                    .order_by("-expires_on", "-id"))
    rows = list(PackageDeduction.objects.filter(package__in=packages).select_related("session")
                .order_by("-created_at", "-id"))
    lines = []
    for package in packages:
        ledger = [r for r in rows if r.package_id == package.pk]
        lines.append(PackageLine(package, sum(r.credits for r in ledger), ledger))
    addons = list(Session.objects.filter(student=student, billed_as_addon=True).select_related("tutor", "course")
                  .order_by("-scheduled_start", "-pk"))
    approved_addons = [s for s in addons if s.status == Status.APPROVED]
    return {"packages": lines, "addons": addons, "addons_approved": len(approved_addons),
            "addons_minutes": sum(int(s.duration.total_seconds() // 60) for s in approved_addons)}


# --- the invoicing export ---------------------------------------------------------------------


def period_bounds(first: date, last: date, tz) -> tuple[datetime, datetime]:
    """From the start of `first` to the end of `last`, in the viewer's zone."""
    return (datetime.combine(first, time(0), tzinfo=tz),
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))


HEADER = ["type", "session", "date", "start", "minutes", "student", "tutor", "course", "package", "credits",
          "amount", "currency", "note"]


def _amount(package: LessonPackage | None, credits: Decimal) -> str:
    if package is None or package.credit_price is None:
        return ""
    return f"{(package.credit_price * credits).quantize(Decimal('0.01'))}"


def export_rows(first: date, last: date, tz):
    """The rows of the period (fixed number of queries): approved sessions (a package's credit or
    none), add-ons, and cancellations that carried a penalty; then a total per type."""
    start, end = period_bounds(first, last, tz)
    sessions = list(Session.objects.filter(status=Status.APPROVED, scheduled_start__gte=start,
                                           scheduled_start__lt=end)
                    .select_related("student", "tutor", "course", "deduction__package")
                    .order_by("scheduled_start", "pk"))
    cancels = list(SessionEvent.objects.filter(kind="cancel", created_at__gte=start, created_at__lt=end)
                   .filter(Q(data__charge_percent__gt=0) | Q(data__has_key="penalty"))
                   .select_related("session__student", "session__tutor", "session__course")
                   .order_by("created_at", "pk"))
    cancels = [e for e in cancels if projections.penalty_charged(e.data or {})]  # "No charge" is none
    waived = set(SessionEvent.objects.filter(kind="penalty_waived", session_id__in=[e.session_id for e in cancels])
                 .values_list("session_id", flat=True))
    totals = {"session": [0, Decimal(0)], "add-on": [0, Decimal(0)], "penalty": [0, Decimal(0)]}
    yield HEADER
    for s in sessions:
        local = s.scheduled_start.astimezone(tz)
        minutes = int(s.duration.total_seconds() // 60)
        deduction = getattr(s, "deduction", None)
        kind = "add-on" if s.billed_as_addon else "session"
        package = deduction.package if deduction else None
        credits = Decimal(deduction.credits) if deduction else Decimal(0)
        note = ("trial" if s.is_trial else "imported" if s.source != "native" else
                "" if deduction or s.billed_as_addon else "no package credit")
        totals[kind][0] += 1
        totals[kind][1] += credits
        yield [kind, s.pk, local.date().isoformat(), local.strftime("%H:%M"), minutes, s.student.name,
               s.tutor.name, s.course.title if s.course else "", package.pk if package else "",
               f"{credits.normalize():f}", _amount(package, credits), package.currency if package else "", note]
    packages = LessonPackage.objects.in_bulk({(e.data or {}).get("cost_package_id") for e in cancels} - {None})
    for e in cancels:
        s, d = e.session, e.data or {}
        local = s.scheduled_start.astimezone(tz)  # the lesson's own day and time, as the session rows
        cancelled = e.created_at.astimezone(tz)
        package = packages.get(d.get("cost_package_id"))
        waiver = e.session_id in waived  # a coordinator waived it (lifecycle.waive_penalty): owed nothing
        credits = Decimal(0) if waiver else Decimal(d.get("cost_credits") or 0)
        totals["penalty"][0] += 1
        totals["penalty"][1] += credits
        yield ["penalty", s.pk, local.date().isoformat(), local.strftime("%H:%M"),
               int(s.duration.total_seconds() // 60), s.student.name, s.tutor.name, s.course.title if s.course else "",
               package.pk if package else "", f"{credits.normalize():f}", _amount(package, credits),
               package.currency if package else "",
               f"{d.get('penalty', '')} ({d.get('role', '')} cancelled {cancelled:%Y-%m-%d %H:%M}"
               f"{', waived' if waiver else ''})".strip()]
    plurals = {"session": "sessions", "add-on": "add-ons", "penalty": "penalties"}
    for kind, (count, credits) in totals.items():
        yield [f"total {plurals[kind]}", count, "", "", "", "", "", "", "", f"{credits.normalize():f}", "", "", ""]


# --- the low-balance alert --------------------------------------------------------------------


def alert_low_balance(package_id: int, *, now: datetime | None = None) -> bool:
    """Tell the student's parents and the coordinators that the package is nearly used up, once:
    the LowBalanceAlert row is unique per package, so a second trigger (or two at once: the second
    insert waits for the first to commit, then fails) sends nothing. True when this call sent it."""
    now = now or timezone.now()
    with transaction.atomic():
        package = LessonPackage.objects.select_related("student").filter(pk=package_id).first()
        if package is None:
            return False
        left = remaining(package.credits, used_credits(package))
        today = now.astimezone(package.student.tzinfo).date()
        if left > low_balance_threshold() or package.expires_on < today:
            return False
        try:
            with transaction.atomic():
                LowBalanceAlert.objects.create(package=package, remaining=left, sent_at=now)
        except IntegrityError:
            return False
        student = package.student
        data = {"student": student.name, "remaining": left, "credits": package.credits,
                "expires_on": package.expires_on.isoformat(), "package_id": package.pk,
                "url": reverse("admin:tutoring_lessonpackage_change", args=[package.pk])}
        parents = User.objects.filter(pk__in=Guardianship.objects.filter(student=student).values("parent_id"))
        coordinators = User.objects.filter(roles__contains=[Role.COORDINATOR], is_active=True)
        source = f"low_balance:{package.pk}"
        notify(list(parents), kind="low_balance", source=source, data=data, now=now)
        notify(list(coordinators), kind="low_balance_desk", source=source, data=data, now=now)
        return True


SWEEP_LOOKBACK = timedelta(days=1)


def sweep_low_balances(*, now: datetime | None = None) -> int:
    """Beat's catch-up for a lost publish: valid packages at or under the threshold without an alert
    yet, among those with a deduction in the last day (history replayed by the demo seed, or
    packages that ran low before this alert existed, stay quiet)."""
    now = now or timezone.now()
    threshold = low_balance_threshold()
    recent = PackageDeduction.objects.filter(created_at__gte=now - SWEEP_LOOKBACK).values("package_id")
    candidates = (low_packages(now.date() - timedelta(days=1), threshold=threshold)
                  .filter(low_balance_alert__isnull=True, pk__in=recent).values_list("pk", flat=True)[:500])
    return sum(alert_low_balance(pk, now=now) for pk in list(candidates))
