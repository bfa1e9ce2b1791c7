"""Presence in Redis with an expiry, and what it means: join and leave events (attendance
evidence), the call's analytics (R13), a second connection of the same person."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Event
from video import presence
from room.services import joined_user_ids
from sessions.models import SessionEvent

pytestmark = pytest.mark.django_db


def events(session):
    return list(SessionEvent.objects.filter(session=session, kind__startswith="room_")
                .order_by("id").values_list("kind", "actor_id", "data__reason"))


def analytics(name):
    return list(Event.objects.filter(name=name).values_list("data", flat=True))


def test_a_join_is_recorded_once_per_person(live, student):
    now = timezone.now()
    first = presence.mark_present(live.id, student.id, connection_id="tab-one-aaaa", now=now)
    presence.mark_present(live.id, student.id, connection_id="tab-one-aaaa", now=now + timedelta(seconds=10))
    second = presence.mark_present(live.id, student.id, connection_id="tab-two-bbbb", now=now + timedelta(seconds=11))
    assert first.joined == {student.id} and second.joined == set()
    assert second.other_connections_of_user == ["tab-one-aaaa"]
    assert events(live) == [("room_joined", student.id, None)]
    assert presence.present_user_ids(live.id, now=now + timedelta(seconds=12)) == {student.id}
    assert joined_user_ids(live.id) == {student.id}


def test_session_joined_says_how_early(live, student):
    """R13 session_joined (session_id, time_before_start in seconds)."""
    now = live.scheduled_start - timedelta(minutes=4)
    presence.mark_present(live.id, student.id, connection_id="conn-aaaaaaaa", now=now)
    assert analytics("session_joined") == [{"session_id": live.id, "time_before_start": 240}]


def test_a_leave_is_recorded_when_the_last_connection_goes(live, student):
    now = timezone.now()
    presence.mark_present(live.id, student.id, connection_id="tab-one-aaaa", now=now)
    presence.mark_present(live.id, student.id, connection_id="tab-two-bbbb", now=now)
    presence.mark_absent(live.id, student.id, connection_id="tab-one-aaaa", now=now)
    assert events(live) == [("room_joined", student.id, None)]
    presence.mark_absent(live.id, student.id, connection_id="tab-two-bbbb", now=now)
    assert events(live)[-1] == ("room_left", student.id, "left")
    assert presence.present_user_ids(live.id, now=now) == set()


def test_a_connection_whose_heartbeats_stop_expires(live, student, tutor, settings):
    """Presence lives in Redis with an expiry: a vanished browser is absent after the TTL, and its
    leave is stamped with the moment it ran out."""
    settings.ROOM_PRESENCE_TTL_SECONDS = 30
    now = timezone.now().replace(microsecond=0)
    presence.mark_present(live.id, student.id, connection_id="conn-aaaaaaaa", now=now)
    assert presence.present_user_ids(live.id, now=now + timedelta(seconds=29)) == {student.id}
    assert presence.present_user_ids(live.id, now=now + timedelta(seconds=31)) == set()
    assert events(live) == [("room_joined", student.id, None)]  # reading wrote nothing
    presence.mark_present(live.id, tutor.id, connection_id="conn-bbbbbbbb", now=now + timedelta(seconds=45))
    left = SessionEvent.objects.get(session=live, kind="room_left")
    assert (left.actor_id, left.data["reason"], left.created_at) == (student.id, "timed_out",
                                                                      now + timedelta(seconds=30))


def test_a_call_starts_with_both_and_ends_when_the_room_empties(live, student, tutor, settings):
    """R13 session_started (both present, once per call) and session_ended (duration)."""
    settings.ROOM_PRESENCE_TTL_SECONDS = 600
    now = timezone.now().replace(microsecond=0)
    presence.mark_present(live.id, student.id, connection_id="conn-aaaaaaaa", now=now)
    presence.mark_present(live.id, tutor.id, connection_id="conn-bbbbbbbb", now=now + timedelta(seconds=5))
    presence.mark_absent(live.id, tutor.id, connection_id="conn-bbbbbbbb", now=now + timedelta(seconds=65))
    presence.mark_present(live.id, tutor.id, connection_id="conn-cccccccc", now=now + timedelta(seconds=70))
    assert analytics("session_started") == [{"session_id": live.id}]
    presence.mark_absent(live.id, tutor.id, connection_id="conn-cccccccc", now=now + timedelta(seconds=100))
    assert analytics("session_ended") == []
    presence.mark_absent(live.id, student.id, connection_id="conn-aaaaaaaa", now=now + timedelta(seconds=125))
    assert analytics("session_ended") == [{"session_id": live.id, "duration": 120}]


def test_rooms_of_two_sessions_are_apart(live, at, student, tutor):
    other = at(hours=3)
    presence.mark_present(live.id, student.id, connection_id="conn-aaaaaaaa")
    assert presence.present_user_ids(other.id) == set()
