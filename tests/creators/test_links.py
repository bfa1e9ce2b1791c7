"""Issue 10 item 3: the creator's "Coming sessions" and the calendar's entries lead to their
sessions (the detail panel), and those links answer 200."""

from datetime import timedelta

import pytest

from tests.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_coming_sessions_and_calendar_entries_link_to_the_session(client, creator, make_session):
    s = make_session(start=NOW + timedelta(days=2))
    client.force_login(creator)
    link = f'href="/dashboard/teaching/sessions/{s.id}/"'
    assert link in client.get("/").content.decode()
    calendar = client.get("/dashboard/teaching/sessions", {"tab": "upcoming"}).content.decode()
    assert link in calendar.split('id="calendar"')[1]
    assert client.get(f"/dashboard/teaching/sessions/{s.id}/").status_code == 200
