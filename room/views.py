"""The Session Room's pages (spec 002): /session/<id> is the pre-join screen, the call and the
post-session screen of one session, for its tutor and its student only.

Everyone else who may see the session gets "You're not part of this session." (403); an id
nobody may see, or that does not exist, gets "Session not found. Check your dashboard." (404),
so other people's sessions never leak. The call itself runs in the browser (static/js/room.js)
over the socket of room/consumers.py; these views render, and take the forms: check-in (through
the lifecycle), feedback and resources (room/services.py).
"""

import base64
import hashlib
import hmac
import json
import logging
import time
from dataclasses import replace

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sessions import projections, rules
from sessions import room_states as states
from sessions.access import Relation, Viewer
from sessions.errors import Refused
from sessions.models import RecordingStatus, Session, SessionAssessment, VideoProvider
from tutoring.csp import allow_frames
from tutoring.http import see_other
from tutoring.input import parse_json
from video import browser_recordings, presence, recordings
from video import services as video_services
from video.errors import UNAVAILABLE
from video.models import configured_providers

from . import services

log = logging.getLogger(__name__)

NOT_FOUND = states.NOT_FOUND
NOT_PARTICIPANT = states.NOT_PARTICIPANT
CAMERA_DENIED = "Please allow camera/microphone access."
CONNECTION_FAILED = states.CONNECTION_FAILED
DASHBOARDS = {"tutor": "/teach/", "student": "/learn/"}
COURSE_PAGES = {"tutor": "teach-course", "student": "learn-course"}  # "Back to Course" (spec 002, R03)


