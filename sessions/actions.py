"""The registry of session actions: each action a person takes on a session is one entry here, and
every surface is made from it: the web card's forms and their URLs (sessions/views/actions.py,
sessions/urls.py; their partials on the card: Card), the JSON API's routes (sessions/api.py), the admin's actions (sessions/admin.py),
the card's buttons and the reasons it gives for a missing one (sessions/views/pages.py), the
Telegram bot's buttons and slash commands with its help (telegram_bot/actions.py, telegram_bot/core.py),
the coordinator's answers on a side's behalf (desk/moves.py) and the API's `allowed_actions`.

An entry names the action, who may take it, its guard (rules.guard_*, which the lifecycle function
runs under the session lock and allowed_in runs to list what may be offered), the lifecycle function
and which input it takes, and, per surface, what the surface needs: a URL and form and the
confirmation it shows (Web), its partial on the card and when the card keeps quiet about its
refusal (Card), a path and body schema (Api), an intermediate form and texts (Admin), buttons (Bot)
and a slash command (Command), a coordinator's answer for a side (OnBehalf). Adding an action is
one entry here plus its lifecycle function (and, for the web card, its partial template).

The order of ACTIONS is the order of `allowed_actions`, of the bot's buttons and of its /help's
commands; the card places its parts by Card.place."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django import forms as django_forms
from django.db.models import Q
from ninja import Schema

from . import forms, lifecycle, projections, rules, schemas
from .access import Relation
from .errors import Refused
from .models import ChangeKind, Party, Session, Status

TUTOR, PARENT, COORDINATOR, CREATOR = Relation.TUTOR, Relation.PARENT, Relation.COORDINATOR, Relation.CREATOR


@dataclass(frozen=True, kw_only=True)
class Web:
    """The session card's form: POST /sessions/<id>/<path>, answered with the card (htmx) or a 303."""

    path: str  # below /sessions/<id>/
    url_name: str
    form: type[django_forms.Form] | None
    done: str | Callable[[Session], str]  # the confirmation shown on the card
    # the terms to confirm first (the cancel panel), shown on GET and again beside a refusal:
    # terms(session, by=user, as_role=role or None) -> a dict for the action's partial ("guidance")
    terms: Callable[..., dict] | None = None
    then: Callable[[Session], str | None] | None = None  # a page to go to after success, if any


@dataclass(frozen=True, kw_only=True)
class Card:
    """The action's part of the session card: a partial template (the form, its button and its
    error, or a link), placed on the card by `place`, smallest first."""

    template: str
    place: int
    role: str = ""  # offered only on the card of this side (a Party), e.g. the tutor's notes link
    reasons: str = ""  # the ChangeKind whose reasons its form picks from (the acting side's)
    # a refusal the card does not explain although its code would (see `explains`):
    # quiet(refused, ctx, role) -> True to keep quiet
    quiet: Callable[[Refused, rules.Ctx, str], bool] | None = None


@dataclass(frozen=True, kw_only=True)
class Api:
    """POST /api/sessions/{session_id}<path>: the body (if any) is parsed, the lifecycle called and
    the session returned as it is now."""

    path: str
    body: type[Schema] | None = None
    optional_body: str = ""  # the body may be left out or be a form; what a bad one should look like
    status: int = 200
    doc: str = ""


@dataclass(frozen=True, kw_only=True)
class Admin:
    """A coordinator's action on selected sessions: its form on an intermediate page, then the
    lifecycle once per session (channel admin)."""

    name: str
    title: str
    form: type[django_forms.Form]
    done: str  # "{n}" is "3 sessions"
    intro: str


@dataclass(frozen=True, kw_only=True)
class Bot:
    """An inline button of the Telegram bot: runs the action with `data`, or opens a conversation
    (`starts`, its steps in telegram_bot.core)."""

    key: str  # two letters in the callback data "a:<key>:<session>[:<proposal>]"
    label: str
    done: str = ""
    data: dict = field(default_factory=dict)
    starts: str = ""
    notes_after: bool = False  # the chat takes notes for the session afterwards


