"""Fixtures of the video tests: the fake PlugNmeet and BigBlueButton servers with the settings
pointing at them, and a session whose room is open now."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import Status
from tests.fakes.bbb_server import FakeBBB
from tests.fakes.plugnmeet_server import FakePlugNmeet
from tests.room.conftest import clean_room_keys  # noqa: F401 - autouse: no room keys earlier tests left
from video import services
from video.models import VideoRoom


@pytest.fixture
def plugnmeet(settings):
    with FakePlugNmeet() as fake:
        settings.PLUGNMEET = {"url": fake.base_url, "api_key": fake.api_key, "secret": fake.secret}
        settings.VIDEO_HTTP_TIMEOUT_SECONDS = 2
        yield fake


@pytest.fixture
def bbb(settings):
    with FakeBBB() as fake:
        settings.BBB = {"url": fake.url, "secret": fake.secret, "checksum": "sha256"}
        settings.VIDEO_HTTP_TIMEOUT_SECONDS = 2
        yield fake


@pytest.fixture
def live(make_session):
    """A session that started five minutes ago: its room is open."""
    start = timezone.now() - timedelta(minutes=5)
    return make_session(start=start, status=Status.SCHEDULED)


def recorded_room(settings, provider: str, session, tutor) -> VideoRoom:
    """`provider` is the deployment's, rooms record, and the session's room exists (the tutor joined)."""
    settings.VIDEO_PROVIDER = provider
    settings.VIDEO_RECORD_DEFAULT = True
    services.join(session, user=tutor)
    return VideoRoom.objects.get(session=session)


@pytest.fixture
def pnm_room(settings, plugnmeet, live, tutor):
    return recorded_room(settings, "plugnmeet", live, tutor)


@pytest.fixture
def bbb_room(settings, bbb, live, tutor):
    return recorded_room(settings, "bbb", live, tutor)
