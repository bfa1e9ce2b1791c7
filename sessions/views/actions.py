"""The session actions from the web pages, one view per entry of the action registry
(sessions/actions.py) that has a Web part: parse its form, find the session the user may see
(else 404), call the action's lifecycle function with channel=web, then answer with the current card.

htmx requests get the card partial back (a refusal inline at the action, the input kept); other
requests are redirected back to the page they came from (303), so reload and back behave; a
refusal re-renders the session's page with the message and the input. A second submission of
the same action (double click, two tabs) is refused by the lifecycle and shows the current state.
An action whose terms are confirmed first (its Web part's `terms`: cancel) shows them on GET: the
cancel panel with the penalty guidance."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from tutoring.http import see_other

from ..access import Viewer, get_session_for
from ..actions import ACTIONS, Action
from ..errors import INVALID, Refused
from ..models import Channel
from .pages import acting_role, back_to, card_response


def _first_error(form) -> str:
    for errors in form.errors.values():
        return errors[0]
    return "Please check the form."


def _run(request, session_id, action: Action):
    """Validate the form, run the action with its cleaned data, answer with the card or a redirect."""
    web = action.web
    session = get_session_for(Viewer.of(request.user), session_id)
    with timezone.override(request.user.tzinfo):
        form = web.form(request.POST) if web.form else None
        try:
            if form is not None and not form.is_valid():
                raise Refused(_first_error(form), code="invalid", status=INVALID)
            result = action.perform(session, by=request.user, channel=Channel.WEB,
                                    data=form.cleaned_data if form is not None else {})
        except Refused as exc:
            error = {"action": action.name, "message": exc.message}
            status = 200 if request.htmx else exc.status
            extra = {"guidance": _terms(request, session, action)} if web.terms else {}
            return card_response(request, session.id, status=status, error=error, data=request.POST, **extra)
    done = web.done(session) if callable(web.done) else web.done
    then = web.then(result) if web.then else None
    if then:
        # straight to the next page (the notes form after check-out), with htmx too (HX-Redirect)
        messages.success(request, done)
        return HttpResponseClientRedirect(then) if request.htmx else see_other(then)
    if request.htmx:
        return card_response(request, session.id, done=done)
    messages.success(request, done)
    return see_other(f"{back_to(request, session.id).split('#')[0]}#session-{session.id}")


def _terms(request, session, action: Action) -> dict:
    """The action's terms for the side the viewer acts in (its Web part's `terms`), or the refusal."""
    viewer = Viewer.of(request.user)
    as_role = (request.POST.get("as_role") or request.GET.get("as_role")
               or acting_role(viewer.relations(session)))
    try:
        return action.web.terms(session, by=request.user, as_role=as_role or None)
    except Refused as exc:
        return {"allowed": False, "refusal": exc.message}


def view(action: Action):
    """The web view of one registry entry: POST runs it; with `terms`, GET shows them first (the
    cancel panel: reason picker, penalty guidance, waiver reminder, confirmation) and the POST
    confirms the band that was shown (policy_id)."""

    def action_view(request, session_id):
        if request.method == "GET":
            session = get_session_for(Viewer.of(request.user), session_id)
            return card_response(request, session.id, guidance=_terms(request, session, action))
        return _run(request, session_id, action)

    action_view.__name__ = action_view.__qualname__ = action.name
    methods = ["GET", "POST"] if action.web.terms else ["POST"]
    return login_required(require_http_methods(methods)(action_view))


VIEWS = {action.name: view(action) for action in ACTIONS if action.web}
