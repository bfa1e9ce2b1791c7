from datetime import timedelta

import pytest

from sessions.models import SessionAssessment, Status
from tests.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def as_creator(client, creator):
    client.force_login(creator)
    return client


@pytest.fixture
def rated(make_session, student):
    """Yesterday's session in Cleo's course, 55 minutes, rated 2 by the student ("Too fast")."""
    start = NOW - timedelta(days=1)
    s = make_session(start=start, status=Status.APPROVED, checked_in_at=start,
                     checked_out_at=start + timedelta(minutes=55))
    SessionAssessment.objects.create(session=s, author=student, author_role="student", rating=2, comment="Too fast")
    return s