@dataclass(frozen=True, kw_only=True)
class Command:
    """The bot's slash command for the action: /<name> finds the tutor's sessions whose guard allows
    it now; one: its first button runs (or starts its conversation), unless the entry has more
    buttons to choose from; several: a picker with every button of the entry per session, a page
    at a time; none: the refusal of the nearest one worth explaining (as on the card), or "no
    session to <verb> now"."""

    name: str  # without the slash
    help: str  # its line in the bot's /help
    verb: str  # "Which session do you want to <verb>?"
    # now -> the sessions the guard could allow, in SQL (rules.*_candidates: necessary conditions
    # only; the guard judges each row the picker reads)
    candidates: Callable[[datetime], Q]


@dataclass(frozen=True, kw_only=True)
class OnBehalf:
    """A coordinator's answer to a session's open request for the side that must give it (the
    desk's Move-or-answer page, desk/moves.py): its choice on the form and what it says after."""

    choice: str  # the form's value
    label: str
    done: str  # "{side}" is the side answered for
    for_proposer: bool = False  # answered for the side that proposed (else for its counterpart)


@dataclass(frozen=True, kw_only=True)
class Action:
    name: str
    who: frozenset  # the relations its guard lets take it, refusing anyone else (a test pins it); the
    # admin's coordinator acts on someone's behalf (cancel on_behalf_of; answers with on_behalf)
    guard: Callable[[rules.Ctx], None]
    run: Callable | None  # the lifecycle function; None when another app's service calls it
    takes: tuple[str, ...] = ()  # the input the lifecycle function takes as keyword arguments
    proposal: bool = False  # it answers the open proposal (its id comes first)
    answers: bool = False  # on the card, it answers something the viewer is asked
    web: Web | None = None
    card: Card | None = None
    api: Api | None = None
    admin: Admin | None = None
    bot: tuple[Bot, ...] = ()
    command: Command | None = None
    on_behalf: OnBehalf | None = None

    def perform(self, session: Session | int, *, by, channel: str, data: dict | None = None, now=None) -> Any:
        """Call the lifecycle function with the parsed input (only the keys it takes)."""
        data = data or {}
        args = (data.get("proposal_id"),) if self.proposal else ()
        kwargs = {key: data[key] for key in self.takes if key in data}
        if now is not None:
            kwargs["now"] = now
        return self.run(session, *args, by=by, channel=channel, **kwargs)


ON_BEHALF_DOC = ("A coordinator answers for the side that must (the proposer's counterpart; for withdraw, the "
                 "proposer) with `on_behalf: true` and a `reason`; the side's own rules apply (expiry, a "
                 "stale time) and both sides are told.")


def _cancelled(session: Session) -> str:
    """The cancellation's confirmation restates the charge that applied (the band it confirmed)."""
    event = session.events.filter(kind="cancel").order_by("-id").first()
    return f"Session cancelled. Charge: {projections.charge_text(event.data if event else {})}."


def _cancel_terms(session: Session, *, by, as_role: str | None) -> dict:
    """The cancel panel's terms: the penalty band that applies now, its waiver, the policy to confirm."""
    return lifecycle.cancellation_guidance(session, by=by, as_role=as_role)


def _check_in_not_open_yet(refused: Refused, ctx: rules.Ctx, role: str) -> bool:
    """An open request blocks check-in, but that is news only once check-in would open."""
    return refused.code == "reschedule_open" and ctx.session.scheduled_start - rules.CHECK_IN_LEAD > ctx.now


def _proposer_waits(refused: Refused, ctx: rules.Ctx, role: str) -> bool:
    """The proposer waits for the other side rather than reading "answer it first"."""
    return (refused.code == "reschedule_open" and ctx.open_proposal is not None
            and ctx.open_proposal.proposed_by_role == role)


def _notes_page(session: Session) -> str | None:
    """"after check-out the tutor is prompted for notes" (spec 004): straight to the notes form; a
    student who did not attend needs no notes."""
    return f"/sessions/{session.id}/notes/" if session.status == Status.AWAITING_APPROVAL_PARENT else None


