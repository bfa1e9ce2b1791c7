"""Fixtures of the video tests: the fake PlugNmeet and BigBlueButton servers with the settings
pointing at them, and a session whose room is open now."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sessions.models import Status
from tests.fakes.bbb_server import FakeBBB
from tests.fakes.plugnmeet_server import FakePlugNmeet


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
