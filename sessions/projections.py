"""Read-only views of sessions: role-facing labels, outcomes, the guards' context for a viewer
(the actions it allows: sessions/actions.py allowed_in) and what a cancellation costs. Nothing here
writes; time-based changes happen only in the sweeps."""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q

from tutoring.models import LessonPackage

from . import rules, selectors
from .access import Relation, Viewer
from .models import (
    FREE_PENALTIES,
    CancellationPolicy,
    PackageDeduction,
    RescheduleProposal,
    RescheduleThread,
    Session,
    SessionEvent,
    Status,
    event_label,
    status_name,
)

# Labels by status for each audience (spec 004: the UI derives them; the backend status is lowercase).
LABELS = {
    "parent": {
        Status.SCHEDULED: "Scheduled",
        Status.CHECKED_IN: "In progress",
        Status.AWAITING_APPROVAL_PARENT: "Awaiting Your Acknowledgement",
        Status.APPROVED: "Acknowledged",
        Status.DISPUTED: "Disputed: under review",
        Status.CANCELLED_BY_TUTOR: "Cancelled by tutor",
        Status.CANCELLED_BY_PARENT: "Cancelled by you",
        Status.NOT_COMPLETED: "Not Completed",
        Status.NO_SHOW: "No-show",
    },
    "tutor": {
        Status.SCHEDULED: "Scheduled",
        Status.CHECKED_IN: "Checked in",
        Status.AWAITING_APPROVAL_PARENT: "Awaiting acknowledgement",
        Status.APPROVED: "Acknowledged",
        Status.DISPUTED: "Disputed",
        Status.CANCELLED_BY_TUTOR: "Cancelled by you",
        Status.CANCELLED_BY_PARENT: "Cancelled by parent",
        Status.NOT_COMPLETED: "Not Completed",
        Status.NO_SHOW: "No-show",
    },
    "default": {
        Status.SCHEDULED: "Scheduled",
        Status.CHECKED_IN: "In progress",
        Status.AWAITING_APPROVAL_PARENT: "Awaiting parent acknowledgement",
        Status.APPROVED: "Acknowledged",
        Status.DISPUTED: "Disputed",
        Status.CANCELLED_BY_TUTOR: "Cancelled by tutor",
        Status.CANCELLED_BY_PARENT: "Cancelled by parent",
        Status.NOT_COMPLETED: "Not Completed",
        Status.NO_SHOW: "No-show",
    },
}

# Events and statuses in words for the admin and the audit trails (issue 17): event_label and
# status_name, imported above from beside the model (SessionEvent.__str__ reads them too).
EVENT_WORDS = (event_label, status_name)


def audience(rels) -> str:
    """Which label set a viewer reads: their closest relation to the session."""
    if Relation.PARENT in rels:
        return "parent"
    if Relation.TUTOR in rels:
        return "tutor"
    return "default"


def status_label(session: Session, rels) -> str:
    """The audience's label; a session a coordinator approved by override says so (issue 10 item 5)
    when its outcome events were prefetched (selectors.with_outcomes)."""
    if session.status == Status.APPROVED:
        decisive = [e for e in getattr(session, "outcome_events", []) if e.kind in ("verify", "resolve_dispute")]
        if decisive and decisive[-1].kind == "verify":
            return "Approved by coordinator"
        if decisive:
            return "Approved after review"
    return LABELS[audience(rels)][session.status]


def _who(event: SessionEvent, viewer) -> str:
    if event.actor_id is None:
        return "the system"
    if event.actor_id == viewer.id:
        return "you"
    return event.actor.name


def outcomes(session: Session, viewer, *, private: bool = True) -> list[str]:
    """What was decided about this session, each line saying who decided, when (in the viewer's
    zone) and why; `private=False` leaves out disputes (a student reads only cancellations,
    declined new times and no-shows)."""
    lines = []
    tz = viewer.tzinfo
    for e in getattr(session, "outcome_events", []):
        who, on = _who(e, viewer), f"{e.created_at.astimezone(tz):%a %d %b}"
        quoted = f": “{e.reason}”" if e.reason else ""
        if e.kind == "dispute" and private:
            lines.append(f"Disputed by {who} on {on}{quoted}")
        elif e.kind == "resolve_dispute" and private:
            decided = ("voided: the session does not count" if e.data.get("decision") != "approve"
                       else "approved: the session counts, no lesson credit used" if e.data.get("waived")
                       else "approved: the session counts")
            lines.append(f"Dispute {decided}. Decided by {who} on {on}{quoted}")
        elif e.kind == "verify" and private:
            lines.append(f"Approved by a coordinator's override ({who}, {on}){quoted}")
        elif e.kind == "reschedule_rejected":
            start = e.data.get("proposed_start")
            when = (f" for {datetime.fromisoformat(start).astimezone(tz):%a %d %b %H:%M}" if start else "")
            lines.append(f"{who[:1].upper()}{who[1:]} declined the new time{when} on {on}{quoted}")
        elif e.kind == "cancel":
            waived = any(w.kind == "penalty_waived" for w in session.outcome_events)
            charge = charge_text(e.data, waived=waived)
            lines.append(f"Cancelled by {who} on {on} ({e.reason}). Charge: {charge}.")
        elif e.kind == "penalty_waived":
            lines.append(f"Cancellation penalty waived by {who} on {on}{quoted}")
        elif e.kind == "no_show":
            lines.append(f"Recorded as a no-show ({e.data.get('party', '')}) by {who} on {on}{quoted}")
    return lines


