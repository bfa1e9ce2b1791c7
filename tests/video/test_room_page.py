"""The room page with a video provider (R01: PlugNmeet selected, BigBlueButton supported): the same
pre-join check, states, header, timer, feedback and resources, with the provider's client framed
for the call. The page's CSP lets it frame the configured provider's origin and nothing else."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import Status
from tests.fakes.fakeserver import Reply
from video.models import CourseVideo


def page_of(client, user, session, **params):
    client.force_login(user)
    return client.get(f"/session/{session.id}", params)


def frame_src(response) -> list[str] | None:
    policy = response["Content-Security-Policy"]
    found = re.search(r"(?:^|;)\s*frame-src ([^;]*)", policy)
    return found.group(1).split() if found else None


def config(response) -> dict:
    found = re.search(r'<script id="room-config" type="application/json">(.*?)</script>', response.content.decode())
    return json.loads(found.group(1))


@pytest.mark.parametrize("provider", ["plugnmeet", "bbb"])
@pytest.mark.parametrize("who", ["tutor", "student"])
def test_the_page_frames_the_provider_and_keeps_everything_else(client, settings, plugnmeet, bbb, live, provider, who,
                                                               request):
    settings.VIDEO_PROVIDER = provider
    fake = plugnmeet if provider == "plugnmeet" else bbb
    answer = page_of(client, request.getfixturevalue(who), live)

    assert answer.status_code == 200
    assert frame_src(answer) == [fake.origin]  # the provider's client and nothing else
    page = html.unescape(answer.content.decode())
    assert 'id="provider-frame"' in page and 'allow="camera; microphone;' in page
    for kept in ("Check your camera and microphone", 'id="preview"', 'id="pick-camera"', 'id="room-status"',
                 'id="timer"', 'id="check-in"', 'id="side-panel"', "Tips", 'id="leave"'):
        assert kept in page, kept
    assert 'id="toggle-mic"' not in page and 'id="remote-video"' not in page  # the provider's client has them
    assert config(answer)["provider"] == provider
    assert config(answer)["joinUrl"] == f"/api/sessions/{live.id}/video/join"
    assert fake.requests == []  # nothing is asked of the provider before Join


def test_a_course_override_frames_its_own_provider(client, settings, plugnmeet, bbb, live, course, student):
    settings.VIDEO_PROVIDER = "plugnmeet"
    CourseVideo.objects.create(course=course, provider="bbb")
    answer = page_of(client, student, live)
    assert frame_src(answer) == [bbb.origin] and config(answer)["provider"] == "bbb"


def test_the_built_in_room_frames_nothing(client, live, student):
    answer = page_of(client, student, live)
    assert frame_src(answer) is None and "default-src 'self'" in answer["Content-Security-Policy"]
    assert config(answer)["provider"] == "p2p" and 'id="remote-video"' in answer.content.decode()


def test_the_post_session_screen_with_a_provider_frames_nothing(client, settings, plugnmeet, make_session, student):
    """R08: feedback and resources as with the built-in room."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    start = timezone.now() - timedelta(hours=2)
    done = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                        checked_out_at=start + timedelta(hours=1))
    answer = page_of(client, student, done)
    page = html.unescape(answer.content.decode())
    assert "Session Ended" in page and "Quick feedback" in page and frame_src(answer) is None


def test_a_provider_that_is_down_answers_the_page_s_join_with_503(client, settings, plugnmeet, live, student):
    """R12 "Video service unavailable. Try again." (the page shows it with Retry), never a 500."""
    settings.VIDEO_PROVIDER = "plugnmeet"
    plugnmeet.queue("/auth/room/create", Reply(502, b"<html>bad gateway</html>", "text/html"))
    client.force_login(student)
    answer = client.post(config(page_of(client, student, live))["joinUrl"])
    assert (answer.status_code, answer.json()) == (503, {"detail": "Video service unavailable. Try again.",
                                                         "code": "video_unavailable"})
    retried = client.post(f"/api/sessions/{live.id}/video/join")
    assert retried.status_code == 200 and retried.json()["url"].startswith(plugnmeet.origin)
