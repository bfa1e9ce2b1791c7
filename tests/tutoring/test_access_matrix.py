"""Issue 18 item 3 (the access matrix): every role (parent, tutor, student, creator, coordinator),
an outsider and an anonymous visitor against every page, action, API route, file link, socket and
feed, pointed at the objects of *another* family, tutor, course and creator. Nobody outside sees
them (404 for an object they may not see; a role page may say whose it is: 403), nothing of theirs
shows on any page (their names, course, note text), and nothing changes: the rows of every table
of the project's apps are counted before and after each caller's round, and the sessions, events
and notes after every single request.

The table is keyed by the URL resolver's patterns (the API's included): a URL added without an
entry here fails `test_every_url_pattern_has_an_entry`."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.db import connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.http import urlencode

from messaging.models import Conversation, Message
from notes.models import Attachment, Note
from notifications.models import Notification
from sessions.models import RescheduleProposal, Session, SessionEvent, Status
from tests.conftest import NOW, make_user
from tutoring.models import Course, Enrollment, Guardianship, Match, Role

# what is theirs: none of it may appear on a page of anyone outside (coordinators excepted)
SECRETS = ["Fay Foreign", "Fin Foreign", "Tom Foreign", "Cora Foreign", "Secret Course", "secret-note-text",
           "secret-message-text"]

# pattern -> the requests that probe it: (method, url with {placeholders} for their objects, data).
# A pattern with no object of its own is still requested, for leaks and for changes.
S = "{session}"
WEEKLY = {"weekdays": [1], "start_time": "10:00", "minutes": 60, "starts_on": "2026-11-24"}
PROBES: dict[str, list[tuple[str, str, dict | None]]] = {
    "healthz": [("GET", "/healthz", None)],
    "favicon.ico": [("GET", "/favicon.ico", None)],
    "admin/": [("GET", f"/admin/tutoring_sessions/session/{S}/change/", None),
               ("POST", f"/admin/tutoring_sessions/session/{S}/delete/", {"post": "yes"})],
    "accounts/logout/": [],  # signs the caller out: no object, nothing to leak
    "accounts/password_reset/": [("GET", "/accounts/password_reset/", None)],
    "accounts/reset/<uidb64>/<token>/": [("GET", "/accounts/reset/{uid}/set-password/", None),
                                         ("POST", "/accounts/reset/{uid}/made-up-token/",
                                          {"new_password1": "Zz9!takeover", "new_password2": "Zz9!takeover"})],
    "accounts/login/": [("GET", "/accounts/login/", None)],
    "accounts/password_change/": [("GET", "/accounts/password_change/", None)],
    "accounts/password_change/done/": [("GET", "/accounts/password_change/done/", None)],
    "accounts/password_reset/done/": [("GET", "/accounts/password_reset/done/", None)],
    "accounts/reset/done/": [("GET", "/accounts/reset/done/", None)],
    "role/": [("POST", "/role/", {"role": "coordinator"})],
    # the API
    "api/openapi.json": [("GET", "/api/openapi.json", None)],
    "api/docs": [("GET", "/api/docs", None)],
    "api/me": [("GET", "/api/me", None)],
    "api/cancellation-reasons": [("GET", "/api/cancellation-reasons", None)],
    "api/sessions": [("GET", "/api/sessions", None),
                     ("POST", "/api/sessions", {"tutor_id": "{tom}", "student_id": "{fin}", "course_id": "{course}",
                                                "scheduled_start": "2026-11-20T10:00:00Z",
                                                "scheduled_end": "2026-11-20T11:00:00Z"})],
    "api/sessions/adhoc": [("POST", "/api/sessions/adhoc",
                            {"student_id": "{fin}", "course_id": "{course}", "sessions": [
                                {"scheduled_start": "2026-11-15T10:00:00Z", "scheduled_end": "2026-11-15T11:00:00Z"}]})],
    "api/sessions/<session_id>": [("GET", f"/api/sessions/{S}", None)],
    "api/sessions/<session_id>/events": [("GET", f"/api/sessions/{S}/events", None)],
    "api/sessions/<session_id>/cancellation-guidance": [("GET", f"/api/sessions/{S}/cancellation-guidance", None)],
    "api/sessions/<session_id>/check-in": [("POST", "/api/sessions/{now_on}/check-in", {})],
    "api/sessions/<session_id>/check-out": [("POST", "/api/sessions/{checked_in}/check-out", {})],
    "api/sessions/<session_id>/acknowledge": [("POST", "/api/sessions/{awaiting}/acknowledge", {})],
    "api/sessions/<session_id>/dispute": [("POST", "/api/sessions/{awaiting}/dispute",
                                           {"reason": "The lesson did not happen at all."})],
    "api/sessions/<session_id>/verify": [("POST", "/api/sessions/{awaiting}/verify", {"reason": "It happened."})],
    "api/sessions/<session_id>/move": [("POST", f"/api/sessions/{S}/move",
                                        {"start": "2026-11-27T10:00:00+00:00", "reason": "The tutor is ill."})],
    "api/sessions/<session_id>/resolve-dispute": [("POST", "/api/sessions/{awaiting}/resolve-dispute",
                                                   {"decision": "approve", "reason": "fine"})],
    "api/sessions/<session_id>/cancel": [("POST", f"/api/sessions/{S}/cancel",
                                          {"reason_id": "{reason}", "policy_id": None})],
    "api/sessions/<session_id>/reschedule": [("POST", f"/api/sessions/{S}/reschedule",
                                              {"proposed_start": "2026-11-25T10:00:00Z", "reason_id": "{reason}"})],
    "api/sessions/<session_id>/reschedule/<proposal_id>/accept": [
        ("POST", "/api/sessions/{threaded}/reschedule/{proposal}/accept", {})],
    "api/sessions/<session_id>/reschedule/<proposal_id>/reject": [
        ("POST", "/api/sessions/{threaded}/reschedule/{proposal}/reject", {"reason": "No."})],
    "api/sessions/<session_id>/reschedule/<proposal_id>/counter": [
        ("POST", "/api/sessions/{threaded}/reschedule/{proposal}/counter", {"proposed_start": "2026-11-26T10:00:00Z"})],
    "api/sessions/<session_id>/reschedule/<proposal_id>/withdraw": [
        ("POST", "/api/sessions/{threaded}/reschedule/{proposal}/withdraw", {})],
    "api/creators/me/sessions": [("GET", "/api/creators/me/sessions?course={course}", None)],
    "api/creators/me/sessions/upcoming": [("GET", "/api/creators/me/sessions/upcoming", None)],
    "api/creators/me/sessions/stats": [("GET", "/api/creators/me/sessions/stats?course={course}", None)],
    "api/creators/me/sessions/<session_id>": [("GET", f"/api/creators/me/sessions/{S}", None)],
    "api/creators/me/courses": [("GET", "/api/creators/me/courses", None)],
    "api/creators/me/student-teachers": [("GET", "/api/creators/me/student-teachers", None)],
    "api/me/st-sessions": [("GET", "/api/me/st-sessions?course={course}", None)],
    "api/me/st-analytics/sessions": [("GET", "/api/me/st-analytics/sessions?course={course}", None)],
    "api/sessions/<session_id>/notes": [("GET", "/api/sessions/{awaiting}/notes", None),
                                        ("POST", "/api/sessions/{awaiting}/notes", {"text": "planted"})],
    "api/sessions/<session_id>/notes/summary": [("GET", "/api/sessions/{awaiting}/notes/summary", None)],
    "api/sessions/<session_id>/recording": [("GET", "/api/sessions/{awaiting}/recording", None)],
    "api/sessions/<session_id>/video/join": [("POST", "/api/sessions/{now_on}/video/join", {})],
    "api/matches/<match_id>/accept": [("POST", "/api/matches/{match}/accept", WEEKLY)],
    "api/matches/<match_id>/pattern": [("PUT", "/api/matches/{match}/pattern", WEEKLY)],
    "api/matches/<match_id>/pattern/end": [("POST", "/api/matches/{match}/pattern/end", {})],
    "api/": [("GET", "/api/", None)],
    # notes and files
    "sessions/<int:session_id>/notes/": [("GET", "/sessions/{awaiting}/notes/", None),
                                         ("POST", "/sessions/{awaiting}/notes/", {"text": "planted"})],
    "notes/attachments/<int:attachment_id>/": [("GET", "/notes/attachments/{attachment}/", None)],
    "notes/files/<str:token>/": [("GET", "/notes/files/{attachment}-made-up/", None)],
    # the creators' dashboard, profiles, courses, recordings
    "dashboard/teaching/sessions": [("GET", "/dashboard/teaching/sessions?course={course}", None)],
    "dashboard/teaching/sessions/export.csv": [("GET", "/dashboard/teaching/sessions/export.csv?course={course}",
                                                None)],
    "dashboard/teaching/sessions/metrics": [("GET", "/dashboard/teaching/sessions/metrics?course={course}", None)],
    "dashboard/teaching/sessions/<int:session_id>/": [("GET", f"/dashboard/teaching/sessions/{S}/", None)],
    "dashboard/teaching/sessions/<int:session_id>/resolve/": [
        ("POST", "/dashboard/teaching/sessions/{awaiting}/resolve/", {"outcome": "verified", "note": "x"})],
    "people/<int:person_id>/": [("GET", "/people/{fin}/", None), ("GET", "/people/{tom}/", None),
                                ("GET", "/people/{cora}/", None)],
    "courses/<int:course_id>/": [("GET", "/courses/{course}/", None)],
    "learn/courses/<int:course_id>/": [("GET", "/learn/courses/{course}/", None)],
    "teach/courses/<int:course_id>/": [("GET", "/teach/courses/{course}/", None)],
    "sessions/<int:session_id>/recording/": [("GET", "/sessions/{awaiting}/recording/", None)],
    # messages and notifications
    "messages/": [("GET", "/messages/", None)],
    "messages/with/<int:user_id>/": [("GET", "/messages/with/{fay}/", None), ("POST", "/messages/with/{tom}/", {})],
    "messages/<int:conversation_id>/": [("GET", "/messages/{conversation}/", None),
                                        ("POST", "/messages/{conversation}/", {"body": "planted"})],
    "analytics/beacon": [],  # a write-only beacon about the caller's own page views: no object
    "notifications/": [("GET", "/notifications/", None)],
    "notifications/read/": [("POST", "/notifications/read/", {})],
    "notifications/<int:notification_id>/open/": [("POST", "/notifications/{notification}/open/", {})],
    "notifications/<int:notification_id>/read/": [("POST", "/notifications/{notification}/read/", {})],
    "notifications/preferences/": [("GET", "/notifications/preferences/", None)],
    "notifications/unsubscribe/<str:token>/": [("POST", "/notifications/unsubscribe/{uid}-made-up/", {})],
    "notifications/webhooks/resend/": [("POST", "/notifications/webhooks/resend/", {})],
    "dev/outbox/": [("GET", "/dev/outbox/", None)],
    "dev/outbox/<int:email_id>/": [("GET", "/dev/outbox/1/", None)],
    "dev/outbox/<int:email_id>/html/": [("GET", "/dev/outbox/1/html/", None)],
    "telegram/": [("GET", "/telegram/", None)],
    "telegram/webhook/": [("POST", "/telegram/webhook/", {})],
    # the room
    "session/<int:session_id>": [("GET", "/session/{now_on}", None)],
    "session/<int:session_id>/": [("GET", "/session/{now_on}/", None)],
    "session/<int:session_id>/check-in": [("POST", "/session/{now_on}/check-in", {})],
    "session/<int:session_id>/feedback": [("POST", "/session/{awaiting}/feedback", {"rating": "1"})],
    "session/<int:session_id>/resources": [("POST", "/session/{now_on}/resources", {})],
    "session/<int:session_id>/resources/<int:resource_id>": [("GET", "/session/{now_on}/resources/1", None)],
    "session/<int:session_id>/recording": [("POST", "/session/{now_on}/recording", {})],
    "session/<int:session_id>/recording/<int:recording_id>/parts/<int:number>": [
        ("PUT", "/session/{now_on}/recording/1/parts/1", {})],
    "session/<int:session_id>/recording/<int:recording_id>/complete": [
        ("POST", "/session/{now_on}/recording/1/complete", {})],
    "^session/(?P<rest>.*)$": [("GET", "/session/{now_on}/anything", None)],
    # the session pages and their actions
    "": [("GET", "/", None)],
    "family/": [("GET", "/family/", None)],
    "teach/": [("GET", "/teach/", None)],
    "teach/adhoc/": [("GET", "/teach/adhoc/", None)],
    "learn/": [("GET", "/learn/", None)],
    "sessions/<int:session_id>/": [("GET", f"/sessions/{S}/", None), ("GET", "/sessions/{awaiting}/", None)],
    "sessions/<int:session_id>/check-in/": [("POST", "/sessions/{now_on}/check-in/", {})],
    "sessions/<int:session_id>/check-out/": [("POST", "/sessions/{checked_in}/check-out/", {})],
    "sessions/<int:session_id>/acknowledge/": [("POST", "/sessions/{awaiting}/acknowledge/", {})],
    "sessions/<int:session_id>/dispute/": [("POST", "/sessions/{awaiting}/dispute/",
                                            {"reason": "The lesson did not happen at all."})],
    "sessions/<int:session_id>/cancel/": [("POST", f"/sessions/{S}/cancel/", {"reason": "{reason}"})],
    "sessions/<int:session_id>/reschedule/": [("POST", f"/sessions/{S}/reschedule/",
                                               {"reason": "{reason}", "proposed_start": "2026-11-25T10:00"})],
    "sessions/<int:session_id>/reschedule/accept/": [("POST", "/sessions/{threaded}/reschedule/accept/",
                                                      {"proposal": "{proposal}"})],
    "sessions/<int:session_id>/reschedule/reject/": [("POST", "/sessions/{threaded}/reschedule/reject/",
                                                      {"proposal": "{proposal}"})],
    "sessions/<int:session_id>/reschedule/counter/": [("POST", "/sessions/{threaded}/reschedule/counter/",
                                                       {"proposal": "{proposal}",
                                                        "proposed_start": "2026-11-26T10:00"})],
    "sessions/<int:session_id>/reschedule/withdraw/": [("POST", "/sessions/{threaded}/reschedule/withdraw/",
                                                        {"proposal": "{proposal}"})],
    # video webhooks: unsigned
    "video/webhooks/plugnmeet": [("POST", "/video/webhooks/plugnmeet", {})],
    "video/webhooks/bbb/recording-ready": [("POST", "/video/webhooks/bbb/recording-ready", {})],
    # calendars: a feed is reached only by its secret token
    "calendar/": [("GET", "/calendar/", None)],
    "calendar/<str:token>.ics": [("GET", "/calendar/{feed_guess}.ics", None)],
}

# the room's socket, from tutoring.asgi's router
SOCKETS = {"ws/session/<int:session_id>/": "/ws/session/{now_on}/"}

# the paths that carry an object of theirs in the URL: an outsider to it gets 404 (or a role page's 403)
OBJECT_PATTERNS = {p for p, probes in PROBES.items() if any("{" in url.split("?")[0] for _, url, _ in probes)}
# webhooks and token links answer an unsigned or made-up request with their own refusal
REFUSALS = {"notifications/webhooks/resend/": {400, 401, 403}, "telegram/webhook/": {401, 403, 404},
            "video/webhooks/plugnmeet": {400, 401, 403}, "video/webhooks/bbb/recording-ready": {400, 401, 403},
            "notes/files/<str:token>/": {403, 404}, "accounts/reset/<uidb64>/<token>/": {200, 302},
            "notifications/unsubscribe/<str:token>/": {400, 403, 404}}
# apps whose tables are counted; the framework's own bookkeeping (sign-in sessions, axes) is not
PROJECT_APPS = {"tutoring", "tutoring_sessions", "notes", "creators", "messaging", "analytics", "notifications",
                "telegram_bot", "video", "calendars", "desk", "admin"}


def url_patterns() -> list[str]:
    """Every pattern of the resolver as its route string; the admin as one entry."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                if route == "admin/":
                    found.append(route)
                else:
                    walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns)
    return sorted(set(found))


