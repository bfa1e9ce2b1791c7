"""Presence from the providers (issue 16 item 4): PlugNmeet's verified webhooks and the polls of
PlugNmeet and BigBlueButton feed the same presence the built-in room's sockets feed, so Waiting,
In Progress, No Show, the room_joined / room_left events and the call's analytics come out the same
with every provider. Bad and replayed webhooks change nothing."""

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from video import presence
from room.services import room_data, room_view
from tutoring.models import Role
from tests.conftest import make_user
from tests.fakes.fakeserver import Reply
from tests.room.test_presence import analytics, events
from tests.video.conftest import recorded_room
from video import attendance, services
from video.models import VideoRoom

PNM_URL = "/video/webhooks/plugnmeet"


def deliver(client, fake, body: bytes, headers: dict | None = None):
    headers = fake.webhook_headers(body) if headers is None else headers
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k != "Content-Type"}
    return client.post(PNM_URL, data=body, content_type="application/json", **extra)


def participant_event(fake, room, name, user, *, sid, at):
    return fake.event(name, room.room_id, participant={"sid": sid, "identity": str(user.pk), "name": user.name},
                      created_at=int(at.timestamp()))


def seen_by(session, user):
    """The room as this participant's page shows it now (state, detail)."""
    view = room_view(room_data(session.id), user.id, presence.connections(session.id))
    return view["state"], view["detail"]


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(seconds=30)


# --- PlugNmeet's webhooks ------------------------------------------------------------------------------


def test_a_join_webhook_puts_the_participant_in_the_room(client, plugnmeet, pnm_room, student, tutor, t0):
    """R10 Waiting / Joinable, R13 session_joined with a provider: the student joined at PlugNmeet."""
    live = pnm_room.session
    answer = deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_joined", student,
                                                          sid="PA_s1", at=t0))

    assert answer.status_code == 200
    assert presence.connections(live.id) == {"plugnmeet:PA_s1": student.id}
    assert events(live) == [("room_joined", student.id, None)]
    assert analytics("session_joined") == [{"session_id": live.id,
                                            "time_before_start": int((live.scheduled_start - t0).total_seconds())}]
    assert seen_by(live, student) == ("waiting", "Waiting for Tia to join.")
    assert seen_by(live, tutor) == ("joinable", "Sam is in the room.")


def test_both_in_the_provider_room_is_in_progress_and_leaving_ends_the_call(client, plugnmeet, pnm_room, student,
                                                                              tutor, t0):
    """R10 In Progress, R13 session_started / session_ended with their duration."""
    live = pnm_room.session
    for user, sid, at in [(student, "PA_s1", t0), (tutor, "PA_t1", t0 + timedelta(seconds=5))]:
        deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_joined", user, sid=sid, at=at))
    assert seen_by(live, student)[0] == seen_by(live, tutor)[0] == "in_progress"
    assert analytics("session_started") == [{"session_id": live.id}]

    for user, sid, at in [(tutor, "PA_t1", t0 + timedelta(seconds=20)), (student, "PA_s1", t0 + timedelta(seconds=25))]:
        deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_left", user, sid=sid, at=at))

    assert presence.present_user_ids(live.id) == set()
    assert events(live) == [("room_joined", student.id, None), ("room_joined", tutor.id, None),
                                 ("room_left", tutor.id, "left"), ("room_left", student.id, "left")]
    assert analytics("session_ended") == [{"session_id": live.id, "duration": 20}]


def test_a_replayed_join_after_the_leave_changes_nothing(client, plugnmeet, pnm_room, student, t0):
    live = pnm_room.session
    joined = participant_event(plugnmeet, pnm_room, "participant_joined", student, sid="PA_s1", at=t0)
    headers = plugnmeet.webhook_headers(joined)
    deliver(client, plugnmeet, joined, headers)
    deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_left", student, sid="PA_s1",
                                                 at=t0 + timedelta(seconds=10)))

    again = deliver(client, plugnmeet, joined, headers)

    assert (again.status_code, again.content) == (200, b"duplicate")
    assert presence.present_user_ids(live.id) == set()
    assert events(live) == [("room_joined", student.id, None), ("room_left", student.id, "left")]


@pytest.mark.parametrize("case", ["wrong secret", "another body", "expired", "missing"])
def test_a_join_webhook_with_a_bad_signature_puts_nobody_in_the_room(client, plugnmeet, pnm_room, student, t0, case):
    live = pnm_room.session
    body = participant_event(plugnmeet, pnm_room, "participant_joined", student, sid="PA_s1", at=t0)
    headers = {
        "wrong secret": plugnmeet.webhook_headers(body, secret="not-the-secret-" * 3),
        "another body": plugnmeet.webhook_headers(body + b" "),
        "expired": plugnmeet.webhook_headers(body, now=t0.timestamp() - 600),
        "missing": {},
    }[case]

    assert deliver(client, plugnmeet, body, headers).status_code == 403
    assert presence.connections(live.id) == {} and events(live) == [] and analytics("session_joined") == []


def test_someone_else_at_the_provider_is_not_in_the_session_s_room(client, plugnmeet, pnm_room, outsider, t0):
    deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_joined", outsider, sid="PA_x",
                                                 at=t0))
    assert presence.connections(pnm_room.session_id) == {} and events(pnm_room.session) == []