class NotAllowed(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def refused_page(request, exc: NotAllowed):
    return render(request, "room/refused.html", {"message": exc.message}, status=exc.status)


def participant_session(user, session_id) -> tuple[Session, str]:
    """The session and the viewer's role in it (tutor or student), else NotAllowed."""
    try:
        pk = int(session_id)
    except (TypeError, ValueError):
        raise NotAllowed(404, NOT_FOUND) from None
    session = Session.objects.select_related("course", "tutor", "student").filter(pk=pk).first()
    if session is None or not Viewer.of(user).relations(session):
        raise NotAllowed(404, NOT_FOUND)
    role = states.role_of(session, user.id)
    if role is None:
        raise NotAllowed(403, NOT_PARTICIPANT)
    return session, role


def room_view(view):
    """login_required, then the session for a participant or the refusal page."""

    @login_required
    def wrapped(request, session_id, *args, **kwargs):
        try:
            session, role = participant_session(request.user, session_id)
        except NotAllowed as exc:
            return refused_page(request, exc)
        return view(request, session, role, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@login_required
def unknown(request, rest=""):
    """/session/<anything that is not a session id>."""
    return refused_page(request, NotAllowed(404, NOT_FOUND))


# --- the page ----------------------------------------------------------------------------------


def ice_servers(user) -> list[dict]:
    """STUN/TURN from the settings; with coturn's shared secret, a TURN login for this user that
    expires (coturn's REST-API scheme: username "<expiry>:<user id>", HMAC-SHA1 password)."""
    servers = [{"urls": settings.ROOM_STUN_URLS}] if settings.ROOM_STUN_URLS else []
    if settings.ROOM_TURN_URLS:
        if settings.ROOM_TURN_SECRET:
            username = f"{int(time.time()) + settings.ROOM_TURN_TTL_SECONDS}:{user.id}"
            digest = hmac.new(settings.ROOM_TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
            credential = base64.b64encode(digest).decode()
        else:
            username, credential = settings.ROOM_TURN_USERNAME, settings.ROOM_TURN_PASSWORD
        servers.append({"urls": settings.ROOM_TURN_URLS, "username": username, "credential": credential})
    return servers


def _local(moment, user, fmt="%a %d %b %H:%M") -> str:
    return f"{moment.astimezone(user.tzinfo):{fmt}}"


def _present(session) -> tuple[set[int], bool]:
    """Who is in the room, and whether presence could be read at all (Redis down: nobody)."""
    try:
        return presence.present_user_ids(session.id), True
    except Exception:  # noqa: BLE001 - the page still renders; the socket will say what is wrong
        log.warning("room %s: presence unavailable", session.id, exc_info=True)
        return set(), False


def reschedule_offer(session, user, now) -> dict:
    """"Reschedule instead" where the lifecycle still allows it (the tutor; the student's parent
    asks for the student), else the lifecycle's own reason when only the time stands in the way."""
    viewer = Viewer.of(user)
    ctx = projections.context(session, viewer, now)
    refused = rules.refusal(rules.guard_propose_reschedule, ctx)
    if refused is None:
        return {"allowed": True}
    # the student may not: point them to their parent when the same guard would let the parent ask
    # now (an open request aside: the parent can answer that one from their page too)
    as_parent = replace(ctx, rels=frozenset({Relation.PARENT}), open_thread=None, open_proposal=None)
    if refused.code == "not_allowed" and rules.refusal(rules.guard_propose_reschedule, as_parent) is None:
        return {"allowed": False, "note": "Can't make it? Your parent can request a new time from their page."}
    if refused.code == "locked":
        return {"allowed": False, "note": refused.message}
    return {"allowed": False}


def page_context(request, session: Session, role: str, *, post: bool, **extra) -> dict:
    user, now = request.user, timezone.now()
    present, presence_ok = _present(session)
    view = states.room_state(session, viewer_id=user.id, present=present,
                             joined=services.joined_user_ids(session.id), now=now)
    other = states.other_participant(session, user.id)
    post = post or view.final
    mine = SessionAssessment.objects.filter(session=session, author_role=role).first()
    feedback_refused = services.feedback_refusal(session, user.id, now)
    ws_scheme = "wss" if request.is_secure() else "ws"
    provider = video_services.provider_name_for(session)
    provider_ok = provider in configured_providers()
    recorded = browser_recordings.records_in_browser(session)
    recording_now = recorded and browser_recordings.recording_now(session.id, now)
    config = {
        "sessionId": session.id,
        "role": role,
        "other": other.name,
        "socketUrl": f"{ws_scheme}://{request.get_host()}/ws/session/{session.id}/",
        "iceServers": ice_servers(user),
        "opensAt": states.opens_at(session).isoformat(),
        "start": session.scheduled_start.isoformat(),
        "end": session.scheduled_end.isoformat(),
        "state": view.as_dict() | {"recording": recording_now},
        "provider": provider,
        "recording": {"mine": recorded and role == "tutor", "startUrl": f"/session/{session.id}/recording"},
        "joinUrl": f"/api/sessions/{session.id}/video/join",
        "checkInUrl": f"/session/{session.id}/check-in",
        "afterUrl": f"/session/{session.id}?after=1",
        "texts": {"denied": CAMERA_DENIED, "connection": CONNECTION_FAILED, "provider": UNAVAILABLE,
                  "ended": states.SESSION_ENDED},
    }
    return {
        "session": session, "role": role, "other": other, "view": view, "post": post, "config": config,
        "title": session.course.title if session.course else "Session",
        "when": f"{_local(session.scheduled_start, user)}–{_local(session.scheduled_end, user, '%H:%M')}",
        "zone": user.time_zone,
        "opens_at": _local(states.opens_at(session), user, "%H:%M"),
        "ends_at": _local(session.scheduled_end, user, "%H:%M"),
        "dashboard": DASHBOARDS[role],
        "course_url": reverse(COURSE_PAGES[role], args=[session.course_id]) if session.course_id else "",
        "can_rejoin": states.entry_refusal(session, user.id, now, other_present=other.id in present) is None,
        "provider_ok": provider_ok, "presence_ok": presence_ok,
        "provider_mode": provider != VideoProvider.P2P, "provider_label": VideoProvider(provider).label,
        "provider_origin": video_services.client_origin(provider),
        "recorded": recorded, "recording_now": recording_now,
        "recording": recordings.latest_recording(session) if post else None,
        "recording_pending": post and session.recordings.filter(status=RecordingStatus.PROCESSING).exists(),
        "reschedule": reschedule_offer(session, user, now) if not post else {},
        "resources": list(session.resources.order_by("created_at", "id")),
        "can_upload": role == "tutor" and services.resources_refusal(session, user.id) is None,
        "feedback": mine,
        "feedback_open": feedback_refused is None and (mine is None or now < services.editable_until(mine)),
        "feedback_closed": feedback_refused.message if feedback_refused else "",
        "feedback_until": _local(services.editable_until(mine), user) if mine else "",
        "ratings": [(5, "Excellent"), (4, "Good"), (3, "OK"), (2, "Poor"), (1, "Very poor")],
        "accept": ",".join(sorted(services.uploads.ALLOWED)),
        "max_mb": services.uploads.max_upload_mb(),
        **extra,
    }


@never_cache
@require_GET
@room_view
def room(request, session, role):
    """The pre-join screen and the call while the room is open; the post-session screen after."""
    services.page_viewed(session, request.user)
    context = page_context(request, session, role, post=request.GET.get("after") == "1")
    response = render(request, "room/room.html", context)
    if context["provider_mode"] and not context["post"]:
        allow_frames(response, context["provider_origin"])  # the provider's client, and nothing else
    return response


# --- actions -----------------------------------------------------------------------------------


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
@room_view
def check_in(request, session, role):
    """One click from the room (JSON for the room's script, a redirect back without it)."""
    try:
        session = services.check_in(session, by=request.user)
    except Refused as exc:
        if _wants_json(request):
            return JsonResponse(exc.as_dict(), status=exc.status)
        messages.error(request, exc.message)
        return see_other(f"/session/{session.id}")
    label = projections.status_label(session, frozenset({Relation.TUTOR}))
    if _wants_json(request):
        return JsonResponse({"detail": "Checked in.", "status_label": label})
    messages.success(request, "Checked in.")
    return see_other(f"/session/{session.id}")


@require_POST
@room_view
def feedback(request, session, role):
    """The participant's rating and comment (the post-session screen's form; works without JS)."""
    try:
        services.save_feedback(session, by=request.user, rating=request.POST.get("rating"),
                               comment=request.POST.get("comment", ""))
    except Refused as exc:
        context = page_context(request, session, role, post=True, feedback_error=exc.message,
                               feedback_data=request.POST)
        return render(request, "room/room.html", context, status=exc.status)
    messages.success(request, "Thank you: your feedback was saved.")
    return see_other(f"/session/{session.id}?after=1#feedback")


@require_POST
@room_view
def upload_resources(request, session, role):
    """The tutor shares files (checked and stored like notes' attachments)."""
    try:
        result = services.add_resources(session, by=request.user, files=request.FILES.getlist("files"))
    except Refused as exc:
        context = page_context(request, session, role, post=True, upload_error=exc.message)
        return render(request, "room/room.html", context, status=exc.status)
    count = len(result.resources)
    messages.success(request, f"Uploaded {count} resource{'s' if count != 1 else ''}.")
    for refusal in result.refusals:
        messages.warning(request, f"Not uploaded: {refusal}")
    return see_other(f"/session/{session.id}?after=1#resources")


@require_GET
@room_view
def resource(request, session, role, resource_id):
    """A participant gets a fresh download link that expires within 5 minutes."""
    item = session.resources.filter(pk=resource_id).first()
    if item is None:
        return refused_page(request, NotAllowed(404, "Resource not found."))
    response = HttpResponseRedirect(services.resource_link(item))
    response["Cache-Control"] = "private, no-store"
    return response


# --- the built-in room's recording: the tutor's browser uploads it in parts ----------------------


def recording_view(view):
    """A JSON endpoint of the room for the session's participants: 401 without a sign-in, the
    room's own refusals (404 "Session not found...", 403 "You're not part of this session.") and
    every Refused as {"detail", "code"} with its status."""

    def wrapped(request, session_id, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse({"detail": "Sign in first.", "code": "not_signed_in"}, status=401)
        try:
            session, role = participant_session(request.user, session_id)
        except NotAllowed as exc:
            code = "not_found" if exc.status == 404 else "not_participant"
            return JsonResponse({"detail": exc.message, "code": code}, status=exc.status)
        try:
            return view(request, session, role, *args, **kwargs)
        except Refused as exc:
            return JsonResponse(exc.as_dict(), status=exc.status)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _json_body(request) -> dict:
    try:  # parse_json: JSON nested too deep is a ValueError too (json.loads raised RecursionError)
        body = parse_json(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Refused("Send a JSON object.", code="invalid_json", status=422)
    return body


def _upload_urls(session, copy) -> dict:
    base = f"/session/{session.id}/recording/{copy.pk}"
    return {"id": copy.pk, "parts_url": f"{base}/parts/", "complete_url": f"{base}/complete",
            "part_bytes": browser_recordings.part_bytes(), "max_parts": browser_recordings.max_parts()}


@never_cache
@require_POST
@recording_view
def recording_start(request, session, role):
    """The tutor's browser starts recording the call: {id, parts_url, complete_url, part_bytes, max_parts}."""
    body = _json_body(request)
    copy = browser_recordings.start(session, by=request.user, content_type=str(body.get("content_type") or ""))
    return JsonResponse(_upload_urls(session, copy), status=201)


@never_cache
@require_http_methods(["PUT"])
@recording_view
def recording_part(request, session, role, recording_id, number):
    """PUT the raw bytes of part `number` (1, 2, ...): each exactly part_bytes but the last."""
    limit = browser_recordings.part_bytes()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:  # refused before a byte is read
        raise Refused(f"A part may be at most {limit:,} bytes.", code="part_too_large", status=413)
    data = request.read(limit + 1)  # without a length (chunked), add_part refuses what runs over
    return JsonResponse(browser_recordings.add_part(session, recording_id, number, data, by=request.user))


@never_cache
@require_POST
@recording_view
def recording_complete(request, session, role, recording_id):
    """The recording ends ({"duration_seconds"}): completed, checked, and played like any other."""
    body = _json_body(request)
    recording = browser_recordings.complete(session, recording_id, by=request.user,
                                            duration_seconds=body.get("duration_seconds"))
    return JsonResponse({"recording": recording.pk, "status": recording.status, "bytes": recording.size_bytes})
