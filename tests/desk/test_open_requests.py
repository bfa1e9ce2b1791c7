"""The desk's queue of open reschedule requests (issue 17, the desk walk): counted in the desk's one
session aggregate, linked to the reschedule threads' list filtered to the open ones, oldest first,
each with when it expires (the session's start, L40), who must answer and a link to answer it."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from desk.queues import queues
from sessions import lifecycle
from tests.conftest import NOW

H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def open_requests(make_session, tutor, parent, reasons, n, first_day=3):
    """n open requests, opened one hour apart (the first is the oldest), and one answered."""
    made = []
    for i in range(n):
        s = make_session(start=NOW + (first_day + i) * D)
        p = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + (first_day + 60 + i) * D,
                                         reason_id=reasons[("tutor", "reschedule")].id, now=NOW - (n - i) * H)
        made.append((s, p))
    s = make_session(start=NOW + first_day * D - 3 * H)
    done = lifecycle.propose_reschedule(s, by=tutor, proposed_start=NOW + (first_day + 200) * D,
                                        reason_id=reasons[("tutor", "reschedule")].id, now=NOW - 50 * H)
    lifecycle.reject_reschedule(s, done.pk, by=parent, reason="No", now=NOW - 49 * H)
    return made


def desk_item(client, key):
    body = client.get("/").content.decode()
    found = re.search(rf'data-queue="{key}">\s*<a href="([^"]+)"><span class="desk__count">(\d+)</span>', body)
    return found.group(1).replace("&amp;", "&"), int(found.group(2))


def test_the_open_requests_queue_counts_them_and_lists_them_oldest_first_with_their_expiry(
        client, coordinator, make_session, tutor, parent, reasons):
    made = open_requests(make_session, tutor, parent, reasons, 3)
    client.force_login(coordinator)
    url, count = desk_item(client, "open_requests")
    assert count == 3
    assert url.startswith("/admin/tutoring_sessions/reschedulethread/?status__exact=open")
    body = client.get(url).content.decode()
    # each row links to the session's move-or-answer page, oldest request first
    listed = [int(i) for i in re.findall(r'href="/admin/tutoring_sessions/session/(\d+)/move/"', body)]
    assert listed == [s.pk for s, _ in made]
    # the expiry (the session's start) and who must answer, in the coordinator's zone (UTC here)
    assert "Nov. 19, 2026, 10 a.m." in body and "Parent" in body


def test_the_queue_is_counted_in_the_desks_four_queries(coordinator, make_session, tutor, parent, reasons,
                                                       django_assert_num_queries):
    open_requests(make_session, tutor, parent, reasons, 2)
    with django_assert_num_queries(4):
        counts = {q.key: q.count for q in queues(coordinator, NOW)}
    assert counts["open_requests"] == 2


def test_the_open_requests_list_takes_the_same_queries_for_1_or_20_rows(client, coordinator, make_session, tutor,
                                                                      parent, reasons):
    client.force_login(coordinator)
    url = "/admin/tutoring_sessions/reschedulethread/?status__exact=open&o=5"
    counted = []
    for n in (1, 20):
        open_requests(make_session, tutor, parent, reasons, n - len(counted), first_day=3 + 10 * len(counted))
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(url).content.decode()
        assert body.count('/move/"') == n
        counted.append(len(ctx.captured_queries))
    assert counted[0] == counted[1]


def test_the_session_lists_needs_a_person_filter_has_the_open_requests_too(client, coordinator, make_session, tutor,
                                                                          parent, reasons):
    made = open_requests(make_session, tutor, parent, reasons, 2)
    client.force_login(coordinator)
    body = client.get("/admin/tutoring_sessions/session/?desk=open_requests&o=2").content.decode()
    listed = [int(i) for i in re.findall(r'href="/admin/tutoring_sessions/session/(\d+)/change/', body)]
    assert listed == [s.pk for s, _ in made]
