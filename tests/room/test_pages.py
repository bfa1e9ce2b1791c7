"""The room's pages: who may enter (R01, the permission matrix over every role), every error text
(R12), the pre-join screen (R05, R17), check-in from the room, the post-session screen (R03, R08)
with feedback (R09 US-V006) that the creator's Session History reads (H23), and resources."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from analytics.models import Event
from sessions.models import SessionAssessment, SessionEvent, SessionResource, Status
from tests.notes.files import uploaded
from video.models import VideoRoom

pytestmark = pytest.mark.django_db

NOT_FOUND = "Session not found. Check your dashboard."
NOT_PART = "You're not part of this session."


def as_user(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return html.unescape(response.content.decode())


# --- who may enter ---------------------------------------------------------------------------


@pytest.mark.parametrize(("who", "status", "says"), [
    ("tutor", 200, "with your student"),
    ("student", 200, "with your tutor"),
    ("parent", 403, NOT_PART),
    ("coordinator", 403, NOT_PART),
    ("creator", 403, NOT_PART),  # H23: creators watch the history but cannot join
    ("outsider", 404, NOT_FOUND),
    ("sibling", 404, NOT_FOUND),  # a student of the same family, not of this session
])
def test_the_permission_matrix(client, live, request, who, status, says, sibling, outsider, coordinator, creator):
    """R01, R12: only the session's tutor and student enter."""
    user = request.getfixturevalue(who)
    response = as_user(client, user).get(f"/session/{live.id}")
    assert response.status_code == status and says in text(response)


def test_an_anonymous_visitor_is_sent_to_sign_in(client, live):
    response = client.get(f"/session/{live.id}")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/session/999999", "/session/abc", "/session/12/../../admin", "/session/"])
def test_an_unknown_session_says_so(client, student, path):
    """R12 "Session not found. Check your dashboard."."""
    response = as_user(client, student).get(path)
    assert response.status_code == 404 and NOT_FOUND in text(response)
    assert 'href="/"' in text(response)


@pytest.mark.parametrize("action", ["check-in", "feedback", "resources"])
def test_outsiders_change_nothing_through_the_rooms_forms(client, live, outsider, parent, action):
    before = SessionEvent.objects.count()
    assert as_user(client, outsider).post(f"/session/{live.id}/{action}", {"rating": 5}).status_code == 404
    response = as_user(client, parent).post(f"/session/{live.id}/{action}", {"rating": 5})
    assert response.status_code == 403 and NOT_PART in text(response)
    assert SessionEvent.objects.count() == before and not SessionAssessment.objects.exists()


# --- the pre-join screen --------------------------------------------------------------------


def test_the_pre_join_screen_has_info_device_check_actions_and_tips(client, live, student):
    """R04, R05, R07: session info, device check, ready actions, tips; header with course, participant,
    status; the time in the viewer's zone."""
    page = text(as_user(client, student).get(f"/session/{live.id}"))
    for part in ("Algebra I", "Tia", "Check your camera and microphone", 'id="mic-meter"', 'id="pick-camera"',
                 'id="pick-speaker"', "Play a test sound", ">Join Session<", "Tips", 'id="room-status"', "Joinable",
                 "Please allow camera/microphone access.", "Back to Dashboard"):
        assert part in page, part
    start = live.scheduled_start.astimezone(student.tzinfo)
    assert f"{start:%a %d %b %H:%M}" in page


def test_the_page_view_is_recorded_with_the_role(client, live, tutor):
    """R13 page_view (session_id, user_role)."""
    as_user(client, tutor).get(f"/session/{live.id}")
    event = Event.objects.get(name="page_view", page="SROM")
    assert event.data == {"session_id": live.id, "user_role": "tutor"} and event.user == tutor


def test_an_early_room_counts_down_and_joins_nothing(client, at, student):
    """R10 Early: the Join button says when the room opens, in the viewer's zone."""
    early = at(hours=2)
    page = text(as_user(client, student).get(f"/session/{early.id}"))
    opens = (early.scheduled_start - timedelta(minutes=15)).astimezone(student.tzinfo)
    assert f"Opens at {opens:%H:%M}" in page and "disabled" in page and "Early" in page


def test_the_tutor_may_reschedule_instead_while_the_lifecycle_allows(client, at, tutor, student):
    """R17: "Reschedule instead" from the pre-join screen, only where a reschedule is still possible."""
    later = at(hours=6)
    assert "Reschedule instead" in text(as_user(client, tutor).get(f"/session/{later.id}"))
    soon = at(hours=2)
    page = text(as_user(client, tutor).get(f"/session/{soon.id}"))
    assert "Reschedule instead" not in page and "Online changes close 4 hours before the start" in page
    page = text(as_user(client, student).get(f"/session/{later.id}"))
    assert "Reschedule instead" not in page and "Your parent can request a new time" in page


def test_a_provider_no_longer_configured_says_video_service_unavailable(client, live, student, settings):
    """R12 "Video service unavailable. Try again.": the session's room is at PlugNmeet, whose
    credentials are gone from this deployment."""
    settings.PLUGNMEET = None
    VideoRoom.objects.create(session=live, provider="plugnmeet", room_id=f"tutoring-{live.id}",
                             created_at=timezone.now())
    page = text(as_user(client, student).get(f"/session/{live.id}"))
    assert "Video service unavailable. Try again." in page and "data-blocked" in page
    assert "Technical Issues" in page  # R10: the state the page shows


