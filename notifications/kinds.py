"""Who hears what, and in which words: one entry per kind of message.

A kind names its topic (what people switch on and off per channel), who hears it (for session
events: an audience of the session's people, never the person who acted), how it reads for each
reader (`render`: in the reader's time zone, a subject that fits, a link straight to the room or
to the action), whether it is still worth sending (`stale`: a reminder of a cancelled, moved or
started session is not), and whether it should wait a little (`wait`: notes wait for their
summary). Adding a kind is one entry in KINDS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sessions.models import Party, Session, SessionEvent, Status, counterparty
from tutoring.models import Role

from .models import Delivery, Topic
from .texts import fit, in_how_long, local, local_day, possessive

# Spec 002: the room opens 15 minutes before the start; reminders lead straight into it.
REMINDERS = (("reminder_24h", timedelta(hours=24)), ("reminder_1h", timedelta(hours=1)),
             ("reminder_15m", timedelta(minutes=15)))
# Parents whose session waits for their acknowledgement are nudged after 24 h and again after 72 h;
# after a week a coordinator is the one to chase it (and a week-old backlog is not nudged at all).
NUDGES = (("nudge_24h", timedelta(hours=24)), ("nudge_72h", timedelta(hours=72)))
NUDGE_UNTIL = timedelta(days=7)
# Notes wait this long at most for their AI summary before the parents hear of them anyway.
SUMMARY_WAIT = timedelta(minutes=10)
# A tutor often saves notes in several goes (a text, then a photo of the work): parents hear of them
# once no newer notes came for this long, in one message (a later one covers the earlier).
NOTES_SETTLE = timedelta(minutes=2)


@dataclass(frozen=True)
class Message:
    """One message to one reader, for every channel: the email's subject is `title`."""

    title: str
    lines: tuple[str, ...]
    url: str  # a path on this site
    action: str  # the label of the link
    quote: str = ""  # people's own words, kept whole (an email and the inbox show them in full)
    quote_label: str = ""

    @property
    def text(self) -> str:
        """The in-app text: the sentences, then the quoted words."""
        body = " ".join(self.lines)
        return f"{body}\n\n{self.quote_label}: “{self.quote}”" if self.quote else body


@dataclass
class Ctx:
    """What a kind needs to write to one reader (loaded in bulk by the dispatcher)."""

    delivery: Delivery
    recipient: object
    role: str = ""  # the reader's relation to the session: tutor, student, parent, creator, coordinator
    session: Session | None = None
    event: SessionEvent | None = None
    summary_done: bool = True
    later_notes: bool = False  # a later notes message to this reader, by this channel, covers this one

    @property
    def data(self) -> dict:
        return (self.event.data if self.event is not None else self.delivery.data) or {}

    # --- names and phrases ---

    @property
    def tutor(self) -> str:
        return self.session.tutor.name

    @property
    def student(self) -> str:
        return self.session.student.name

    @property
    def actor(self) -> str:
        actor = self.event.actor if self.event is not None else None
        return actor.name if actor is not None else "The platform"

    def session_of(self) -> str:
        """The session as the reader calls it, in a sentence."""
        if self.role == "tutor":
            return f"your session with {self.student}"
        if self.role == "student":
            return f"your session with {self.tutor}"
        if self.role == "parent":
            return f"{possessive(self.student)} session with {self.tutor}"
        return f"the session of {self.student} with {self.tutor}"

    def short(self) -> str:
        """The session as the reader calls it, in a subject."""
        if self.role in ("tutor", "student"):
            return self.session_of()
        if self.role == "parent":
            return f"{possessive(self.student)} session"
        return f"{possessive(self.student)} session with {self.tutor}"

    def when(self, moment=None) -> str:
        return local(moment or self.session.scheduled_start, self.recipient)

    def day(self, moment=None) -> str:
        return local_day(moment or self.session.scheduled_start, self.recipient)

    # --- links ---

    @property
    def card(self) -> str:
        return f"/sessions/{self.session.id}/"

    @property
    def room(self) -> str:
        return f"/session/{self.session.id}/"

    def review_link(self) -> str:
        """Where a dispute is decided: the admin for coordinators, the detail panel for creators."""
        if self.role == "coordinator":
            return f"/admin/tutoring_sessions/session/{self.session.id}/change/"
        if self.role == "creator":
            return f"/dashboard/teaching/sessions/{self.session.id}/"
        return self.card


def cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- who hears a session event ----------------------------------------------------------------


@dataclass(frozen=True)
class People:
    """A session's people, loaded in bulk by the relay."""

    tutor: object
    student: object
    parents: tuple
    creator: object | None
    coordinators: tuple

    def side(self, party: str) -> list:
        return [self.tutor] if party == Party.TUTOR else list(self.parents)


def _cancel_audience(event: SessionEvent, p: People) -> list:
    data = event.data or {}
    if data.get("on_behalf_of"):  # a coordinator acted for one side: both sides and the student hear
        return [p.tutor, *p.parents, p.student]
    return [*p.side(counterparty(data.get("role"))), p.student]


def _no_show_audience(event: SessionEvent, p: People) -> list:
    if (event.data or {}).get("party") == "tutor":
        return [p.tutor, *p.parents, *p.coordinators]
    return [*p.parents, *p.coordinators]


def _proposer(event: SessionEvent) -> str:
    return (event.data or {}).get("proposed_by_role", "")


def _answer_audience(audience):
    """A coordinator who answered for one side (on_behalf_of): that side hears it too."""
    def heard(event: SessionEvent, p: People) -> list:
        party = (event.data or {}).get("on_behalf_of")
        return [*audience(event, p), *(p.side(party) if party else [])]

    return heard


# --- texts ------------------------------------------------------------------------------------


def reminder(c: Ctx) -> Message:
    lead = in_how_long(c.delivery.due_for - c.delivery.created_at)
    joins = c.role in ("tutor", "student")
    course = f" ({c.session.course.title})" if c.session.course_id else ""
    lines = [f"{cap(c.session_of())}{course} starts {c.when()}, {lead}." if lead != "now"
             else f"{cap(c.session_of())}{course} starts now ({c.when()})."]
    if joins:
        lines.append("The session room opens 15 minutes before the start: join from this link.")
    return Message(
        title=fit(f"Reminder: {c.short()} starts {lead}", f"Reminder: a session starts {lead}", "Session reminder"),
        lines=tuple(lines), url=c.room if joins else c.card,
        action="Open the session room" if joins else "View the session")


def awaiting(c: Ctx) -> Message:
    """check_out: the parents are asked to acknowledge or dispute."""
    return Message(
        title=fit(f"Please confirm {c.short()} on {c.day()}", f"Please confirm {c.short()}", "Please confirm a session"),
        lines=(f"{c.tutor} checked out of {c.session_of()} on {c.when()}.",
               "Please acknowledge that it took place, or dispute it if something was wrong."),
        url=c.card, action="Acknowledge or dispute")


def nudge(c: Ctx) -> Message:
    again = c.delivery.kind == "nudge_72h"
    head = "Second reminder" if again else "Still waiting"
    return Message(
        title=fit(f"{head}: please confirm {c.short()} on {c.day()}", f"{head}: please confirm {c.short()}",
                  f"{head}: please confirm a session"),
        lines=(f"{cap(c.session_of())} on {c.when()} has been waiting for your acknowledgement since "
               f"{c.when(c.delivery.due_for)}.",
               "Please acknowledge it, or dispute it if something was wrong."),
        url=c.card, action="Acknowledge or dispute")


