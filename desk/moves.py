"""A coordinator moves a session or answers its open reschedule request (issue 17: running a week
from the desk and the admin). One admin page per session (Sessions → a session → Move or answer):
the move (a new start in the coordinator's zone, the length kept, a required reason) through
the registry's `move` (lifecycle.move_session), which refuses a past time and any clash with the tutor's or the student's
other sessions; and, while a request is open, the answer of the side that must answer (accept or
reject; or the proposer's withdrawal of a stuck one), with a reason, through the lifecycle's
on-behalf answers (the registry's entries with an OnBehalf part: their choices, labels and
confirmations): the same rules as the side's own answer. Each is one event with the coordinator
as actor, which tells the parents and the tutor (the outbox).

The desk's queue of open requests is the reschedule threads' list filtered to the open ones,
oldest first, with when each expires (the session's start, L40) and a link to this page."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from sessions import actions, projections, selectors
from sessions.access import Viewer
from sessions.errors import Refused
from sessions.forms import reason_field
from sessions.models import Channel, Party, RescheduleProposal, Session, ThreadStatus, counterparty
from tutoring.admin import is_admin_operator
from tutoring.input import DateTimeField, parse_id

MOVE, ANSWER = "_move", "_answer"
# the page's own action: the move (the registry's entry with the admin's page here)
MOVE_ACTION = actions.BY_NAME["move"]


class MoveForm(forms.Form):  # prefix "move": the page has two forms
    start = DateTimeField(label="New start", help_text="In your time zone. The session keeps its length.")
    reason = reason_field(label="Reason for the move", required_message="Please give a reason for the move.")


class AnswerForm(forms.Form):  # prefix "answer"
    answer = forms.ChoiceField(label="Answer", widget=forms.RadioSelect,
                               choices=[(choice, a.on_behalf.label) for choice, a in actions.ON_BEHALF.items()],
                               error_messages={"required": "Please choose an answer."})
    reason = reason_field(label="Reason", required_message="Please give a reason for the answer.")
    proposal = forms.IntegerField(widget=forms.HiddenInput)


def answer(session_id: int, proposal_id: int, *, by, answer: str, reason: str) -> Session:
    """The side's answer, given by a coordinator: the registry's entry whose OnBehalf choice it is."""
    return actions.ON_BEHALF[answer].perform(
        session_id, by=by, channel=Channel.ADMIN,
        data={"proposal_id": proposal_id, "on_behalf": True, "reason": reason})


def answered(choice: str, proposal: RescheduleProposal) -> str:
    """The answer's confirmation, naming the side it was given for."""
    on_behalf = actions.ON_BEHALF[choice].on_behalf
    role = proposal.proposed_by_role if on_behalf.for_proposer else counterparty(proposal.proposed_by_role)
    return on_behalf.done.format(side=Party(role).label.lower())


def move_page(modeladmin, request, object_id):
    """GET: the session, its open request and both forms. POST: the move or the answer; a refusal
    is shown in the lifecycle's words (422 for bad input, 409 for the state or a clash) and nothing
    changes."""
    if not is_admin_operator(request.user):
        raise PermissionDenied
    if (pk := parse_id(object_id)) is None:
        raise Http404("Session not found.")
    session = get_object_or_404(Session.objects.select_related("tutor", "student", "course"), pk=pk)
    move_form, answer_form, status, clashes = MoveForm(prefix="move"), None, 200, []
    if request.method == "POST" and MOVE in request.POST:
        move_form = MoveForm(request.POST, prefix="move")
        if move_form.is_valid():
            d = move_form.cleaned_data
            try:
                MOVE_ACTION.perform(session.pk, by=request.user, channel=Channel.ADMIN,
                                    data={"start": d["start"], "reason": d["reason"]})
            except Refused as exc:
                move_form.add_error(None, f"{exc.message} Nothing was changed.")
                clashes, status = exc.errors or [], exc.status
            else:
                messages.success(request, f"Session {session.pk} moved: the parents, the student and the tutor "
                                          "are told.")
                return HttpResponseRedirect(reverse("admin:tutoring_sessions_session_change", args=[session.pk]))
        else:
            status = 422
    elif request.method == "POST" and ANSWER in request.POST:
        answer_form = AnswerForm(request.POST, prefix="answer")
        if answer_form.is_valid():
            d = answer_form.cleaned_data
            proposal = selectors.proposal_of(session, d["proposal"])
            try:
                if proposal is None:
                    raise Refused("This request is no longer open.", code="proposal_not_open")
                answer(session.pk, proposal.pk, by=request.user, answer=d["answer"], reason=d["reason"])
            except Refused as exc:
                answer_form.add_error(None, f"{exc.message} Nothing was changed.")
                status = exc.status
            else:
                messages.success(request, answered(d["answer"], proposal) + " The parents and the tutor are told.")
                return HttpResponseRedirect(reverse("admin:tutoring_sessions_session_change", args=[session.pk]))
        else:
            status = 422
    # the session as it now is, read once: its open request and whether its move's guard allows it
    ctx = projections.context(session, Viewer.of(request.user), timezone.now())
    proposal = ctx.open_proposal
    if proposal is None and answer_form is not None and answer_form.is_bound:
        for error in answer_form.non_field_errors():  # the request closed meanwhile: no form to show it on
            messages.error(request, error)
    if proposal is not None and answer_form is None:
        answer_form = AnswerForm(initial={"proposal": proposal.pk}, prefix="answer")
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": Session._meta, "title": f"Move or answer: session {session.pk}", "s": session,
        "proposal": proposal, "answering": counterparty(proposal.proposed_by_role) if proposal else "",
        "move_form": move_form, "answer_form": answer_form if proposal else None, "clashes": clashes,
        "move_name": MOVE, "answer_name": ANSWER, "zone": request.user.time_zone,
        # the move's own guard decides whether the form is offered, in its words (again on POST)
        "cannot_move": actions.refusal(MOVE_ACTION.name, ctx),
    }
    return TemplateResponse(request, "desk/move.html", context, status=status)


# --- the desk's queue: open requests, oldest first --------------------------------------------


class OpenRequestColumns:
    """Columns the desk adds to the reschedule threads' list (sessions/admin.py): when the request
    expires, who must answer, and a link to answer it (two subqueries and a join: no query per row)."""

    annotate = staticmethod(selectors.with_open_request)

    @staticmethod
    @admin.display(description="expires", ordering="session__scheduled_start")
    def expires(obj):
        if obj.status != ThreadStatus.OPEN:
            return "—"
        return obj.session.scheduled_start

    @staticmethod
    @admin.display(description="proposed time")
    def proposed_time(obj):
        return obj.open_start or "—"

    @staticmethod
    @admin.display(description="who must answer")
    def must_answer(obj):
        if obj.status != ThreadStatus.OPEN or not obj.open_by_role:
            return "—"
        return Party(counterparty(obj.open_by_role)).label

    @staticmethod
    @admin.display(description="act")
    def answer_link(obj):
        if obj.status != ThreadStatus.OPEN:
            return "—"
        return format_html('<a href="{}">Answer or move</a>',
                           reverse("admin:tutoring_sessions_session_move", args=[obj.session_id]))
