"""The messages pages: the inbox, starting a conversation with someone, and one conversation.
Each page runs a fixed number of queries whatever the number of conversations or messages."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from tutoring.models import User

from . import services
from .forms import MessageForm


def safe_next(request) -> str:
    """The `next` the page was given, if it is a path on this site; else ''."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return ""


def with_next(url: str, back: str) -> str:
    return f"{url}?{urlencode({'next': back})}" if back else url


def see_other(url: str):
    """A 303 after a POST: the browser GETs the page, so reload and back never post again."""
    response = redirect(url)
    response.status_code = 303
    return response


@never_cache
@login_required
@require_GET
def inbox(request):
    return render(request, "messaging/inbox.html", {"rows": services.inbox(request.user),
                                                    "people": services.people_to_message(request.user)})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def with_user(request, user_id):
    """Open the conversation with this person (made on first use) if the two may talk; else 404."""
    other = User.objects.filter(pk=user_id).first()
    if other is None or not services.can_message(request.user, other):
        raise Http404("No one to message here.")
    conversation, _ = services.conversation_between(request.user, other)
    url = with_next(services.thread_url(conversation), safe_next(request))
    return see_other(url) if request.method == "POST" else redirect(url)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def thread(request, conversation_id):
    """GET: the last messages, oldest first; the other side's become read. POST: send one."""
    conversation = services.conversation_for(request.user, conversation_id)
    other = conversation.other(request.user)
    back = safe_next(request)
    here = with_next(services.thread_url(conversation), back)
    form = MessageForm()
    status = 200
    sent = False
    if request.method == "POST":
        form = MessageForm(request.POST)
        if form.is_valid() and not other.is_active:
            form.add_error("body", f"{other.name} no longer uses the site: your message was not sent.")
        if form.is_valid():
            services.send(conversation, request.user, form.cleaned_data["body"])
            if not request.htmx:
                return see_other(here)
            form, sent = MessageForm(), True
        elif not request.htmx:
            status = 422  # htmx swaps only 2xx answers: it gets the form with its error as a 200
    services.mark_read(conversation, request.user)
    context = {
        "conversation": conversation,
        "other": other,
        "thread_messages": services.thread(conversation),
        "limit": services.THREAD_LIMIT,
        "form": form,
        "here": here,
        "back": back,
        "sent": sent,
    }
    partial = request.htmx and request.method == "POST"
    return render(request, "messaging/thread.html#panel" if partial else "messaging/thread.html", context,
                  status=status)