def test_the_room_finishing_takes_everyone_out(client, plugnmeet, pnm_room, student, tutor, t0):
    live = pnm_room.session
    for user, sid in [(student, "PA_s1"), (tutor, "PA_t1")]:
        deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_joined", user, sid=sid, at=t0))

    deliver(client, plugnmeet, plugnmeet.event("room_finished", pnm_room.room_id,
                                               created_at=int((t0 + timedelta(seconds=40)).timestamp())))

    assert presence.present_user_ids(live.id) == set()
    assert sorted(events(live)[2:]) == sorted([("room_left", student.id, "left"), ("room_left", tutor.id, "left")])
    assert analytics("session_ended") == [{"session_id": live.id, "duration": 40}]


def test_a_provider_connection_nobody_confirms_runs_out(client, settings, plugnmeet, pnm_room, student, t0):
    """Like a built-in socket whose heartbeats stop: VIDEO_PRESENCE_TTL_SECONDS after it was last seen."""
    settings.VIDEO_PRESENCE_TTL_SECONDS = 90
    deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_joined", student, sid="PA_s1",
                                                 at=t0))
    assert presence.present_user_ids(pnm_room.session_id, now=t0 + timedelta(seconds=89)) == {student.id}
    assert presence.present_user_ids(pnm_room.session_id, now=t0 + timedelta(seconds=91)) == set()


def test_no_show_with_a_provider(client, settings, plugnmeet, tutor, make_session):
    """R10 No Show: the tutor is at PlugNmeet 20 minutes after the start, the student never came."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    late = make_session(start=timezone.now() - timedelta(minutes=20))
    services.join(late, user=tutor)
    room = VideoRoom.objects.get(session=late)
    deliver(client, plugnmeet, participant_event(plugnmeet, room, "participant_joined", tutor, sid="PA_t1",
                                                 at=timezone.now()))
    assert seen_by(late, tutor) == ("no_show", "Sam has not joined 15 minutes after the start.")


# --- polls ---------------------------------------------------------------------------------------------


def open_client(info) -> httpx.Response:
    """The participant's browser opens the join link (the fake's client page)."""
    with httpx.Client(timeout=10) as browser:
        return browser.get(info.url)


def test_a_poll_finds_who_is_at_plugnmeet_when_a_webhook_was_missed(settings, plugnmeet, live, student, tutor):
    settings.SITE_URL = "http://127.0.0.1:9"  # the room's webhooks go nowhere: missed
    pnm_room = recorded_room(settings, "plugnmeet", live, tutor)
    assert open_client(services.join(live, user=student)).status_code == 200
    assert plugnmeet.webhooks == [("participant_joined", "ConnectError")]
    assert presence.present_user_ids(live.id) == set()

    assert attendance.poll_rooms(now=timezone.now()) == {"rooms": 1, "failed": 0, "present": 1, "gone": 0}
    sid = next(iter(plugnmeet.rooms[pnm_room.room_id].participants))
    assert presence.connections(live.id) == {f"plugnmeet:{sid}": student.id}

    plugnmeet.client_leave(sid)
    assert attendance.poll_rooms(now=timezone.now()) == {"rooms": 1, "failed": 0, "present": 0, "gone": 1}
    assert events(live) == [("room_joined", student.id, None), ("room_left", student.id, "left")]


def test_bigbluebutton_presence_comes_from_polls(bbb, bbb_room, student, tutor):
    """BBB tells no joins: getMeetingInfo's attendees are polled into the same presence."""
    live = bbb_room.session
    attendance.poll_rooms(now=timezone.now())
    assert presence.connections(live.id) == {}  # the tutor's link was made, not followed

    for user in (tutor, student):
        assert open_client(services.join(live, user=user)).status_code == 302  # into the HTML5 client
    attendance.poll_rooms(now=timezone.now())
    assert presence.connections(live.id) == {f"bbb:{tutor.id}": tutor.id, f"bbb:{student.id}": student.id}
    assert seen_by(live, student)[0] == "in_progress"

    bbb.meetings[bbb_room.room_id].attendees[:] = [a for a in bbb.meetings[bbb_room.room_id].attendees
                                                   if a[0] != str(student.id)]
    attendance.poll_rooms(now=timezone.now())
    assert presence.present_user_ids(live.id) == {tutor.id}
    assert seen_by(live, tutor) == ("waiting", "Waiting for Sam to join.")
    assert events(live)[-1] == ("room_left", student.id, "left")


def test_a_provider_that_is_down_leaves_presence_as_it_was(client, plugnmeet, pnm_room, student, t0):
    live = pnm_room.session
    deliver(client, plugnmeet, participant_event(plugnmeet, pnm_room, "participant_joined", student, sid="PA_s1",
                                                 at=t0))
    plugnmeet.queue("/auth/room/isRoomActive", Reply(500, b"oops", "text/plain"))

    assert attendance.poll_rooms(now=timezone.now()) == {"rooms": 1, "failed": 1, "present": 0, "gone": 0}
    assert presence.connections(live.id) == {"plugnmeet:PA_s1": student.id}


def test_only_rooms_in_use_are_polled(settings, plugnmeet, pnm_room, make_session, sibling):
    tomorrow = make_session(start=timezone.now() + timedelta(days=1))
    VideoRoom.objects.create(session=tomorrow, provider="plugnmeet", room_id="tutoring-tomorrow",
                             created_at=timezone.now())
    ended = make_session(start=timezone.now() - timedelta(minutes=10), tutor=make_user("tom", Role.TUTOR),
                         student=sibling)
    VideoRoom.objects.create(session=ended, provider="plugnmeet", room_id="tutoring-ended",
                             created_at=timezone.now(), ended_at=timezone.now())

    assert list(attendance.rooms_in_use(timezone.now())) == [pnm_room]
