"""The notes pages: the tutor's notes form (straight after check-out, and later from the session),
the readers' view of the notes, and the two ways to an attachment: a redirect to a fresh
short-lived link for a reader, and the local-storage file view that honours such a link."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from sessions.access import Viewer
from sessions.errors import Refused
from sessions.models import Channel, Session
from tutoring.http import see_other

from . import selectors, services, storage, uploads


def _page_context(viewer: Viewer, session: Session, **extra) -> dict:
    refusal = selectors.can_add(viewer, session)
    return {
        "session": session,
        "notes": selectors.notes_of(session),
        "summary": selectors.summary_of(session),
        "can_add": refusal is None,
        "closed": refusal.message if refusal is not None and refusal.code == "notes_closed" else "",
        "is_tutor": session.tutor_id == viewer.id,
        "accept": ",".join(sorted(uploads.ALLOWED)),
        "max_mb": uploads.max_upload_mb(),
        **extra,
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def notes_page(request, session_id):
    """GET: the session's notes for any reader (and the form for the tutor while it is open).
    POST: the tutor adds notes; bad attachments are reported beside the saved note."""
    viewer = Viewer.of(request.user)
    session = selectors.session_for_reader(viewer, session_id)
    template = "notes/notes.html#notes" if request.htmx else "notes/notes.html"
    if request.method == "GET":
        return render(request, "notes/notes.html", _page_context(viewer, session))
    try:
        submission = services.add_notes(session, by=request.user, text=request.POST.get("text", ""),
                                        files=request.FILES.getlist("files"), channel=Channel.WEB)
    except Refused as exc:
        context = _page_context(viewer, session, error=exc.message, errors=exc.errors,
                                text=request.POST.get("text", ""))
        return render(request, template, context, status=200 if request.htmx else exc.status)
    saved = len(submission.attachments)
    done = "Notes saved" + (f" with {saved} attachment{'s' if saved != 1 else ''}." if saved else ".")
    problems = [str(r) for r in submission.refusals]
    if request.htmx:
        session = selectors.session_for_reader(viewer, session.id)
        return render(request, template, _page_context(viewer, session, done=done, problems=problems))
    messages.success(request, done)
    for problem in problems:
        messages.warning(request, f"Not attached: {problem}")
    return see_other(f"/sessions/{session.id}/notes/")


@login_required
@require_GET
def attachment(request, attachment_id):
    """A reader gets a fresh link that expires within 5 minutes; everyone else 404."""
    item = selectors.attachment_for(Viewer.of(request.user), attachment_id)
    inline = request.GET.get("inline") == "1" and item.inline_viewable
    response = HttpResponseRedirect(storage.link(item, inline=inline))
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def signed_file(request, token):
    """Local storage's stand-in for a presigned URL: the signature and age are checked, as the
    object store would; a tampered or expired link gets 403 and nothing else."""
    try:
        fh, content_type, disposition = storage.open_signed(token)
    except signing.SignatureExpired:
        return HttpResponse("This link has expired. Open the attachment again from the notes.", status=403,
                            content_type="text/plain")
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return HttpResponse("This link is not valid.", status=403, content_type="text/plain")
    except FileNotFoundError:
        return HttpResponse("This file is no longer stored.", status=404, content_type="text/plain")
    response = FileResponse(fh, content_type=content_type)
    response["Content-Disposition"] = disposition
    response["Cache-Control"] = "private, max-age=0, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    # never let an uploaded file run as a page of this site
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'"
    return response