ACTIONS: tuple[Action, ...] = (
    Action(
        name="check_in", who=frozenset({TUTOR}), guard=rules.guard_check_in, run=lifecycle.check_in,
        web=Web(path="check-in/", url_name="session-check-in", form=None, done="Checked in."),
        card=Card(template="sessions/actions/check_in.html", place=10, quiet=_check_in_not_open_yet),
        api=Api(path="/check-in"),
        bot=(Bot(key="ci", label="Check in", done="Checked in."),),
        command=Command(name="checkin", help="check in", verb="check in to",
                        candidates=rules.check_in_candidates),
    ),
    Action(
        name="check_out", who=frozenset({TUTOR}), guard=rules.guard_check_out, run=lifecycle.check_out,
        takes=("student_absent",),
        web=Web(path="check-out/", url_name="session-check-out", form=forms.CheckOutForm,
                done="Checked out: now write your session notes.", then=_notes_page),
        card=Card(template="sessions/actions/check_out.html", place=20),
        api=Api(path="/check-out", body=schemas.CheckOutIn, optional_body='{"student_absent": true}',
                doc='The body is optional: `{"student_absent": true}` records a no-show by the student.'),
        bot=(Bot(key="co", label="Check out", done="Checked out.", notes_after=True),
             Bot(key="ab", label="Student did not attend", done="Checked out: the student did not attend.",
                 data={"student_absent": True})),
        command=Command(name="checkout", help="check out", verb="check out of",
                        candidates=rules.check_out_candidates),
    ),
    Action(
        name="acknowledge", who=frozenset({PARENT}), guard=rules.guard_acknowledge, run=lifecycle.acknowledge,
        answers=True,
        web=Web(path="acknowledge/", url_name="session-acknowledge", form=None, done="Session acknowledged."),
        card=Card(template="sessions/actions/acknowledge.html", place=40),
        api=Api(path="/acknowledge"),
    ),
    Action(
        name="dispute", who=frozenset({PARENT}), guard=rules.guard_dispute, run=lifecycle.dispute,
        takes=("reason",), answers=True,
        web=Web(path="dispute/", url_name="session-dispute", form=forms.DisputeForm,
                done="Dispute sent: a coordinator will review it."),
        card=Card(template="sessions/actions/dispute.html", place=50),
        api=Api(path="/dispute", body=schemas.DisputeIn),
    ),
    Action(
        name="verify", who=frozenset({COORDINATOR}), guard=rules.guard_verify, run=lifecycle.verify,
        takes=("reason", "seen_status"),
        api=Api(path="/verify", body=schemas.VerifyIn),
        admin=Admin(name="verify_sessions", title="Verify (approval override)", form=forms.VerifyForm,
                    done="Verified {n}.",
                    intro="Approve without the parent's acknowledgement. A lesson credit is used unless the "
                          "session is an add-on, a trial, imported or legacy."),
    ),
    Action(
        name="resolve_dispute", who=frozenset({COORDINATOR, CREATOR}), guard=rules.guard_resolve_dispute,
        run=lifecycle.resolve_dispute, takes=("decision", "reason", "waive", "seen_status"),
        api=Api(path="/resolve-dispute", body=schemas.ResolveIn),
        admin=Admin(name="resolve_disputes", title="Resolve dispute", form=forms.ResolveDisputeForm,
                    done="Resolved the dispute of {n}.",
                    intro="Decide a disputed session after reviewing it."),
    ),
    Action(
        name="mark_no_show", who=frozenset({COORDINATOR}), guard=rules.guard_mark_no_show,
        run=lifecycle.mark_no_show, takes=("party", "reason", "seen_status"),
        admin=Admin(name="mark_no_shows", title="Mark no-show", form=forms.NoShowForm,
                    done="Marked {n} as no-show.",
                    intro="Record who did not attend a session that has started."),
    ),
    Action(
        name="cancel", who=frozenset({TUTOR, PARENT}), guard=rules.guard_cancel, run=lifecycle.cancel,
        takes=("reason_id", "note", "policy_id", "as_role", "on_behalf_of"),
        web=Web(path="cancel/", url_name="session-cancel", form=forms.CancelForm, done=_cancelled,
                terms=_cancel_terms),
        card=Card(template="sessions/actions/cancel.html", place=110, reasons=ChangeKind.CANCEL),
        api=Api(path="/cancel", body=schemas.CancelIn),
        admin=Admin(name="cancel_on_behalf", title="Cancel on behalf of parent/tutor",
                    form=forms.CancelOnBehalfForm, done="Cancelled {n}.",
                    intro="Cancel scheduled sessions for the parent or the tutor; the other side is "
                          "notified. The 4-hour self-service limit does not apply to coordinators."),
        bot=(Bot(key="cx", label="Cancel…", starts="cancel", done="Cancelled. The family is told."),),
        command=Command(name="cancel", help="cancel a session", verb="cancel",
                        candidates=rules.change_candidates),
    ),
    Action(
        name="reschedule", who=frozenset({TUTOR, PARENT}), guard=rules.guard_propose_reschedule,
        run=lifecycle.propose_reschedule, takes=("proposed_start", "reason_id", "note", "as_role"),
        web=Web(path="reschedule/", url_name="session-reschedule", form=forms.RescheduleForm,
                done="Reschedule request sent."),
        card=Card(template="sessions/actions/reschedule.html", place=100, reasons=ChangeKind.RESCHEDULE,
                  quiet=_proposer_waits),
        api=Api(path="/reschedule", body=schemas.ProposeIn, status=201),
        bot=(Bot(key="rs", label="Reschedule…", starts="reschedule",
                 done="Proposed. The parent is asked to answer."),),
        command=Command(name="reschedule", help="propose a new time", verb="reschedule",
                        candidates=rules.change_candidates),
    ),
    Action(
        name="accept_reschedule", who=frozenset({TUTOR, PARENT}), guard=rules.guard_accept_reschedule,
        run=lifecycle.accept_reschedule, takes=("on_behalf", "reason"), proposal=True, answers=True,
        web=Web(path="reschedule/accept/", url_name="session-accept", form=forms.ProposalForm,
                done="New time accepted: the session has moved."),
        card=Card(template="sessions/actions/accept_reschedule.html", place=60),
        api=Api(path="/reschedule/{proposal_id}/accept", body=schemas.OnBehalfIn,
                optional_body='{"on_behalf": true, "reason": "The parent agreed by phone"}', doc=ON_BEHALF_DOC),
        bot=(Bot(key="ac", label="Accept new time", done="Accepted: the session moves to the new time."),),
        on_behalf=OnBehalf(choice="accept", label="Accept the new time for them",
                           done="New time accepted for the {side}: the session has moved."),
    ),
    Action(
        name="reject_reschedule", who=frozenset({TUTOR, PARENT}), guard=rules.guard_answer_reschedule,
        run=lifecycle.reject_reschedule, takes=("reason", "on_behalf"), proposal=True, answers=True,
        web=Web(path="reschedule/reject/", url_name="session-reject", form=forms.RejectForm,
                done="Proposal declined: the session keeps its time."),
        card=Card(template="sessions/actions/reject_reschedule.html", place=70),
        api=Api(path="/reschedule/{proposal_id}/reject", body=schemas.RejectIn, doc=ON_BEHALF_DOC),
        bot=(Bot(key="rj", label="Reject…", starts="reject", done="Declined: the session keeps its time."),),
        on_behalf=OnBehalf(choice="reject", label="Reject it for them: the session keeps its time",
                           done="Request rejected for the {side}: the session keeps its time."),
    ),
    Action(
        name="counter_reschedule", who=frozenset({TUTOR, PARENT}), guard=rules.guard_answer_reschedule,
        run=lifecycle.counter_reschedule, takes=("proposed_start", "note"), proposal=True, answers=True,
        web=Web(path="reschedule/counter/", url_name="session-counter", form=forms.CounterForm,
                done="Counter-proposal sent."),
        card=Card(template="sessions/actions/counter_reschedule.html", place=80),
        api=Api(path="/reschedule/{proposal_id}/counter", body=schemas.CounterIn, status=201),
        bot=(Bot(key="ct", label="Counter…", starts="counter",
                 done="Proposed. The parent is asked to answer."),),
    ),
    Action(
        name="withdraw_reschedule", who=frozenset({TUTOR, PARENT}), guard=rules.guard_withdraw_reschedule,
        run=lifecycle.withdraw_reschedule, takes=("on_behalf", "reason"), proposal=True,
        web=Web(path="reschedule/withdraw/", url_name="session-withdraw", form=forms.ProposalForm,
                done="Reschedule request withdrawn."),
        card=Card(template="sessions/actions/withdraw_reschedule.html", place=90),
        api=Api(path="/reschedule/{proposal_id}/withdraw", body=schemas.OnBehalfIn,
                optional_body='{"on_behalf": true, "reason": "No answer for days"}', doc=ON_BEHALF_DOC),
        on_behalf=OnBehalf(choice="withdraw", label="Withdraw it for the side that proposed it",
                           done="Request withdrawn for the {side}: the session keeps its time.", for_proposer=True),
    ),
    Action(
        # the admin's page for it is desk/moves.py (one session, its new time and the conflicts)
        name="move", who=frozenset({COORDINATOR}), guard=rules.guard_move, run=lifecycle.move_session,
        takes=("start", "reason"),
        api=Api(path="/move", body=schemas.MoveIn,
                doc="A coordinator moves the session directly for both sides (no request, no 4-hour limit): "
                    "`start` in the future, the length kept, a `reason`; a clash with the tutor's or the "
                    "student's other sessions answers 409 with each in `errors`. An open request is closed."),
    ),
    Action(
        # notes.services.add_notes stores the files and runs lifecycle.record_notes with this guard;
        # the card links to the notes page (its partial, for the tutor), the bot takes them in the chat
        name="add_notes", who=frozenset({TUTOR}), guard=rules.guard_add_notes, run=None,
        card=Card(template="sessions/actions/add_notes.html", place=30, role=Party.TUTOR),
        bot=(Bot(key="nt", label="Add notes", starts="notes"),),
    ),
)