def open_thread(session: Session) -> RescheduleThread | None:
    """The session's open thread (selectors.open_thread_and_proposal: from the list's prefetch, else read)."""
    return selectors.open_thread_and_proposal(session)[0]


def open_proposal(thread: RescheduleThread | None) -> RescheduleProposal | None:
    return selectors.open_proposal_in(thread)


def context(session: Session, viewer: Viewer, now: datetime) -> rules.Ctx:
    thread, proposal = selectors.open_thread_and_proposal(session)
    return rules.Ctx(session=session, rels=viewer.relations(session), now=now, open_thread=thread,
                     open_proposal=proposal)


# --- what a cancellation costs (issue 10 item 6) ------------------------------------------------

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def money(amount: Decimal, currency: str) -> str:
    """€20.00, $7.50, or "CZK 1,250.00" for a currency without a symbol here."""
    text = f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}".strip()


def credits_text(credits: Decimal) -> str:
    """1 → "1 credit", 0.5 → "0.5 of a credit"."""
    if credits == 1:
        return "1 credit"
    return f"{credits.normalize():f} of a credit"


def credit_packages(session: Session, *, lock: bool = False) -> tuple[list[LessonPackage], list[LessonPackage]]:
    """The student's packages valid on the session's day (course-specific or any-course), soonest
    expiring first, and those of them with credit left: the one rule for which package pays, read
    by the guidance here and by the approval's deduction (which locks them)."""
    day = session.scheduled_start.astimezone(session.student.tzinfo).date()
    packages = LessonPackage.objects.filter(student_id=session.student_id, expires_on__gte=day).filter(
        Q(course__isnull=True) | Q(course_id=session.course_id)).order_by("expires_on", "id")
    packages = list(packages.select_for_update() if lock else packages)
    used = PackageDeduction.used_by(packages) if packages else {}
    return packages, [p for p in packages if p.credits - used.get(p.id, 0) > 0]


def package_for(session: Session) -> LessonPackage | None:
    """The package this session's credit would come from: the one approval deducts from, else the
    student's soonest valid one."""
    packages, with_credit = credit_packages(session)
    return (with_credit or packages or [None])[0]


# The sheet's charges are guidance (spec 004 L37: "penalty guidance"; only approval deducts a
# credit): the words say the charge is invoiced and never that a credit is taken from the package.
NOT_DEDUCTED = "invoiced separately, no credit deducted from the package"


def cancellation_cost(session: Session, band: CancellationPolicy | None) -> dict:
    """What the sheet charges for cancelling in `band`, measured in the student's package, as the
    guidance says it: "Penalty guidance: cancelling now is charged 0.5 of a credit (€20.00) of the
    10-lesson package, invoiced separately, no credit deducted from the package." `cost` is None
    when the band charges nothing (or the session never uses a credit)."""
    percent = band.charge_percent if band else 0
    if not percent or not session.deducts_credit:
        return {"charge_percent": percent, "cost": None, "cost_credits": None, "cost_amount": None,
                "cost_package_id": None}
    credits = Decimal(percent) / 100
    package = package_for(session)
    amount = None
    lead = f"Penalty guidance: cancelling now is charged {credits_text(credits)}"
    if package is None:
        sentence = f"{lead} of a lesson package, {NOT_DEDUCTED}."
    else:
        where = f"the {package.credits}-lesson package"
        if package.credit_price is not None:
            amount = money(package.credit_price * credits, package.currency)
            sentence = f"{lead} ({amount}) of {where}, {NOT_DEDUCTED}."
        else:
            sentence = f"{lead} of {where}, {NOT_DEDUCTED}."
    return {"charge_percent": percent, "cost": sentence, "cost_credits": f"{credits.normalize():f}",
            "cost_amount": amount, "cost_package_id": package.pk if package else None}


def cancellation_notice(guidance: dict) -> dict:
    """The words shown before a cancel is confirmed, the same on the web's cancel card and in the
    Telegram bot (from lifecycle.cancellation_guidance): `penalty` ("If you cancel now: 50% of the
    lesson."), `details` (what it costs the package, then the band's guidance) and `waiver` (the
    coordinator's waiver reminder, only when a penalty applies; else "")."""
    penalty = (guidance.get("penalty") or "No charge").rstrip(".")
    details = " ".join(t for t in (guidance.get("cost"), guidance.get("guidance")) if t)
    charged = guidance.get("policy_id") and guidance.get("charged")
    waiver = (guidance.get("waiver_reminder") or "") if charged else ""
    return {"penalty": f"If you cancel now: {penalty}.", "details": details, "waiver": waiver}


def penalty_charged(data: dict) -> bool:
    """Whether a cancel event recorded a penalty (a share of the lesson, or a penalty such as a
    tutor's strike; "No charge" and the like are none): only such a penalty can be waived."""
    penalty = (data.get("penalty") or "").strip().lower()
    return bool(data.get("charge_percent")) or bool(penalty and not penalty.startswith(FREE_PENALTIES))


def charge_text(data: dict, *, waived: bool = False) -> str:
    """The charge a cancel event recorded, for its confirmation and its outcome line: "50% of the
    lesson: 0.5 of a credit (€20.00), invoiced separately, no credit deducted from the package"."""
    penalty = data.get("penalty") or "No charge"
    credits = data.get("cost_credits")
    if not credits:
        return f"{penalty} (waived)" if waived else penalty
    cost = credits_text(Decimal(credits))
    if data.get("cost_amount"):
        cost += f" ({data['cost_amount']})"
    return f"{penalty}: {cost} (waived)" if waived else f"{penalty}: {cost}, {NOT_DEDUCTED}"
