"""Read-only views of sessions: role-facing labels and the actions a viewer may take now.
Nothing here writes; time-based changes happen only in the sweeps."""

from datetime import datetime

from django.db.models import Prefetch, QuerySet

from . import rules
from .access import Relation, Viewer
from .models import ProposalStatus, RescheduleProposal, RescheduleThread, Session, Status, ThreadStatus

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

ACTIONS = tuple(rules.GUARDS)


def audience(rels) -> str:
    """Which label set a viewer reads: their closest relation to the session."""
    if Relation.PARENT in rels:
        return "parent"
    if Relation.TUTOR in rels:
        return "tutor"
    return "default"


def status_label(session: Session, rels) -> str:
    return LABELS[audience(rels)][session.status]


def with_open_thread(qs: QuerySet[Session]) -> QuerySet[Session]:
    """Prefetch each session's open thread and its open proposal (two queries for any list)."""
    proposals = RescheduleProposal.objects.order_by("version")
    return qs.prefetch_related(
        Prefetch(
            "reschedule_threads",
            queryset=RescheduleThread.objects.filter(status=ThreadStatus.OPEN).prefetch_related(
                Prefetch("proposals", queryset=proposals, to_attr="all_proposals")
            ),
            to_attr="open_threads",
        )
    )


def open_thread(session: Session) -> RescheduleThread | None:
    threads = getattr(session, "open_threads", None)
    if threads is None:
        threads = list(with_open_thread(Session.objects.filter(pk=session.pk))[0].open_threads)
        session.open_threads = threads
    return threads[0] if threads else None


def open_proposal(thread: RescheduleThread | None) -> RescheduleProposal | None:
    if thread is None:
        return None
    return next((p for p in thread.all_proposals if p.status == ProposalStatus.OPEN), None)


def context(session: Session, viewer: Viewer, now: datetime) -> rules.Ctx:
    thread = open_thread(session)
    return rules.Ctx(session=session, rels=viewer.relations(session), now=now, open_thread=thread,
                     open_proposal=open_proposal(thread))


def allowed_in(ctx: rules.Ctx) -> list[str]:
    return [action for action in ACTIONS if rules.refusal(action, ctx) is None]


def allowed_actions(session: Session, viewer: Viewer, now: datetime) -> list[str]:
    return allowed_in(context(session, viewer, now))