BY_NAME: dict[str, Action] = {action.name: action for action in ACTIONS}
# the card's parts in their places; its forms (the actions it offers, and gives reasons for when
# they are missing) in the same order
ON_CARD: tuple[Action, ...] = tuple(sorted((a for a in ACTIONS if a.card), key=lambda a: a.card.place))
CARD_FORMS: tuple[Action, ...] = tuple(a for a in ON_CARD if a.web)
# the bot's slash commands, in registry order (its /help lists them so)
COMMANDS: dict[str, Action] = {a.command.name: a for a in ACTIONS if a.command}
# the coordinator's answers for a side, by the desk form's choice
ON_BEHALF: dict[str, Action] = {a.on_behalf.choice: a for a in ACTIONS if a.on_behalf}

# Refusals that only say "not your action" or "not in this state": no reason to explain a missing
# action (on the card, or to the bot's command).
SILENT_CODES = frozenset({"not_allowed", "wrong_status", "no_open_request", "not_counterparty",
                          "not_proposer", "started"})
# A window that opens more than this far ahead is not worth a line.
EXPLAIN_WAIT = timedelta(hours=12)


def explains(action: Action, refused: Refused, ctx: rules.Ctx, role: str) -> bool:
    """Whether a missing action's refusal is worth telling the person acting in `role`: not a
    silent code, not a window opening more than EXPLAIN_WAIT ahead, not one its Card keeps quiet."""
    if refused.code in SILENT_CODES:
        return False
    if refused.code == "too_early" and ctx.session.scheduled_start - ctx.now > EXPLAIN_WAIT:
        return False
    quiet = action.card.quiet if action.card else None
    return not (quiet and quiet(refused, ctx, role))


def refusal(name: str, ctx: rules.Ctx):
    """The refusal of the named action's guard now, or None."""
    return rules.refusal(BY_NAME[name].guard, ctx)


def allowed_in(ctx: rules.Ctx) -> list[str]:
    """The actions the guards allow now, in registry order (the API's allowed_actions)."""
    return [action.name for action in ACTIONS if rules.refusal(action.guard, ctx) is None]


def allowed_actions(session: Session, viewer, now) -> list[str]:
    return allowed_in(projections.context(session, viewer, now))
