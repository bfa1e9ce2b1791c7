"""Issue 18 item 1, races over the HTTP API: conflicting requests sent at the same moment to the
project's web server (exactly `make run`'s command: uvicorn on the ASGI app, which runs each sync
view in a thread of its own, so the requests really overlap) on PostgreSQL. In every round exactly
one request wins (2xx), the session gets exactly one new event, and every other request gets 409
with a message, after which the session reads as the winner left it.

Rounds: acknowledge vs dispute (the parent, twice each), two check-ins, the tutor's check-in vs a
coordinator's cancel, accept vs counter (the parent) vs withdraw (the tutor) of an open reschedule request.
REQUESTS (165: about 40 s here) keeps `make test` quick; a bench raises it (RACE_REQUESTS=10000).
"""

import http.client
import json
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sessions import lifecycle
from sessions.models import RescheduleProposal, SessionEvent, Status
from tests.conftest import make_user
from tests.tutoring.test_server import server  # noqa: F401 - the fixture: `make run`'s web server
from tutoring.models import Role

REQUESTS = int(os.environ.get("RACE_REQUESTS", "165"))
PER_CYCLE = 4 + 2 + 2 + 3  # the requests of one round of each kind
ROUNDS = max(1, REQUESTS // PER_CYCLE)

pytestmark = pytest.mark.django_db(transaction=True)


class Caller:
    """One signed-in user over HTTP: the session cookie and a CSRF token of its own."""

    def __init__(self, port, user):
        client = Client()
        client.force_login(user)
        self.port, self.csrf = port, secrets.token_hex(16)
        self.cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={self.csrf}"

    def call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else b""
            conn.request(method, path, body=data if method == "POST" else None, headers={
                "Cookie": self.cookie, "X-CSRFToken": self.csrf, "Content-Type": "application/json",
                "Accept": "application/json"})
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else {}
        finally:
            conn.close()


def race(pool, requests):
    """Send all the requests at once (a barrier releases them together); their (status, body)."""
    barrier = threading.Barrier(len(requests))

    def one(request):
        caller, path, body = request
        barrier.wait()
        return caller.call("POST", path, body)

    return list(pool.map(one, requests))


def one_winner(session, answers, events_before):
    """Exactly one 2xx, the others 409 with a message and the session as it is now, and exactly
    one new event."""
    statuses = [status for status, _ in answers]
    winners = [i for i, status in enumerate(statuses) if 200 <= status < 300]
    assert len(winners) == 1, answers
    losers = [answer for i, answer in enumerate(answers) if i not in winners]
    assert all(body.get("detail") and status == 409 for status, body in losers), answers
    session.refresh_from_db()
    # each loser's 409 carries the session as it is now: the winner's outcome
    assert all(body["session"]["id"] == session.id and body["session"]["status"] == session.status
               for status, body in losers), answers
    assert SessionEvent.objects.filter(session=session).count() == events_before + 1, answers
    return winners[0]


@pytest.fixture
def people(server, parent, student, tutor, course, reasons):  # noqa: F811 - the fixture imported above
    port, _ = server
    return {"port": port, "parent": Caller(port, parent), "tutor": Caller(port, tutor)}


def test_acknowledge_against_dispute(people, make_session, parent):
    now = timezone.now()
    reason = {"reason": "The lesson did not take place as recorded."}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for i in range(ROUNDS):
            start = (now - timedelta(days=2, hours=2 * i)).replace(second=0, microsecond=0)
            s = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                             checked_out_at=start + timedelta(hours=1))
            base = f"/api/sessions/{s.id}"
            answers = race(pool, [(people["parent"], f"{base}/acknowledge", None),
                                  (people["parent"], f"{base}/dispute", reason),
                                  (people["parent"], f"{base}/acknowledge", None),
                                  (people["parent"], f"{base}/dispute", reason)])
            won = one_winner(s, answers, 0)
            s.refresh_from_db()
            assert s.status == (Status.APPROVED if won in (0, 2) else Status.DISPUTED)


def round_tutor(i):
    """A tutor of its own for each live round: live sessions of one tutor may not overlap."""
    return make_user(f"racer{i}", Role.TUTOR)


def test_two_check_ins_and_check_in_against_cancel(
        server, make_session, coordinator, student, course, reasons):  # noqa: F811 - the imported fixture
    """Check-in opens 30 minutes before the start, the tutor's own cancel closes 4 hours before: the
    cancel that meets a check-in is the coordinator's, on the tutor's behalf."""
    port, _ = server
    now = timezone.now()
    office = Caller(port, coordinator)
    cancel = {"reason_id": reasons[("tutor", "cancel")].id, "on_behalf_of": "tutor"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i in range(2 * ROUNDS):
            tutor = round_tutor(i)
            caller = Caller(port, tutor)
            start = (now + timedelta(minutes=10)).replace(second=0, microsecond=0)
            s = make_session(start=start, tutor=tutor)
            base = f"/api/sessions/{s.id}"
            if i % 2 == 0:
                answers = race(pool, [(caller, f"{base}/check-in", None), (caller, f"{base}/check-in", None)])
                one_winner(s, answers, 0)
                s.refresh_from_db()
                assert s.status == Status.CHECKED_IN
                continue
            answers = race(pool, [(caller, f"{base}/check-in", None), (office, f"{base}/cancel", cancel)])
            won = one_winner(s, answers, 0)
            s.refresh_from_db()
            assert s.status == (Status.CHECKED_IN if won == 0 else Status.CANCELLED_BY_TUTOR)


def test_accept_against_counter_against_withdraw(people, make_session, tutor, reasons):
    now = timezone.now()
    with ThreadPoolExecutor(max_workers=3) as pool:
        for i in range(ROUNDS):
            start = (now + timedelta(days=5, hours=2 * i)).replace(minute=0, second=0, microsecond=0)
            s = make_session(start=start)
            p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=start + timedelta(days=30),
                                             reason_id=reasons[("tutor", "reschedule")].id)
            before = SessionEvent.objects.filter(session=s).count()
            base = f"/api/sessions/{s.id}/reschedule/{p.id}"
            counter = {"proposed_start": (start + timedelta(days=31)).isoformat()}
            answers = race(pool, [(people["parent"], f"{base}/accept", None),
                                  (people["parent"], f"{base}/counter", counter),
                                  (people["tutor"], f"{base}/withdraw", None)])
            won = one_winner(s, answers, before)
            s.refresh_from_db()
            expected = [start + timedelta(days=30), start, start][won]
            assert s.scheduled_start == expected and s.status == Status.SCHEDULED
            assert RescheduleProposal.objects.filter(thread__session=s).count() == (2 if won == 1 else 1)
