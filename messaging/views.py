"""The messages pages: the inbox, writing to someone (the conversation is made by the first
message), and one conversation.
Each page runs a fixed number of queries whatever the number of conversations or messages."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from tutoring.http import see_other
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
    """Write to this person if the two may talk; else 404. GET changes nothing: it opens the pair's
    conversation if there is one, else an empty compose form. The conversation is made by the
    first message's POST (issue 11 item 6: a GET has no side effect)."""
    other = User.objects.filter(pk=user_id).first()
    if other is None or not services.can_message(request.user, other):
        raise Http404("No one to message here.")
    back = safe_next(request)
    if request.method == "GET":
        conversation = services.existing_conversation(request.user, other)
        if conversation is not None:
            return redirect(with_next(services.thread_url(conversation), back))
        return _page(request, None, other, MessageForm(), back=back)
    return _send(request, None, other, back)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def thread(request, conversation_id):
    """GET: the last messages, oldest first; the other side's become read. POST: send one."""
    conversation = services.conversation_for(request.user, conversation_id)
    other = conversation.other(request.user)
    back = safe_next(request)
    if request.method == "POST":
        return _send(request, conversation, other, back)
    return _page(request, conversation, other, MessageForm(), back=back)


def _send(request, conversation, other, back):
    """Send the posted message (making the pair's conversation if `conversation` is None): a 303 to
    the thread, or with htmx its panel; a bad message gets the form again with its error."""
    form = MessageForm(request.POST)
    if form.is_valid() and not other.is_active:
        form.add_error("body", f"{other.name} no longer uses the site: your message was not sent.")
    if not form.is_valid():
        # htmx swaps only 2xx answers: it gets the form with its error as a 200
        return _page(request, conversation, other, form, back=back, status=200 if request.htmx else 422)
    if conversation is None:
        conversation, _ = services.conversation_between(request.user, other)
    services.send(conversation, request.user, form.cleaned_data["body"])
    if not request.htmx:
        return see_other(with_next(services.thread_url(conversation), back))
    response = _page(request, conversation, other, MessageForm(), back=back, sent=True)
    response["HX-Replace-Url"] = with_next(services.thread_url(conversation), back)
    return response


def _page(request, conversation, other, form, *, back, status=200, sent=False):
    """The thread page (or with htmx after a POST its panel). Without a conversation yet it is the
    compose form, which posts to /messages/with/{id}/."""
    if conversation is not None:
        here = with_next(services.thread_url(conversation), back)
        services.mark_read(conversation, request.user)
        thread_messages = services.thread(conversation)
    else:
        here = with_next(reverse("messages-with", args=[other.pk]), back)
        thread_messages = []
    context = {
        "conversation": conversation,
        "other": other,
        "thread_messages": thread_messages,
        "limit": services.THREAD_LIMIT,
        "form": form,
        "here": here,
        "back": back,
        "sent": sent,
    }
    partial = request.htmx and request.method == "POST"
    return render(request, "messaging/thread.html#panel" if partial else "messaging/thread.html", context,
                  status=status)
