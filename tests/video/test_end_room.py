"""The provider's room is ended when it has no more use: the tutor checks the session out (the
check-out event, after commit), or leaves the room on purpose (the room page's Leave button, "bye"
with "end" over the room's socket). The student leaving, a tab closing, or a provider that does not
answer end nothing and fail nothing. Against the fake PlugNmeet and BigBlueButton servers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from video import presence
from sessions import lifecycle
from sessions.models import SessionEvent, Status
from tests.fakes.fakeserver import Reply
from tests.room.test_socket import close_the_consumers_connection  # noqa: F401 - autouse
from tests.room.test_socket import WAIT, run, socket, welcome
from video import services
from video.models import VideoRoom


@pytest.fixture
def ending(make_session):
    """A session that started 40 minutes ago and ends in 20: its room is open, check-out is allowed."""
    start = (timezone.now() - timedelta(minutes=40)).replace(second=0, microsecond=0)
    return make_session(start=start, status=Status.SCHEDULED)


def open_room(settings, provider, session, tutor) -> VideoRoom:
    settings.VIDEO_PROVIDER = provider
    services.join(session, user=tutor)
    return VideoRoom.objects.get(session=session)


def active_at(fake, provider, room_id) -> bool:
    if provider == "plugnmeet":
        return fake.rooms[room_id].active
    return room_id in fake.meetings


@pytest.fixture(params=["plugnmeet", "bbb"])
def provider(request):
    """(name, fake server) for each provider."""
    return request.param, request.getfixturevalue(request.param)


def test_check_out_ends_the_provider_room_after_commit(settings, client, provider, ending, tutor,
                                                       django_capture_on_commit_callbacks):
    name, fake = provider
    room = open_room(settings, name, ending, tutor)
    lifecycle.check_in(ending, by=tutor)
    client.force_login(tutor)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = client.post(f"/api/sessions/{ending.id}/check-out")
        assert answer.status_code == 200, answer.content
        assert active_at(fake, name, room.room_id)  # nothing at the provider inside the transaction
    for callback in callbacks:
        callback()

    assert not active_at(fake, name, room.room_id)
    room.refresh_from_db()
    assert room.ended_at is not None
    assert SessionEvent.objects.filter(session=ending, kind="check_out").count() == 1


def test_a_check_out_recording_the_student_absent_ends_it_too(settings, plugnmeet, ending, tutor,
                                                             django_capture_on_commit_callbacks):
    room = open_room(settings, "plugnmeet", ending, tutor)
    lifecycle.check_in(ending, by=tutor)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.check_out(ending, by=tutor, student_absent=True)
    assert not plugnmeet.rooms[room.room_id].active
    assert VideoRoom.objects.get(pk=room.pk).ended_at is not None


def test_a_provider_that_does_not_answer_fails_no_check_out(settings, plugnmeet, client, ending, tutor,
                                                            django_capture_on_commit_callbacks):
    room = open_room(settings, "plugnmeet", ending, tutor)
    lifecycle.check_in(ending, by=tutor)
    plugnmeet.queue("/auth/room/endRoom", Reply(500, b"", "text/plain"))
    client.force_login(tutor)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(f"/api/sessions/{ending.id}/check-out")
    assert answer.status_code == 200
    ending.refresh_from_db()
    assert ending.status == Status.AWAITING_APPROVAL_PARENT
    assert plugnmeet.rooms[room.room_id].active  # left for the provider's own timeout (duration)
    assert VideoRoom.objects.get(pk=room.pk).ended_at is None


def test_other_events_end_nothing_and_the_built_in_room_needs_no_ending(settings, plugnmeet, ending, tutor,
                                                                       django_capture_on_commit_callbacks):
    room = open_room(settings, "plugnmeet", ending, tutor)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.check_in(ending, by=tutor)
    assert plugnmeet.rooms[room.room_id].active
    VideoRoom.objects.all().delete()
    assert services.end_open_room(ending.id) is None  # no provider room: nothing to call


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("who", "end", "ended"), [("tutor", True, True), ("tutor", False, False),
                                                    ("student", True, False)])
def test_the_tutor_leaving_the_provider_room_on_purpose_ends_it(settings, plugnmeet, ending, tutor, student,
                                                               who, end, ended):
    """The Leave button sends "bye" with "end"; a closing tab sends a plain "bye"; only the tutor's
    Leave ends the provider's room (the student leaving lets the tutor stay)."""
    room = open_room(settings, "plugnmeet", ending, tutor)
    presence.mark_present(ending.id, student.id, connection_id="plugnmeet:PA_s1")  # in the provider's room
    user = tutor if who == "tutor" else student
    s = socket(ending.id, user)

    async def scenario():
        await welcome(s)
        await s.send_json_to({"type": "bye", "end": end})
        while (await s.receive_output(timeout=WAIT))["type"] != "websocket.close":
            pass
    run(scenario)
    assert plugnmeet.rooms[room.room_id].active is not ended
    assert (VideoRoom.objects.get(pk=room.pk).ended_at is not None) is ended
    # an ended room has no one in it: its connections leave the presence at once
    assert presence.connections(ending.id) == ({} if ended else {"plugnmeet:PA_s1": student.id})
