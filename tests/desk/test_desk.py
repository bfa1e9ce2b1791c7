"""The coordinator's desk (issue 17 item 1): what needs a person now, counted in a fixed number of
queries, each line a link to the admin list filtered to exactly those rows."""

import re
from datetime import timedelta

import pytest

from desk.queues import queues
from notes.models import Summary, SummaryStatus
from sessions.models import NoShowParty, PackageDeduction, Status
from tests.conftest import NOW, make_user
from tutoring.models import LessonPackage, Role

H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def world(make_session, student, package):
    """Each queue with the rows that belong in it and near misses that do not."""
    s = {}
    s["dispute_old"] = make_session(start=NOW - 9 * D, status=Status.DISPUTED, checked_in_at=NOW - 9 * D,
                                    checked_out_at=NOW - 9 * D + H)
    s["dispute_new"] = make_session(start=NOW - 2 * D, status=Status.DISPUTED, checked_in_at=NOW - 2 * D,
                                    checked_out_at=NOW - 2 * D + H)
    s["ack_late"] = make_session(start=NOW - 5 * D, status=Status.AWAITING_APPROVAL_PARENT,
                                 checked_in_at=NOW - 5 * D, checked_out_at=NOW - 4 * D)
    s["ack_recent"] = make_session(start=NOW - 3 * D + 2 * H, status=Status.AWAITING_APPROVAL_PARENT,
                                   checked_in_at=NOW - 3 * D + 2 * H, checked_out_at=NOW - 2 * D)
    s["open_old"] = make_session(start=NOW - 26 * H - H, status=Status.CHECKED_IN, checked_in_at=NOW - 27 * H)
    s["open_recent"] = make_session(start=NOW - 2 * H, status=Status.CHECKED_IN, checked_in_at=NOW - 2 * H)
    s["missed"] = make_session(start=NOW - H / 2, minutes=20, status=Status.SCHEDULED)
    s["tutor_no_show"] = make_session(start=NOW - 7 * H, status=Status.NO_SHOW, no_show_party=NoShowParty.TUTOR)
    s["student_no_show"] = make_session(start=NOW - 5 * H, status=Status.NO_SHOW,
                                        no_show_party=NoShowParty.STUDENT)
    s["later_today"] = make_session(start=NOW + 3 * H, status=Status.SCHEDULED)
    s["yesterday"] = make_session(start=NOW - 20 * H, status=Status.SCHEDULED)
    Summary.objects.create(session=s["dispute_new"], status=SummaryStatus.FAILED)
    Summary.objects.create(session=s["ack_late"], status=SummaryStatus.READY)
    # the fixture's package (10 credits) has 8 used: 2 left, nearly used up
    for i in range(8):
        done = make_session(start=NOW - (20 + i) * D, status=Status.APPROVED)
        PackageDeduction.objects.create(package=package, session=done, created_at=NOW - (20 + i) * D)
    LessonPackage.objects.create(student=student, credits=10, expires_on=(NOW + 30 * D).date())  # untouched
    LessonPackage.objects.create(student=student, credits=1, expires_on=(NOW - D).date())  # expired
    return s


EXPECTED = {"disputes": {"dispute_old", "dispute_new"}, "unacknowledged": {"ack_late"},
            "open_checkin": {"open_old"}, "missed_checkin": {"missed", "tutor_no_show"}}


def listed_sessions(client, url) -> list[int]:
    body = client.get(url).content.decode()
    return [int(i) for i in re.findall(r'href="/admin/(?:tutoring_sessions/session|desk/dispute)/(\d+)/change/', body)]


def test_the_coordinators_home_counts_each_queue_and_links_to_exactly_its_rows(client, coordinator, world,
                                                                                package):
    """Issue 17 item 1: counts, and each link opens the admin list filtered to those sessions."""
    client.force_login(coordinator)
    body = client.get("/").content.decode()
    assert "Needs a person now" in body
    found = re.findall(r'data-queue="(\w+)">\s*<a href="([^"]+)"><span class="desk__count">(\d+)</span>', body)
    items = {key: (url.replace("&amp;", "&"), int(n)) for key, url, n in found}
    assert {k: n for k, (_u, n) in items.items()} == {
        "disputes": 2, "open_requests": 0, "unacknowledged": 1, "open_checkin": 1, "missed_checkin": 2, "summaries": 1,
        "packages": 1, "notifications_stuck": 0}
    for key, names in EXPECTED.items():
        shown = listed_sessions(client, items[key][0])
        assert sorted(shown) == sorted(world[n].pk for n in names), key
    # disputes oldest first
    assert listed_sessions(client, items["disputes"][0]) == [world["dispute_old"].pk, world["dispute_new"].pk]
    summaries = client.get(items["summaries"][0]).content.decode()
    assert f"/admin/notes/summary/{world['dispute_new'].pk}/change/" in summaries
    assert f"/admin/notes/summary/{world['ack_late'].pk}/change/" not in summaries
    packages = client.get(items["packages"][0]).content.decode()
    assert re.findall(r'href="/admin/tutoring/lessonpackage/(\d+)/change/', packages) == [str(package.pk)]


def test_the_admin_index_shows_the_same_desk(client, coordinator, world):
    """Issue 17 item 1: the admin index carries the desk above the app list."""
    client.force_login(coordinator)
    body = client.get("/admin/").content.decode()
    assert 'class="module desk desk--admin"' in body and 'data-queue="disputes"' in body
    assert '<span class="desk__count">2</span> Disputes waiting' in body
    assert body.index("Needs a person now") < body.index('id="content-main"')


def test_today_is_the_coordinators_own_day(coordinator, make_session):
    """Issue 17 item 1: a session that started before the coordinator's midnight is not today's."""
    coordinator.time_zone = "Pacific/Auckland"  # 23:00 on Monday 16 November there at NOW
    coordinator.save()
    make_session(start=NOW - 12 * H, status=Status.SCHEDULED)  # 11:00 Monday in Auckland: today
    make_session(start=NOW - 24 * H, status=Status.SCHEDULED)  # 23:00 Sunday in Auckland: not today
    counts = {q.key: q.count for q in queues(coordinator, NOW)}
    assert counts["missed_checkin"] == 1


def test_the_desk_counts_take_four_queries_however_much_is_waiting(coordinator, make_session, package,
                                                                   django_assert_num_queries):
    """Issue 17 item 1: one aggregate over sessions, one for summaries, one for packages, one for
    stuck notifications."""
    for n in (1, 25):
        for i in range(n):
            make_session(start=NOW - (40 + n + i) * D, status=Status.DISPUTED)
        with django_assert_num_queries(4):
            counts = {q.key: q.count for q in queues(coordinator, NOW)}
    assert counts["disputes"] == 26


def test_the_home_page_with_the_desk_stays_within_a_fixed_number_of_queries(client, coordinator, world,
                                                                            django_assert_max_num_queries):
    client.force_login(coordinator)
    with django_assert_max_num_queries(9):
        assert client.get("/").status_code == 200


def test_nobody_but_a_coordinator_sees_the_desk(client, world):
    """Issue 17 item 1: a creator's home has no desk; a parent and a staff non-coordinator see none either."""
    for who in (make_user("cora", Role.CREATOR), make_user("stan", Role.CREATOR, is_staff=True)):
        client.force_login(who)
        response = client.get("/", follow=True)
        assert "Needs a person now" not in response.content.decode()
        assert "Needs a person now" not in client.get("/admin/", follow=True).content.decode()