def adhoc(c: Ctx) -> Message:
    minutes = int(c.session.duration.total_seconds() // 60)
    return Message(
        title=fit(f"{c.tutor} logged an extra session with {c.student}", f"An extra session with {c.student}",
                  "An extra session to confirm"),
        lines=(f"{c.tutor} logged an extra session with {c.student} on {c.when()} ({minutes} minutes, billed as an "
               "add-on).", "Please acknowledge it, or dispute it if it did not take place."),
        url=c.card, action="Acknowledge or dispute",
        quote=c.event.reason if c.event and c.event.reason else "", quote_label=f"{possessive(c.tutor)} note")


def created(c: Ctx) -> Message:
    course = f" ({c.session.course.title})" if c.session.course_id else ""
    trial = " It is a trial session." if c.data.get("is_trial") else ""
    return Message(
        title=fit(f"New session: {c.short()} on {c.day()}", f"New session on {c.day()}", "New session scheduled"),
        lines=(f"A new session is scheduled: {c.session_of()}{course} on {c.when()}.{trial}",),
        url=c.card, action="View the session")


def notes_ready(c: Ctx) -> Message:
    summary = ("Read them with the summary on the session's page." if c.summary_done
               else "The summary follows on the session's page.")
    return Message(
        title=fit(f"Notes and summary for {c.short()} on {c.day()}", f"Notes and summary for {c.short()}",
                  "Session notes and summary"),
        lines=(f"{c.tutor} wrote notes for {c.session_of()} on {c.when()}.", summary),
        url=c.card, action="Read the notes")


def disputed(c: Ctx) -> Message:
    if c.role == "tutor":  # the session's tutor is told too: what was disputed and what happens next
        return Message(
            title=fit(f"Disputed: {c.short()} on {c.day()}", f"Disputed: a session on {c.day()}",
                      "A session was disputed"),
            lines=(f"{c.actor} disputed {c.session_of()} on {c.when()}.",
                   "A coordinator will review it and decide whether it counts as taught; you will be told the "
                   "decision. Nothing is needed from you unless the coordinator asks."),
            url=c.card, action="View the session", quote=c.event.reason, quote_label="Their reason")
    return Message(
        title=fit(f"Dispute: {c.short()} on {c.day()}", f"Dispute: {possessive(c.student)} session on {c.day()}",
                  "A session was disputed"),
        lines=(f"{c.actor} disputed {c.session_of()} on {c.when()}.", "Please review it and decide."),
        url=c.review_link(), action="Review the dispute", quote=c.event.reason, quote_label="Their reason")


def resolved(c: Ctx) -> Message:
    approved = c.data.get("decision") == "approve"
    outcome = "counts" if approved else "does not count"
    verdict = ("voided it: it does not count and is Not Completed" if not approved
               else "approved it: it counts as taught, and no lesson credit is used" if c.data.get("waived")
               else "approved it: it counts as taught")
    return Message(
        title=fit(f"Dispute decided: {c.short()} on {c.day()} {outcome}", f"Dispute decided: the session {outcome}"),
        lines=(f"{c.actor} reviewed the dispute about {c.session_of()} on {c.when()} and {verdict}.",),
        url=c.card, action="View the session", quote=c.event.reason, quote_label="Their reason")


def verified(c: Ctx) -> Message:
    return Message(
        title=fit(f"Approved by a coordinator: {c.short()} on {c.day()}", f"Approved by a coordinator: {c.short()}",
                  "A session was approved by a coordinator"),
        lines=(f"{c.actor} approved {c.session_of()} on {c.when()} on behalf of the family (a coordinator "
               "override).",),
        url=c.card, action="View the session", quote=c.event.reason, quote_label="Their reason")


def penalty_waived(c: Ctx) -> Message:
    penalty = c.data.get("penalty") or "the penalty"
    return Message(
        title=fit(f"Penalty waived: {c.short()} on {c.day()}", "Penalty waived for a cancelled session"),
        lines=(f"{c.actor}, a coordinator, waived the cancellation penalty ({penalty}) for {c.session_of()} "
               f"on {c.when()}: it is not charged.",),
        url=c.card, action="View the session", quote=c.event.reason, quote_label="Their reason")


def acknowledged(c: Ctx) -> Message:
    return Message(
        title=fit(f"{c.actor} confirmed {c.short()} on {c.day()}", f"Confirmed: {c.short()}", "A session was confirmed"),
        lines=(f"{c.actor} confirmed that {c.session_of()} on {c.when()} took place.",),
        url=c.card, action="View the session")


def no_show(c: Ctx) -> Message:
    if c.data.get("party") == "tutor":
        return Message(
            title=fit(f"No-show: {c.tutor} did not check in on {c.day()}", "No-show: the tutor did not check in",
                      "No-show recorded"),
            lines=(f"{c.tutor} did not check in for {c.session_of()} on {c.when()}, so it is recorded as a "
                   "no-show.",),
            url=c.card, action="View the session")
    return Message(
        title=fit(f"No-show: {c.student} missed the session on {c.day()}", "No-show: the student did not attend",
                  "No-show recorded"),
        lines=(f"{c.student} did not attend {c.session_of()} on {c.when()} ({c.actor} recorded it).",),
        url=c.card, action="View the session")


def cancelled(c: Ctx) -> Message:
    party = c.data.get("on_behalf_of")
    who = f"{c.actor}, a coordinator, for the {party}," if party else c.actor
    return Message(
        title=fit(f"Cancelled: {c.short()} on {c.day()}", f"Cancelled: a session on {c.day()}", "A session was cancelled"),
        lines=(f"{who} cancelled {c.session_of()} on {c.when()}.",),
        url=c.card, action="View the session", quote=c.event.reason, quote_label="Reason")


def proposed(c: Ctx) -> Message:
    countered = c.delivery.kind == "reschedule_countered"
    new = c.when(c.data["proposed_start"])
    head = (f"{c.actor} suggests {new} instead, for {c.session_of()} (now on {c.when()})." if countered
            else f"{c.actor} proposes to move {c.session_of()} from {c.when()} to {new}.")
    label = "Counter-proposal" if countered else "New time proposed"
    return Message(
        title=fit(f"{label} for {c.short()} on {c.day()}", f"{label} for {c.short()}", f"{label} for a session"),
        lines=(head, f"Please answer before {c.when()}: a request still open at the start expires, and the "
                     "session is then Not Completed."),
        url=c.card, action="Answer the request", quote=c.event.reason, quote_label="Reason")


def rescheduled(c: Ctx) -> Message:
    kind = c.delivery.kind
    new = c.when(c.data["proposed_start"])
    party = c.data.get("on_behalf_of")
    actor = f"{c.actor}, a coordinator, for the {party}," if party else c.actor
    if kind == "reschedule_accepted":
        old = c.when(c.data.get("old_start") or c.session.scheduled_start)
        return Message(
            title=fit(f"Moved: {c.short()} is now on {c.day(c.data['proposed_start'])}", f"Moved: {c.short()}",
                      "A session was moved"),
            lines=(f"{actor} accepted: {c.session_of()} moves from {old} to {new}.",),
            url=c.card, action="View the session", quote=c.event.reason if c.event else "", quote_label="Reason")
    if kind == "reschedule_rejected":
        return Message(
            title=fit(f"Declined: moving {c.short()} on {c.day()}", f"Declined: moving {c.short()}",
                      "A new time was declined"),
            lines=(f"{actor} declined moving {c.session_of()} to {new}; it stays on {c.when()}.",),
            url=c.card, action="View the session", quote=c.event.reason, quote_label="Reason")
    return Message(  # withdrawn
        title=fit(f"Withdrawn: the request to move {c.short()}", "Withdrawn: a request to move a session"),
        lines=(f"{actor} withdrew the request to move {c.session_of()} to {new}; it stays on {c.when()}.",),
        url=c.card, action="View the session", quote=c.event.reason if c.event else "", quote_label="Reason")


def moved(c: Ctx) -> Message:
    """A coordinator moved the session directly (lifecycle.move_session)."""
    new, old = c.data["new_start"], c.data["old_start"]
    return Message(
        title=fit(f"Moved: {c.short()} is now on {c.day(new)}", f"Moved: {c.short()}", "A session was moved"),
        lines=(f"{c.actor}, a coordinator, moved {c.session_of()} from {c.when(old)} to {c.when(new)}.",),
        url=c.card, action="View the session", quote=c.event.reason, quote_label="Reason")


def expired(c: Ctx) -> Message:
    return Message(
        title=fit(f"Expired: the request to move {c.short()}", "Expired: a request to move a session"),
        lines=(f"The request to move {c.session_of()} on {c.when()} was not answered before the start, so the "
               "session is Not Completed.",),
        url=c.card, action="View the session")


def message(c: Ctx) -> Message:
    d = c.data
    return Message(title=fit(f"New message from {d['sender']}", "New message"), lines=(d["preview"],),
                   url=d["url"], action="Read and reply")


def email_stopped(c: Ctx) -> Message:
    d = c.data
    return Message(
        title="We stopped emailing you",
        lines=(f"Email to {d['address']} could not be delivered ({d['reason']}), so no more email goes there. "
               "Every notification still arrives here.",
               "When the address works again, turn email back on in your notification settings."),
        url="/notifications/preferences/", action="Notification settings")


def telegram_unlinked(c: Ctx) -> Message:
    return Message(
        title="Telegram is unlinked",
        lines=("Telegram refused our messages to your chat (the bot was blocked or the chat deleted), so "
               "your account is no longer linked to it and nothing more goes there.",
               "To use the bot again, unblock it and link Telegram again."),
        url="/telegram/", action="Link Telegram")


def video_credentials(c: Ctx) -> Message:
    d = c.data
    return Message(
        title=fit(f"{d['provider']} refused this platform's credentials", "Video provider credentials refused"),
        lines=(f"{d['provider']} refused this platform's credentials: video rooms on {d['provider']} cannot open "
               f"until {d['settings']} are corrected.",),
        url=d["url"], action="Open the incident")


def schedule_changed(c: Ctx) -> Message:
    """A weekly pattern was set, changed or ended (desk/patterns.py): one notice for all its sessions."""
    d = c.data
    pair = f"{d['student']} with {d['tutor']}"
    first = f" The first is on {local(d['first'], c.recipient)}." if d.get("first") else ""
    if d["what"] == "ended":
        return Message(
            title=fit(f"Weekly sessions of {pair} ended", "Weekly sessions ended"),
            lines=(f"The weekly sessions of {pair} have ended: {d['withdrawn']} upcoming sessions were withdrawn.",),
            url="/", action="Open your sessions")
    verb = "are set" if d["what"] == "set" else "changed"
    return Message(
        title=fit(f"Weekly sessions of {pair} {verb}", f"Weekly sessions {verb}"),
        lines=(f"The weekly sessions of {pair} {verb}: {d['pattern']}. {d['scheduled']} upcoming sessions are "
               f"scheduled.{first}",),
        url="/", action="Open your sessions")


def low_balance(c: Ctx) -> Message:
    """A package reached the low-balance threshold (desk/billing.py sends it once per package)."""
    d = c.data
    left = "1 lesson" if d["remaining"] == 1 else f"{d['remaining']} lessons"
    if c.delivery.kind == "low_balance_desk":
        return Message(
            title=fit(f"{possessive(d['student'])} package: {left} left", "A lesson package is nearly used up"),
            lines=(f"{possessive(d['student'])} {d['credits']}-lesson package (valid until {d['expires_on']}) has "
                   f"{left} left. Arrange a new package with the family.",),
            url=d["url"], action="Open the package")
    return Message(
        title=fit(f"{possessive(d['student'])} lessons: {left} left", "Your lesson package is nearly used up"),
        lines=(f"{possessive(d['student'])} {d['credits']}-lesson package (valid until {d['expires_on']}) has "
               f"{left} left. Contact your coordinator to add lessons before it runs out.",),
        url="/", action="Open your home page")


# --- when a delivery is no longer worth sending, or should wait -------------------------------


def stale_reminder(c: Ctx, now: datetime) -> str:
    """A reminder goes only for a session still scheduled at the time it was planned for, before
    its start, and while no later reminder of the set is due (after an outage only the latest)."""
    d, session = c.delivery, c.session
    if session is None or session.status != Status.SCHEDULED:
        return "the session is no longer scheduled"
    if session.scheduled_start != d.due_for:
        return "the session moved (the new time gets its own reminders)"
    if session.scheduled_start <= now:
        return "the session has started"
    leads = dict(REMINDERS)
    later = [lead for name, lead in REMINDERS if lead < leads[d.kind]]
    if later and now >= session.scheduled_start - max(later):
        return "a later reminder replaces it"
    return ""


def stale_nudge(c: Ctx, now: datetime) -> str:
    if c.session is None or c.session.status != Status.AWAITING_APPROVAL_PARENT:
        return "the session was answered meanwhile"
    return ""


def stale_notes(c: Ctx, now: datetime) -> str:
    """Of notes saved in several goes, the parents hear once: the latest message covers them all."""
    return "a later notes message covers these notes" if c.later_notes else ""


def wait_for_summary(c: Ctx, now: datetime) -> datetime | None:
    """Parents hear of notes once the tutor has added none for NOTES_SETTLE (newer notes make
    this message stale, stale_notes) and their summary is there (or after SUMMARY_WAIT at most)."""
    settled = c.delivery.created_at + NOTES_SETTLE
    if now < settled:
        return settled
    if c.summary_done or now >= c.delivery.created_at + SUMMARY_WAIT:
        return None
    return now + timedelta(seconds=30)


@dataclass(frozen=True)
class Kind:
    topic: str
    render: Callable[[Ctx], Message]
    audience: Callable[[SessionEvent, People], list] | None = None  # session events only
    stale: Callable[[Ctx, datetime], str] | None = None  # why it is no longer worth sending, or ""
    wait: Callable[[Ctx, datetime], datetime | None] | None = None
    unsubscribe: bool = False  # a one-click List-Unsubscribe for this kind's topic (RFC 8058)
    forced_channels: frozenset = field(default_factory=frozenset)  # channels people cannot switch off
    roles: frozenset | None = None  # the roles its audience can hold (None: anyone); settings show a topic only to them


def _parents(e, p):
    return list(p.parents)


KINDS: dict[str, Kind] = {
    # scheduled by the reminder sweep
    **{name: Kind(Topic.REMINDERS, reminder, stale=stale_reminder, unsubscribe=True) for name, _ in REMINDERS},
    **{name: Kind(Topic.APPROVALS, nudge, stale=stale_nudge) for name, _ in NUDGES},
    # session events
    "check_out": Kind(Topic.APPROVALS, awaiting, audience=_parents),
    "adhoc_logged": Kind(Topic.SESSIONS, adhoc, audience=_parents, roles=frozenset({Role.PARENT})),
    "created": Kind(Topic.SESSIONS, created, audience=lambda e, p: [*p.parents, p.student, p.tutor],
                    roles=frozenset({Role.PARENT, Role.STUDENT, Role.TUTOR})),
    "notes_added": Kind(Topic.NOTES, notes_ready, audience=_parents, stale=stale_notes, wait=wait_for_summary,
                        roles=frozenset({Role.PARENT})),
    "dispute": Kind(Topic.APPROVALS, disputed, audience=lambda e, p: [*p.coordinators, p.creator, p.tutor]),
    "resolve_dispute": Kind(Topic.APPROVALS, resolved, audience=lambda e, p: [*p.parents, p.tutor]),
    "verify": Kind(Topic.APPROVALS, verified, audience=lambda e, p: [*p.parents, p.tutor]),
    "acknowledge": Kind(Topic.APPROVALS, acknowledged, audience=lambda e, p: [p.tutor]),
    "no_show": Kind(Topic.APPROVALS, no_show, audience=_no_show_audience),
    "cancel": Kind(Topic.CHANGES, cancelled, audience=_cancel_audience),
    "penalty_waived": Kind(Topic.CHANGES, penalty_waived, audience=lambda e, p: [p.tutor, *p.parents]),
    "reschedule_proposed": Kind(Topic.CHANGES, proposed,
                                audience=lambda e, p: p.side(counterparty(_proposer(e)))),
    "reschedule_countered": Kind(Topic.CHANGES, proposed,
                                 audience=lambda e, p: p.side(counterparty(_proposer(e)))),
    "reschedule_accepted": Kind(Topic.CHANGES, rescheduled,
                                audience=_answer_audience(lambda e, p: [*p.side(_proposer(e)), p.student])),
    "reschedule_rejected": Kind(Topic.CHANGES, rescheduled,
                                audience=_answer_audience(lambda e, p: p.side(_proposer(e)))),
    "reschedule_withdrawn": Kind(Topic.CHANGES, rescheduled,
                                 audience=_answer_audience(lambda e, p: p.side(counterparty(_proposer(e))))),
    "moved": Kind(Topic.CHANGES, moved, audience=lambda e, p: [p.tutor, *p.parents, p.student]),
    "reschedule_expired": Kind(Topic.CHANGES, expired, audience=lambda e, p: [p.tutor, *p.parents]),
    # other sources
    "message": Kind(Topic.MESSAGES, message),
    "email_stopped": Kind(Topic.ACCOUNT, email_stopped, forced_channels=frozenset({"in_app"})),
    "telegram_unlinked": Kind(Topic.ACCOUNT, telegram_unlinked, forced_channels=frozenset({"in_app"})),
    "video_credentials": Kind(Topic.OPERATIONS, video_credentials, forced_channels=frozenset({"in_app"}),
                              roles=frozenset({Role.COORDINATOR})),  # video/incidents.py tells coordinators
    # desk/patterns.py: a weekly pattern set, changed or ended, to the family and the tutor
    "schedule_changed": Kind(Topic.SESSIONS, schedule_changed, roles=frozenset({Role.PARENT, Role.STUDENT,
                                                                               Role.TUTOR})),
    # desk/billing.py: once per package, to its student's parents and to the coordinators
    "low_balance": Kind(Topic.ACCOUNT, low_balance, roles=frozenset({Role.PARENT})),
    "low_balance_desk": Kind(Topic.OPERATIONS, low_balance, forced_channels=frozenset({"in_app"}),
                             roles=frozenset({Role.COORDINATOR})),
}
