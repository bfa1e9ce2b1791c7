"""What needs a coordinator now (issue 17 item 1; the open reschedule requests since the desk walk):
each queue is a condition, a count and the admin changelist filtered to exactly those rows (the
"needs a person" filters in desk/admin.py use the same conditions). All counts take four queries:
one conditional aggregate over the sessions, one for failed summaries, one for packages, one for
stuck notifications.

"Today" is the coordinator's own day, in their time zone.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q
from django.urls import reverse

from notes.models import Summary, SummaryStatus
from sessions.models import NoShowParty, RescheduleThread, Session, SessionEvent, Status, ThreadStatus
from sessions.rules import CHECK_OUT_GRACE
from sessions.selectors import STUCK_AFTER, remaining, stuck_events, used_credits_subquery
from tutoring.models import LessonPackage

ACK_WAIT = timedelta(days=3)  # a parent who has not acknowledged for this long needs a nudge from a person


def nearly_used_up() -> int:
    """A package with this many credits left, or fewer, needs topping up: the desk's queue and the
    parents' low-balance alert (desk/billing.py) share settings.LOW_BALANCE_CREDITS."""
    return settings.LOW_BALANCE_CREDITS


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    hint: str
    count: int
    url: str


SESSION_QUEUES = {
    "disputes": ("Disputes waiting", "Oldest first: read the parent's reason, then approve or void."),
    "open_requests": ("Open reschedule requests",
                      "Oldest first, each with when it expires (the session's start): answer for the side "
                      "that must, or move the session."),
    "unacknowledged": (f"Awaiting the parent for more than {ACK_WAIT.days} days",
                       f"Checked out over {ACK_WAIT.days} days ago and not yet acknowledged or disputed."),
    "open_checkin": ("Checked in, never checked out",
                     f"The {CHECK_OUT_GRACE // timedelta(hours=1)}-hour check-out window has closed: "
                     "verify or mark the session."),
    "missed_checkin": ("Tutors who did not check in today",
                       "Today's sessions that have started without a check-in, and tutor no-shows."),
}


def session_condition(key: str, user, now: datetime) -> Q:
    if key == "disputes":
        return Q(status=Status.DISPUTED)
    if key == "open_requests":
        return Q(Exists(RescheduleThread.objects.filter(session=OuterRef("pk"), status=ThreadStatus.OPEN)))
    if key == "unacknowledged":
        cut = now - ACK_WAIT
        return Q(status=Status.AWAITING_APPROVAL_PARENT) & (
            Q(checked_out_at__lt=cut) | Q(checked_out_at__isnull=True, scheduled_end__lt=cut))
    if key == "open_checkin":
        return Q(status=Status.CHECKED_IN, scheduled_end__lt=now - CHECK_OUT_GRACE)
    if key == "missed_checkin":
        start, end = user.local_day_bounds(now)
        return (Q(status=Status.SCHEDULED, scheduled_start__gte=start, scheduled_start__lte=now)
                | Q(status=Status.NO_SHOW, no_show_party=NoShowParty.TUTOR, scheduled_start__gte=start,
                    scheduled_start__lt=end))
    raise KeyError(key)


def low_packages(today, threshold: int | None = None):
    """Packages still valid with `threshold` (default: nearly_used_up()) credits left or fewer."""
    threshold = nearly_used_up() if threshold is None else threshold
    return (LessonPackage.objects.filter(expires_on__gte=today)
            .annotate(credits_left=remaining(F("credits"), used_credits_subquery()))
            .filter(credits_left__lte=threshold))


def queues(user, now: datetime) -> list[Queue]:
    conditions = {key: session_condition(key, user, now) for key in SESSION_QUEUES}
    any_of = Q()
    for condition in conditions.values():
        any_of |= condition
    counts = Session.objects.filter(any_of).aggregate(
        **{key: Count("pk", filter=condition) for key, condition in conditions.items()})
    sessions_url = reverse("admin:tutoring_sessions_session_changelist")
    # o=2: ascending by scheduled start (the second column), so the longest-waiting come first;
    # disputes open the dispute queue (oldest first), each row the session's dispute page; open
    # requests the reschedule threads' list of open ones, oldest first (o=5: opened at, ascending)
    # with when each expires and a link to answer it (desk/moves.py)
    urls = {"disputes": reverse("admin:desk_dispute_changelist"),
            "open_requests": reverse("admin:tutoring_sessions_reschedulethread_changelist")
            + f"?status__exact={ThreadStatus.OPEN}&o=5"}
    made = [Queue(key, label, hint, counts[key], urls.get(key, f"{sessions_url}?desk={key}&o=2"))
            for key, (label, hint) in SESSION_QUEUES.items()]
    made.append(Queue("summaries", "Summaries that failed",
                      "The AI summary could not be made: parents see sentences from the notes instead.",
                      Summary.objects.filter(status=SummaryStatus.FAILED).count(),
                      reverse("admin:notes_summary_changelist") + f"?status__exact={SummaryStatus.FAILED}"))
    made.append(Queue("packages", "Packages nearly used up",
                      f"Valid packages with {nearly_used_up()} credits left or fewer.",
                      low_packages(now.astimezone(user.tzinfo).date()).count(),
                      reverse("admin:tutoring_lessonpackage_changelist") + "?desk=low"))
    made.append(Queue("notifications_stuck", "Notifications stuck",
                      f"Session changes nobody has been told about after {STUCK_AFTER.seconds // 60} minutes: "
                      "their notices could not be written (retried every minute; the error is in the log).",
                      SessionEvent.objects.filter(stuck_events(now)).count(),
                      reverse("admin:tutoring_sessions_sessionevent_changelist") + "?notified=stuck"))
    return made
