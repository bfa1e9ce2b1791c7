"""Entering a session's video room: which provider (deployment, course override, the room's own),
roles, who may, when, and what a participant sees when the provider fails (never a 500). Wrong
credentials reach coordinators once per incident."""

from datetime import timedelta

import pytest
from django.utils import timezone

from video import presence
from sessions.room_states import ended_detail
from sessions.errors import Refused
from sessions.models import Session, Status
from tests.fakes.fakeserver import HANG, Reply
from notifications.models import Notification
from video import services
from video.errors import VideoUnavailable
from video.models import CourseVideo, ProviderIncident, VideoRoom

UNAVAILABLE = {"detail": "Video service unavailable. Try again.", "code": "video_unavailable"}


def url(session) -> str:
    return f"/api/sessions/{session.id}/video/join"


def join_as(client, user, session):
    client.force_login(user)
    return client.post(url(session))


def test_without_a_provider_the_built_in_room_is_used(client, tutor, live):
    """R14: the embedded default is the built-in P2P room."""
    answer = join_as(client, tutor, live)

    assert answer.status_code == 200
    assert answer.json() == {"provider": "p2p", "kind": "builtin", "url": "", "token": ""}
    assert not VideoRoom.objects.exists()


def test_with_plugnmeet_the_tutor_is_admin_and_the_student_a_participant(client, settings, plugnmeet, tutor,
                                                                          student, live):
    """R01: PlugNmeet, the selected provider; roles by who joins."""
    settings.VIDEO_PROVIDER = "plugnmeet"

    tutor_answer = join_as(client, tutor, live).json()
    student_answer = join_as(client, student, live).json()

    assert tutor_answer["provider"] == student_answer["provider"] == "plugnmeet"
    assert plugnmeet.join_tokens[tutor_answer["token"]]["is_admin"] is True
    assert plugnmeet.join_tokens[student_answer["token"]]["is_admin"] is False
    assert student_answer["url"] == f"{plugnmeet.base_url}/?access_token={student_answer['token']}"
    room = VideoRoom.objects.get(session=live)
    assert (room.provider, room.room_id, room.create_time) == ("plugnmeet", f"tutoring-{live.id}",
                                                               plugnmeet.rooms[room.room_id].sid)
    assert plugnmeet.rooms[room.room_id].metadata["webhook_url"].endswith("/video/webhooks/plugnmeet")
    live.refresh_from_db()
    assert (live.video_provider, live.video_room_id) == ("plugnmeet", room.room_id)


def test_with_bbb_the_links_carry_role_and_create_time(client, settings, bbb, tutor, student, live):
    settings.VIDEO_PROVIDER = "bbb"

    tutor_link = join_as(client, tutor, live).json()["url"]
    student_link = join_as(client, student, live).json()["url"]

    meeting = bbb.meetings[f"tutoring-{live.id}"]
    assert "role=MODERATOR" in tutor_link and "role=VIEWER" in student_link
    assert f"createTime={meeting.create_time}" in student_link
    assert meeting.meta["bbb-recording-ready-url"].endswith("/video/webhooks/bbb/recording-ready")


def test_a_course_can_use_another_configured_provider(settings, plugnmeet, bbb, tutor, live, course):
    settings.VIDEO_PROVIDER = "plugnmeet"
    CourseVideo.objects.create(course=course, provider="bbb", record=True)

    info = services.join(live, user=tutor)

    assert info.provider == "bbb" and f"tutoring-{live.id}" in bbb.meetings
    assert bbb.meetings[f"tutoring-{live.id}"].record is True
    assert plugnmeet.rooms == {}


def test_a_course_asking_for_an_unconfigured_provider_gets_the_deployment_s(settings, plugnmeet, tutor, live,
                                                                           course):
    settings.VIDEO_PROVIDER = "plugnmeet"
    settings.BBB = None
    CourseVideo.objects.create(course=course, provider="bbb")
    assert services.join(live, user=tutor).provider == "plugnmeet"


def test_the_admin_refuses_a_course_provider_that_is_not_configured(settings, course):
    from django.core.exceptions import ValidationError

    settings.BBB = None
    with pytest.raises(ValidationError) as refused:
        CourseVideo(course=course, provider="bbb").full_clean()
    assert "BigBlueButton is not configured" in str(refused.value)


def test_a_session_keeps_the_provider_its_room_started_with(settings, plugnmeet, bbb, tutor, student, live, course):
    settings.VIDEO_PROVIDER = "plugnmeet"
    services.join(live, user=tutor)
    CourseVideo.objects.create(course=course, provider="bbb")

    assert services.join(live, user=student).provider == "plugnmeet"


@pytest.mark.parametrize("who", ["parent", "coordinator", "creator"])
def test_people_who_see_the_session_but_are_not_in_it_may_not_join(client, settings, plugnmeet, live, who, request):
    settings.VIDEO_PROVIDER = "plugnmeet"
    answer = join_as(client, request.getfixturevalue(who), live)

    assert answer.status_code == 403
    assert answer.json() == {"detail": "You're not part of this session.", "code": "not_participant"}
    assert plugnmeet.requests == []


def test_an_outsider_gets_404_and_nothing_happens(client, settings, plugnmeet, outsider, live):
    settings.VIDEO_PROVIDER = "plugnmeet"
    answer = join_as(client, outsider, live)

    assert answer.status_code == 404 and answer.json()["detail"] == "Session not found."
    assert plugnmeet.requests == [] and not VideoRoom.objects.exists()


def test_anonymous_gets_401(client, live):
    assert client.post(url(live)).status_code == 401