# --- check-in from the room ------------------------------------------------------------------


def test_the_tutor_checks_in_from_the_room_with_one_click(client, live, tutor):
    response = as_user(client, tutor).post(f"/session/{live.id}/check-in", HTTP_ACCEPT="application/json")
    assert response.status_code == 200 and response.json() == {"detail": "Checked in.", "status_label": "Checked in"}
    live.refresh_from_db()
    assert live.status == Status.CHECKED_IN
    assert SessionEvent.objects.get(session=live, kind="check_in").channel == "web"


def test_check_in_from_the_room_has_the_lifecycles_refusals(client, at, tutor, student):
    early = at(minutes=45)
    response = as_user(client, tutor).post(f"/session/{early.id}/check-in", HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and response.json()["detail"] == "Check-in opens in 15 minutes."
    response = as_user(client, student).post(f"/session/{early.id}/check-in", HTTP_ACCEPT="application/json")
    assert response.status_code == 403 and response.json()["detail"] == "Only the session's tutor can check in."
    assert not SessionEvent.objects.filter(kind="check_in").exists()


# --- after the session -----------------------------------------------------------------------


@pytest.fixture
def done(at):
    """Today's lesson, checked out an hour ago."""
    s = at(hours=-2, status=Status.AWAITING_APPROVAL_PARENT)
    s.checked_in_at, s.checked_out_at = s.scheduled_start, s.scheduled_end
    s.save()
    return s


@pytest.mark.parametrize(("who", "home"), [("student", "/learn/"), ("tutor", "/teach/")])
def test_the_post_session_screen(client, done, request, who, home):
    """R03, R08: "Session Ended", feedback, Back to Dashboard to the viewer's own page, resources."""
    page = text(as_user(client, request.getfixturevalue(who)).get(f"/session/{done.id}"))
    for part in ("Session Ended", "This session has ended.", "Quick feedback", f'href="{home}"', "Back to Dashboard",
                 "Session resources"):
        assert part in page, part
    assert ("Upload resources" in page) == (who == "tutor")


@pytest.mark.parametrize(("who", "course_page"), [("student", "/learn/courses/{}/"),
                                                   ("tutor", "/teach/courses/{}/")])
@pytest.mark.parametrize("screen", ["pre-join", "post-session"])
def test_back_to_course_leads_to_the_viewers_course_page(client, live, done, request, who, course_page,
                                                          screen):
    """R03: "Back to Course" (spec 002 Outgoing CCNT) on the pre-join and post-session screens, to
    the course's page of the viewer's role, which opens for them."""
    session = live if screen == "pre-join" else done
    user = as_user(client, request.getfixturevalue(who))
    page = text(user.get(f"/session/{session.id}"))
    href = course_page.format(session.course_id)
    assert re.search(rf'<a (class="button" )?href="{href}">Back to Course</a>', page)
    assert ("Session Ended" in page) == (screen == "post-session")
    course = user.get(href)
    assert course.status_code == 200 and f'id="session-{session.id}"' in text(course)


def test_a_session_without_a_course_has_no_back_to_course(client, make_session, student):
    session = make_session(start=timezone.now() + timedelta(minutes=5), course=None)
    page = text(as_user(client, student).get(f"/session/{session.id}"))
    assert "Back to Course" not in page and "Back to Dashboard" in page


def test_student_feedback_reaches_the_creators_history(client, done, student, creator):
    """US-V006, H23: the student's rating is the session's stars, average and low-rating flag."""
    response = as_user(client, student).post(f"/session/{done.id}/feedback", {"rating": "2", "comment": "Too fast."})
    assert response.status_code == 303
    review = SessionAssessment.objects.get(session=done)
    assert (review.author_role, review.rating, review.comment) == ("student", 2, "Too fast.")
    assert Event.objects.get(name="feedback_submitted").data == {"session_id": done.id, "rating": 2}
    assert SessionEvent.objects.get(session=done, kind="feedback_submitted").data == {"role": "student", "rating": 2}
    row = as_user(client, creator).get("/api/creators/me/sessions", {"low_rated": "true"}).json()["items"][0]
    assert (row["id"], row["rating"], row["low_rating"]) == (done.id, 2, True)
    detail = as_user(client, creator).get(f"/api/creators/me/sessions/{done.id}").json()
    assert detail["student_feedback"]["comment"] == "Too fast."


def test_feedback_is_once_per_side_and_editable_for_24_hours(client, done, student, tutor):
    as_user(client, tutor).post(f"/session/{done.id}/feedback", {"rating": "5"})
    as_user(client, student).post(f"/session/{done.id}/feedback", {"rating": "4", "comment": "Good"})
    as_user(client, student).post(f"/session/{done.id}/feedback", {"rating": "5", "comment": "Great, in fact"})
    assert sorted(SessionAssessment.objects.values_list("author_role", "rating")) == [("student", 5), ("tutor", 5)]
    assert SessionEvent.objects.filter(session=done, kind="feedback_changed").count() == 1
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        response = as_user(client, student).post(f"/session/{done.id}/feedback", {"rating": "1"})
    assert response.status_code == 409 and "Feedback can be changed for 24 hours after it was sent." in text(response)
    assert SessionAssessment.objects.get(author_role="student").rating == 5


def test_the_same_feedback_sent_twice_is_saved_and_recorded_once(client, done, student):
    """R08, R13: a double click sends the feedback twice; both get the same answer ("saved"), and
    there is one assessment, one feedback_submitted session event and one analytics event (no
    feedback_changed for a change that is none). tests/sessions/test_http_races.py sends the two
    at the same moment."""
    form = {"rating": "4", "comment": "Clear and patient."}
    answers = [as_user(client, student).post(f"/session/{done.id}/feedback", form) for _ in range(2)]
    assert [a.status_code for a in answers] == [303, 303] and answers[0]["Location"] == answers[1]["Location"]
    assert SessionAssessment.objects.get(session=done).rating == 4
    assert list(SessionEvent.objects.filter(session=done).values_list("kind", flat=True)) == ["feedback_submitted"]
    assert Event.objects.filter(name="feedback_submitted").count() == 1


@pytest.mark.parametrize(("data", "message"), [
    ({"rating": "6"}, "Choose a rating from 1 to 5 stars."),
    ({"rating": "abc"}, "Choose a rating from 1 to 5 stars."),
    ({}, "Choose a rating from 1 to 5 stars."),
    ({"rating": "3", "comment": "x" * 2001}, "The comment must be at most 2,000 characters long (this is 2,001)."),
    ({"rating": "3", "comment": "bad\x00byte"}, "There is a character in the comment that cannot be saved (U+0000"),
    # issue 11.3: the shared text type refuses every control character, not only NUL
    ({"rating": "3", "comment": "bad\x1bbyte"}, "There is a character in the comment that cannot be saved (U+001B"),
    ({"rating": "3", "comment": "bell\x07"}, "There is a character in the comment that cannot be saved (U+0007"),
])
def test_bad_feedback_is_refused_and_kept_in_the_form(client, done, student, data, message):
    response = as_user(client, student).post(f"/session/{done.id}/feedback", data)
    assert response.status_code == 422 and message in text(response)
    assert not SessionAssessment.objects.exists() and not Event.objects.filter(name="feedback_submitted").exists()


def test_a_session_that_did_not_happen_cannot_be_rated(client, at, student):
    cancelled = at(hours=-2, status=Status.CANCELLED_BY_PARENT)
    response = as_user(client, student).post(f"/session/{cancelled.id}/feedback", {"rating": "1"})
    assert response.status_code == 409 and "A session that did not take place cannot be rated." in text(response)
    future = at(hours=2)
    response = as_user(client, student).post(f"/session/{future.id}/feedback", {"rating": "1"})
    assert response.status_code == 409 and "You can rate the session once its room has opened." in text(response)


def test_the_tutor_shares_resources_the_student_downloads(client, done, tutor, student, notes_storage):
    """R08: upload by the tutor only (the notes' checks and storage), download through short-lived links."""
    response = as_user(client, tutor).post(f"/session/{done.id}/resources",
                                           {"files": [uploaded("pdf"), uploaded("exe-as-jpg")]})
    assert response.status_code == 303
    resource = SessionResource.objects.get(session=done)
    assert resource.name == "worksheet.pdf" and resource.type == "document"
    assert resource.r2_key.startswith(f"resources/{done.id}/") and (notes_storage / resource.r2_key).exists()
    assert SessionEvent.objects.get(session=done, kind="resources_added").data["ids"] == [resource.id]
    page = text(as_user(client, student).get(f"/session/{done.id}"))
    assert "worksheet.pdf" in page and "Upload resources" not in page
    link = client.get(f"/session/{done.id}/resources/{resource.id}")
    assert link.status_code == 302 and link["Cache-Control"] == "private, no-store"
    file = client.get(link["Location"])
    assert file.status_code == 200 and b"".join(file.streaming_content).startswith(b"%PDF")
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert client.get(link["Location"]).status_code == 403


def test_only_the_tutor_uploads_and_bad_files_are_refused(client, done, student, tutor, outsider):
    response = as_user(client, student).post(f"/session/{done.id}/resources", {"files": [uploaded("pdf")]})
    assert response.status_code == 403 and "Only the tutor can upload resources." in text(response)
    response = as_user(client, tutor).post(f"/session/{done.id}/resources", {"files": [uploaded("exe-as-jpg")]})
    assert response.status_code == 422 and "Nothing was uploaded: photo.jpg:" in text(response)
    assert not SessionResource.objects.exists()


def test_an_outsider_cannot_download_a_resource(client, done, tutor, outsider):
    as_user(client, tutor).post(f"/session/{done.id}/resources", {"files": [uploaded("pdf")]})
    resource = SessionResource.objects.get()
    assert as_user(client, outsider).get(f"/session/{done.id}/resources/{resource.id}").status_code == 404
