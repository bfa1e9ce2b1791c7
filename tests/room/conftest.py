"""The session room's fixtures: sessions on the real clock (the socket and the room read it), a
clean slate of room keys in Redis for every test, and signed-in socket helpers."""

from datetime import timedelta

import pytest
from django.utils import timezone

from video import presence


@pytest.fixture(autouse=True)
def clean_room_keys():
    """Rooms are keyed by session id within this database: forget what earlier tests left."""
    client = presence.client()
    keys = list(client.scan_iter(match=f"room:{presence.namespace()}:*", count=1000))
    if keys:
        client.delete(*keys)
    yield


@pytest.fixture
def at(make_session):
    """A session starting `delta` from the real now (whole minutes), e.g. at(minutes=5)."""
    def make(status="scheduled", length=60, **delta):
        start = (timezone.now() + timedelta(**delta)).replace(second=0, microsecond=0)
        return make_session(start=start, minutes=length, status=status)
    return make


@pytest.fixture
def live(at):
    """A session whose room is open: it starts in 5 minutes."""
    return at(minutes=5)