def test_the_room_opens_15_minutes_before_the_start(client, settings, plugnmeet, tutor, make_session):
    settings.VIDEO_PROVIDER = "plugnmeet"
    early = make_session(start=timezone.now() + timedelta(minutes=16), minutes=1)
    soon = make_session(start=timezone.now() + timedelta(minutes=14, seconds=30), minutes=1)

    refused = join_as(client, tutor, early)
    assert refused.status_code == 409 and refused.json()["code"] == "room_not_open"
    assert join_as(client, tutor, soon).status_code == 200


@pytest.mark.parametrize("status", [Status.AWAITING_APPROVAL_PARENT, Status.CANCELLED_BY_PARENT, Status.NO_SHOW])
def test_a_session_that_is_over_cannot_be_joined(client, settings, plugnmeet, tutor, make_session, status):
    settings.VIDEO_PROVIDER = "plugnmeet"
    start = timezone.now() - timedelta(minutes=30)
    extra = {"checked_in_at": start, "checked_out_at": start + timedelta(minutes=20)} if status == \
        Status.AWAITING_APPROVAL_PARENT else {}
    over = make_session(start=start, status=status, **extra)

    answer = join_as(client, tutor, over)
    assert (answer.status_code, answer.json()) == (409, {"detail": ended_detail(over), "code": "session_ended"})
    assert plugnmeet.requests == []


def test_a_call_running_over_time_can_be_rejoined_while_the_other_is_in_it(settings, tutor, student,
                                                                             make_session):
    """The room's own rule: past the scheduled end only while the other participant is still in the call."""
    start = timezone.now() - timedelta(minutes=90)
    running = make_session(start=start, status=Status.CHECKED_IN, checked_in_at=start)
    with pytest.raises(Refused) as refused:
        services.join(running, user=tutor)
    assert (refused.value.code, refused.value.message) == ("session_ended", "This session has ended.")

    presence.mark_present(running.id, student.id, connection_id="conn-student-1")
    assert services.join(running, user=tutor).kind == "builtin"


@pytest.mark.parametrize("trouble", [Reply(500, b"oops", "text/plain"), HANG,
                                     Reply(200, b"<html>proxy error</html>", "text/html")])
def test_a_provider_in_trouble_says_video_service_unavailable(client, settings, plugnmeet, tutor, live, trouble):
    """R01: 'Video service unavailable. Try again.', never a 500; nothing is saved."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    settings.VIDEO_HTTP_TIMEOUT_SECONDS = 1
    plugnmeet.queue("/auth/room/create", trouble)

    answer = join_as(client, tutor, live)

    assert (answer.status_code, answer.json()) == (503, UNAVAILABLE)
    assert not VideoRoom.objects.exists() and not ProviderIncident.objects.exists()
    assert Session.objects.get(pk=live.pk).video_room_id == ""


def test_a_provider_that_is_not_there_says_video_service_unavailable(client, settings, tutor, live):
    from tests.fakes.plugnmeet_server import FakePlugNmeet

    with FakePlugNmeet() as gone:
        settings.PLUGNMEET = {"url": gone.base_url, "api_key": gone.api_key, "secret": gone.secret}
    settings.VIDEO_PROVIDER = "plugnmeet"

    answer = join_as(client, tutor, live)
    assert (answer.status_code, answer.json()) == (503, UNAVAILABLE)


def test_wrong_credentials_reach_coordinators_once_per_incident(client, settings, plugnmeet, tutor, student, live,
                                                                 coordinator, django_capture_on_commit_callbacks):
    """Coordinators are told once, not on every request; the incident closes when calls work again."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    settings.PLUGNMEET = {**settings.PLUGNMEET, "secret": "wrong"}

    with django_capture_on_commit_callbacks(execute=True):  # the outbox dispatches after commit
        for user in (tutor, student, tutor):
            assert join_as(client, user, live).json() == UNAVAILABLE

    incident = ProviderIncident.objects.get()
    assert (incident.provider, incident.kind, incident.occurrences, incident.closed_at) == (
        "plugnmeet", "credentials", 3, None)
    notes = Notification.objects.filter(kind="video_credentials")
    assert [n.recipient for n in notes] == [coordinator]
    assert "PLUGNMEET_API_KEY and PLUGNMEET_API_SECRET" in notes[0].text
    assert notes[0].url == f"/admin/video/providerincident/{incident.pk}/change/"

    settings.PLUGNMEET = {**settings.PLUGNMEET, "secret": plugnmeet.secret}
    assert join_as(client, tutor, live).status_code == 200
    incident.refresh_from_db()
    assert incident.closed_at is not None

    settings.PLUGNMEET = {**settings.PLUGNMEET, "secret": "wrong again"}
    with django_capture_on_commit_callbacks(execute=True):
        join_as(client, tutor, live)
    assert ProviderIncident.objects.count() == 2
    assert Notification.objects.filter(kind="video_credentials").count() == 2


def test_a_failed_call_is_no_credentials_incident(settings, bbb, tutor, live):
    settings.VIDEO_PROVIDER = "bbb"
    bbb.queue("/bigbluebutton/api/create", Reply(500, b"", "text/plain"))
    with pytest.raises(VideoUnavailable):
        services.join(live, user=tutor)
    assert not ProviderIncident.objects.exists()


def test_end_room_and_status(settings, bbb, tutor, live):
    settings.VIDEO_PROVIDER = "bbb"
    assert services.room_status(live) is None
    services.join(live, user=tutor)
    assert services.room_status(live).active is False  # nobody followed the link yet

    services.end_room(live)

    assert f"tutoring-{live.id}" not in bbb.meetings
    assert VideoRoom.objects.get(session=live).ended_at is not None