def test_every_url_pattern_has_an_entry():
    """The matrix covers the whole resolver: a new URL fails here until it has its probes."""
    missing = [p for p in url_patterns() if p not in PROBES]
    stale = [p for p in PROBES if p not in url_patterns()]
    assert not missing, f"add these URL patterns to PROBES: {missing}"
    assert not stale, f"these PROBES name no URL pattern any more: {stale}"
    from room.routing import websocket_urlpatterns
    assert sorted(str(p.pattern) for p in websocket_urlpatterns) == sorted(SOCKETS)


@pytest.fixture
def theirs(db, time_machine, reasons, policies):
    """Another family (Fay and her son Fin), their tutor Tom, creator Cora and her Secret Course:
    sessions in each state an action needs, a note with a file, a reschedule thread, a match, a
    conversation, a notification and a calendar feed."""
    from calendars.models import CalendarFeed
    from sessions import lifecycle

    time_machine.move_to(NOW, tick=False)
    fay, fin, tom, cora = (make_user(name, role) for name, role in (
        ("fay", Role.PARENT), ("fin", Role.STUDENT), ("tom", Role.TUTOR), ("cora", Role.CREATOR)))
    for person in (fay, fin, tom, cora):
        person.name = f"{person.username.title()} Foreign"
        person.save(update_fields=["name"])
    Guardianship.objects.create(parent=fay, student=fin)
    course = Course.objects.create(creator=cora, title="Secret Course")
    Enrollment.objects.create(course=course, student=fin)
    match = Match.objects.create(tutor=tom, student=fin)

    def session(start, status=Status.SCHEDULED, **fields):
        return Session.objects.create(tutor=tom, student=fin, course=course, scheduled_start=start,
                                      scheduled_end=start + timedelta(hours=1), status=status, **fields)

    scheduled = session(NOW + timedelta(days=2))
    now_on = session(NOW - timedelta(minutes=5))
    checked_in = session(NOW - timedelta(hours=2), status=Status.CHECKED_IN, checked_in_at=NOW - timedelta(hours=2))
    awaiting = session(NOW - timedelta(days=1), status=Status.AWAITING_APPROVAL_PARENT,
                       checked_in_at=NOW - timedelta(days=1), checked_out_at=NOW - timedelta(hours=23))
    threaded = session(NOW + timedelta(days=4))
    proposal = lifecycle.propose_reschedule(threaded, by=fay, proposed_start=NOW + timedelta(days=5),
                                            reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    note = Note.objects.create(session=awaiting, author=tom, text="secret-note-text")
    attachment = Attachment.objects.create(note=note, kind="document", storage_name="notes/secret.pdf",
                                           original_name="secret.pdf", content_type="application/pdf", size=4,
                                           sha256="0" * 64)
    conversation = Conversation.objects.create(user_low=min(fay, tom, key=lambda u: u.pk),
                                               user_high=max(fay, tom, key=lambda u: u.pk))
    Message.objects.create(conversation=conversation, sender=fay, body="secret-message-text")
    notification = Notification.objects.create(recipient=fay, kind="reminder", title="Secret Course tomorrow",
                                               text="Fin Foreign with Tom Foreign")
    CalendarFeed.objects.create(user=fay)
    from django.utils.http import urlsafe_base64_encode
    return {
        "session": scheduled.id, "now_on": now_on.id, "checked_in": checked_in.id, "awaiting": awaiting.id,
        "threaded": threaded.id, "proposal": proposal.id, "attachment": attachment.id, "course": course.id,
        "fay": fay.id, "fin": fin.id, "tom": tom.id, "cora": cora.id, "match": match.id,
        "conversation": conversation.id, "notification": notification.id,
        "reason": reasons[("parent", "cancel")].id, "uid": urlsafe_base64_encode(str(fay.pk).encode()),
        "feed_guess": "0" * 43,
    }


def fingerprint() -> dict:
    """Rows per table of the project's apps, and each session's state."""
    counts = {m._meta.label: m._default_manager.count() for m in apps.get_models()
              if m._meta.app_label in PROJECT_APPS and not m._meta.proxy}
    # a caller's view of a page of their own is recorded (H21 page_view); any other event counts
    counts["analytics.Event"] = apps.get_model("analytics", "Event").objects.exclude(name="page_view").count()
    counts["sessions"] = sorted(Session.objects.values_list("id", "status", "scheduled_start"))
    counts["proposals"] = sorted(RescheduleProposal.objects.values_list("id", "status"))
    counts["unread"] = sorted(Notification.objects.filter(read_at__isnull=True).values_list("id", flat=True))
    return counts


def quick() -> tuple:
    return Session.objects.count(), SessionEvent.objects.count(), Note.objects.count()


def fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


def send(client, method, url, data):
    if url.startswith("/api/") and method != "GET":
        return client.generic(method, url, json.dumps(data or {}),
                              content_type="application/json")
    if method == "GET":
        return client.get(url)
    # a plain form, as the pages post it (multipart would count against the upload limit)
    return client.generic(method, url, urlencode(data or {}, doseq=True),
                          content_type="application/x-www-form-urlencoded")


MISSING = {"session": 987654321, "now_on": 987654321, "checked_in": 987654321, "awaiting": 987654321,
           "threaded": 987654321, "proposal": 987654321, "attachment": 987654321, "course": 987654321,
           "fay": 987654321, "fin": 987654321, "tom": 987654321, "cora": 987654321, "match": 987654321,
           "conversation": 987654321, "notification": 987654321, "uid": "OTg3NjU0MzIx", "feed_guess": "1" * 43}

CALLERS = ["parent", "tutor", "student", "creator", "outsider", "coordinator", "anonymous"]


@pytest.mark.parametrize("caller", CALLERS)
def test_nobody_reaches_or_changes_what_is_theirs(request, settings, theirs, caller, parent, tutor, student,
                                                  creator, course, coordinator, outsider):
    """Each caller against every probe with the other family's ids: no 5xx; 404 on their
    objects (401 from the API and the sign-in page for anonymous callers); none of their names,
    course, note or message text on any answer; no row added, removed or moved anywhere."""
    settings.DEV_OUTBOX = False  # as in production (the development outbox is open to all by design)
    client = Client(enforce_csrf_checks=False)
    user = None if caller == "anonymous" else request.getfixturevalue(caller)
    if user is not None:
        client.force_login(user)
    before, problems = fingerprint(), []
    for pattern, probes in PROBES.items():
        for method, template, data in probes:
            if caller == "coordinator" and (method != "GET" or pattern == "messages/with/<int:user_id>/"):
                # coordinators may act on any session (their writes are tested where they act) and
                # message anyone (the first message makes the conversation)
                continue
            url = fill(template, theirs)
            first = quick()
            response = send(client, method, url, fill(data, theirs))
            status, where = response.status_code, f"{caller} {method} {url} -> {response.status_code}"
            body = b"" if response.streaming else response.content
            if status >= 500:
                problems.append(f"{where}: server error")
            if quick() != first:
                problems.append(f"{where}: changed sessions, events or notes")
            if caller != "coordinator":
                leaked = [s for s in SECRETS if s.encode() in body]
                if leaked:
                    problems.append(f"{where}: shows {leaked}")
            expected = REFUSALS.get(pattern)
            if expected is not None and caller != "coordinator":
                if status not in expected | {302, 401, 404, 405}:
                    problems.append(f"{where}: expected one of {sorted(expected)}")
            elif pattern in OBJECT_PATTERNS and caller != "coordinator":
                if pattern == "admin/":  # the admin sends anyone who is not staff to its sign-in
                    ok = status == 302 and "login" in response["Location"]
                elif caller == "anonymous":
                    ok = status in (401, 404) or (status == 302 and "/accounts/login/" in response["Location"])
                else:
                    role_page = getattr(resolve(url.split("?")[0]).func, "role", None)
                    ok = status == 404 or (status == 403 and role_page is not None
                                           and role_page not in user.roles)
                    if not ok and status in (400, 403, 422):
                        # a refusal that does not depend on the object (a coordinators-only route)
                        # is no leak when a made-up id gets exactly the same answer
                        missing = send(client, method, fill(template, MISSING), fill(data, theirs))
                        ok = (missing.status_code, missing.content) == (status, body)
                if not ok:
                    problems.append(f"{where}: expected 404")
    after = fingerprint()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not problems, "\n".join(problems)
    assert not changed, changed


def run(coro_fn):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn()).result()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("caller", CALLERS)
def test_no_one_joins_the_socket_of_their_session(request, caller, theirs, parent, tutor, student, creator,
                                                  course, coordinator, outsider):
    """The room's socket for their session: refused with 4404 (4401 signed out), never welcomed.
    Coordinators are no participants either (4403 or 4404)."""
    from tutoring.asgi import application

    headers = [(b"origin", b"http://testserver")]
    if caller != "anonymous":
        client = Client()
        client.force_login(request.getfixturevalue(caller))
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    before = fingerprint()

    async def attempt():
        for template in SOCKETS.values():
            comm = WebsocketCommunicator(application, fill(template, theirs), headers=headers)
            connected, _ = await comm.connect(timeout=15)
            if connected:
                message = await comm.receive_json_from(timeout=15)
                closing = await comm.receive_output(timeout=15)
                assert message["type"] != "welcome", message
                assert closing["type"] == "websocket.close"
                expected = {4401} if caller == "anonymous" else {4403, 4404} if caller == "coordinator" else {4404}
                assert closing["code"] in expected, (caller, closing)
            await comm.disconnect()
        await sync_to_async(connections.close_all)()

    run(attempt)
    assert fingerprint() == before
