"""Issue 10 item 9: the tutor's Today and its Check-in come first (on a phone too: the page is one
column in this order); reschedule requests for later follow, with their count at the top."""

from datetime import timedelta

import pytest

from sessions import lifecycle
from tests.conftest import NOW


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def test_today_comes_before_requests_with_a_count_on_top(client, tutor, parent, make_session, reasons):
    today = make_session(start=NOW + timedelta(minutes=20))
    later = [make_session(start=NOW + timedelta(days=d)) for d in (7, 14)]
    for s in later:
        lifecycle.propose_reschedule(s, by=parent, proposed_start=s.scheduled_start + timedelta(days=1),
                                     reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    client.force_login(tutor)
    body = client.get("/teach/").content.decode()
    count = body.index('<a href="#needs-title">2 requests need your answer</a>')
    check_in = body.index(f"/sessions/{today.id}/check-in/")
    needs = body.index('id="needs-title"')
    assert count < check_in < needs < body.index(f'id="session-{later[0].id}"')
    # the other tabs keep requests first: there is no day to put before them
    body = client.get("/teach/?tab=upcoming").content.decode()
    assert body.index('id="needs-title"') < body.index('aria-label="Which sessions"')
    assert "need your answer</a>" not in body


def test_one_request_is_counted_in_the_singular(client, tutor, parent, make_session, reasons):
    s = make_session(start=NOW + timedelta(days=7))
    lifecycle.propose_reschedule(s, by=parent, proposed_start=s.scheduled_start + timedelta(days=1),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    client.force_login(tutor)
    assert "1 request needs your answer" in client.get("/teach/").content.decode()
