"""The session actions from the web pages: parse the form, find the session the user may see
(else 404), call sessions.lifecycle with channel=web, then answer with the current card.

htmx requests get the card partial back (a refusal inline at the action, the input kept); other
requests are redirected back to the page they came from (303), so reload and back behave; a
refusal re-renders the session's page with the message and the input. A second submission of
the same action (double click, two tabs) is refused by the lifecycle and shows the current state."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from .. import lifecycle, projections
from ..access import Viewer, get_session_for
from ..errors import INVALID, Refused
from ..forms import (
    CancelForm,
    CheckOutForm,
    CounterForm,
    DisputeForm,
    ProposalForm,
    RejectForm,
    RescheduleForm,
)
from ..models import Channel, Status
from .pages import acting_role, back_to, card_response, see_other

DONE = {
    "check_in": "Checked in.",
    "check_out": "Checked out: now write your session notes.",
    "acknowledge": "Session acknowledged.",
    "dispute": "Dispute sent: a coordinator will review it.",
    "cancel": "Session cancelled.",
    "reschedule": "Reschedule request sent.",
    "accept_reschedule": "New time accepted: the session has moved.",
    "reject_reschedule": "Proposal declined: the session keeps its time.",
    "counter_reschedule": "Counter-proposal sent.",
    "withdraw_reschedule": "Reschedule request withdrawn.",
}


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "Please check the form."


def _run(request, session_id, action: str, form_class, call):
    """Validate the form, run call(session, cleaned_data), answer with the card or a redirect."""
    session = get_session_for(Viewer.of(request.user), session_id)
    with timezone.override(request.user.tzinfo):
        form = form_class(request.POST) if form_class else None
        try:
            if form is not None and not form.is_valid():
                raise Refused(_first_error(form), code="invalid", status=INVALID)
            result = call(session, form.cleaned_data if form is not None else {})
        except Refused as exc:
            error = {"action": action, "message": exc.message}
            status = 200 if request.htmx else exc.status
            return card_response(request, session.id, status=status, error=error, data=request.POST,
                                 **_cancel_extra(request, session, action))
    if action == "check_out" and result.status == Status.AWAITING_APPROVAL_PARENT:
        # "after check-out the tutor is prompted for notes" (spec 004): straight to the notes form,
        # with htmx too (HX-Redirect); a student who did not attend needs no notes
        messages.success(request, DONE[action])
        notes = f"/sessions/{session.id}/notes/"
        return HttpResponseClientRedirect(notes) if request.htmx else see_other(notes)
    done = _cancelled(session) if action == "cancel" else DONE[action]
    if request.htmx:
        return card_response(request, session.id, done=done)
    messages.success(request, done)
    return see_other(f"{back_to(request, session.id).split('#')[0]}#session-{session.id}")


def _cancelled(session) -> str:
    """The cancellation's confirmation restates the charge that applied (the band it confirmed)."""
    event = session.events.filter(kind="cancel").order_by("-id").first()
    return f"Session cancelled. Charge: {projections.charge_text(event.data if event else {})}."


def _cancel_extra(request, session, action) -> dict:
    if action != "cancel":
        return {}
    return {"guidance": _guidance(request, session)}


def _guidance(request, session) -> dict:
    viewer = Viewer.of(request.user)
    as_role = (request.POST.get("as_role") or request.GET.get("as_role")
               or acting_role(viewer.relations(session)))
    try:
        return lifecycle.cancellation_guidance(session, by=request.user, as_role=as_role or None)
    except Refused as exc:
        return {"allowed": False, "refusal": exc.message}


@login_required
@require_POST
def check_in(request, session_id):
    return _run(request, session_id, "check_in", None,
                lambda s, d: lifecycle.check_in(s, by=request.user, channel=Channel.WEB))


@login_required
@require_POST
def check_out(request, session_id):
    return _run(request, session_id, "check_out", CheckOutForm,
                lambda s, d: lifecycle.check_out(s, by=request.user, student_absent=d["student_absent"],
                                                 channel=Channel.WEB))


@login_required
@require_POST
def acknowledge(request, session_id):
    return _run(request, session_id, "acknowledge", None,
                lambda s, d: lifecycle.acknowledge(s, by=request.user, channel=Channel.WEB))


@login_required
@require_POST
def dispute(request, session_id):
    return _run(request, session_id, "dispute", DisputeForm,
                lambda s, d: lifecycle.dispute(s, by=request.user, reason=d["reason"], channel=Channel.WEB))


@login_required
@require_http_methods(["GET", "POST"])
def cancel(request, session_id):
    """GET: the cancel panel (reason picker, penalty guidance, waiver reminder, confirmation);
    POST: cancel, confirming the penalty band that was shown (policy_id)."""
    if request.method == "GET":
        session = get_session_for(Viewer.of(request.user), session_id)
        return card_response(request, session.id, guidance=_guidance(request, session))
    return _run(request, session_id, "cancel", CancelForm,
                lambda s, d: lifecycle.cancel(s, by=request.user, reason_id=d["reason_id"], note=d["note"],
                                              policy_id=d["policy_id"], as_role=d["as_role"] or None,
                                              channel=Channel.WEB))


@login_required
@require_POST
def reschedule(request, session_id):
    return _run(request, session_id, "reschedule", RescheduleForm,
                lambda s, d: lifecycle.propose_reschedule(
                    s, by=request.user, proposed_start=d["proposed_start"], reason_id=d["reason_id"],
                    note=d["note"], as_role=d["as_role"] or None, channel=Channel.WEB))


@login_required
@require_POST
def accept_reschedule(request, session_id):
    return _run(request, session_id, "accept_reschedule", ProposalForm,
                lambda s, d: lifecycle.accept_reschedule(s, d["proposal_id"], by=request.user,
                                                         channel=Channel.WEB))


@login_required
@require_POST
def reject_reschedule(request, session_id):
    return _run(request, session_id, "reject_reschedule", RejectForm,
                lambda s, d: lifecycle.reject_reschedule(s, d["proposal_id"], by=request.user,
                                                         reason=d["reason"], channel=Channel.WEB))


@login_required
@require_POST
def counter_reschedule(request, session_id):
    return _run(request, session_id, "counter_reschedule", CounterForm,
                lambda s, d: lifecycle.counter_reschedule(s, d["proposal_id"], by=request.user,
                                                          proposed_start=d["proposed_start"], note=d["note"],
                                                          channel=Channel.WEB))


@login_required
@require_POST
def withdraw_reschedule(request, session_id):
    return _run(request, session_id, "withdraw_reschedule", ProposalForm,
                lambda s, d: lifecycle.withdraw_reschedule(s, d["proposal_id"], by=request.user,
                                                           channel=Channel.WEB))
