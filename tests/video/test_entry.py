"""One entry rule (sessions.room_states.entry_refusal): the room page, the built-in room's socket and the
video join (which hands out a provider's join URL or token) refuse the same people at the same
times with the same words. A refused join asks the provider nothing and changes nothing."""

from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from analytics.models import Event
from video import presence
from room.consumers import admission
from sessions.models import SessionEvent, Status
from video.models import VideoRoom

ENDED = "This session has ended."


@pytest.fixture
def pnm(settings, plugnmeet):
    settings.VIDEO_PROVIDER = "plugnmeet"
    return plugnmeet


def api_join(client, user, session):
    client.force_login(user)
    return client.post(f"/api/sessions/{session.id}/video/join")


# (start in minutes from now, status, the other participant in the room) -> refusal code, message
CASES = {
    "16 minutes before": (16, Status.SCHEDULED, False, "room_not_open", "The room opens 15 minutes before the start."),
    "14 minutes before": (14, Status.SCHEDULED, False, None, None),
    "during": (-5, Status.SCHEDULED, False, None, None),
    "after the end, alone": (-90, Status.SCHEDULED, False, "session_ended", ENDED),
    "after the end, the other still in the call": (-90, Status.CHECKED_IN, True, None, None),
    "checked out": (-90, Status.AWAITING_APPROVAL_PARENT, False, "session_ended", ENDED),
    "cancelled": (30, Status.CANCELLED_BY_PARENT, False, "session_ended", "This session was cancelled."),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("who", ["tutor", "student"])
def test_the_socket_and_the_video_join_follow_the_same_rule(client, pnm, make_session, tutor, student, case, who):
    """R10 Early / Ended, R12 "This session has ended.": one rule, the same words, no URL handed out."""
    start, status, other_in, code, message = CASES[case]
    begins = timezone.now() + timedelta(minutes=start)
    extra = {"checked_in_at": begins} if status != Status.SCHEDULED else {}
    if status == Status.AWAITING_APPROVAL_PARENT:
        extra["checked_out_at"] = begins + timedelta(minutes=60)
    session = make_session(start=begins, status=status, **extra)
    user, other = (tutor, student) if who == "tutor" else (student, tutor)
    if other_in:
        presence.mark_present(session.id, other.id, connection_id="conn-other-1")

    closing, role, _ = admission(user, session.id)
    answer = api_join(client, user, session)

    if code is None:
        assert closing is None and role == who
        assert answer.status_code == 200 and answer.json()["url"].startswith(pnm.base_url)
    else:
        assert (closing.code, closing.detail) == (4409, message)
        assert (answer.status_code, answer.json()) == (409, {"detail": message, "code": code})
        assert pnm.requests == [] and not VideoRoom.objects.exists()


@pytest.mark.parametrize("who", ["parent", "coordinator", "creator"])
def test_people_who_see_the_session_but_are_not_in_it_are_refused_alike(client, pnm, live, who, request):
    """R01, R12 "You're not part of this session." on the page, the socket and the join."""
    user = request.getfixturevalue(who)

    closing, _, _ = admission(user, live.id)
    client.force_login(user)
    page = client.get(f"/session/{live.id}")
    answer = client.post(f"/api/sessions/{live.id}/video/join")

    assert closing.code == 4403 and closing.detail == "You're not part of this session."
    assert page.status_code == 403 and "You're not part of this session." in unescape(page.content.decode())
    assert (answer.status_code, answer.json()["detail"]) == (403, "You're not part of this session.")
    assert_nothing_changed(pnm, live)


def test_an_outsider_learns_nothing_anywhere(client, pnm, live, outsider):
    """R12 "Session not found. Check your dashboard.": 404 everywhere, nothing changed."""
    closing, _, _ = admission(outsider, live.id)
    client.force_login(outsider)
    page = client.get(f"/session/{live.id}")
    answer = client.post(f"/api/sessions/{live.id}/video/join")

    assert closing.code == 4404
    assert page.status_code == 404 and "Session not found. Check your dashboard." in unescape(page.content.decode())
    assert answer.status_code == 404
    assert_nothing_changed(pnm, live)


def assert_nothing_changed(fake, session):
    before = session.__dict__.copy()
    session.refresh_from_db()
    assert fake.requests == [] and not VideoRoom.objects.exists()
    assert not SessionEvent.objects.filter(session=session).exists() and not Event.objects.exists()
    assert (session.status, session.video_provider, session.video_room_id) == (
        before["status"], before["video_provider"], before["video_room_id"])


def test_the_room_page_hands_out_no_join_url(client, pnm, live, student):
    """The page renders without asking the provider: a join URL exists only once Join asks for it."""
    client.force_login(student)
    page = client.get(f"/session/{live.id}").content.decode()

    assert pnm.requests == [] and "access_token" not in page and not VideoRoom.objects.exists()
