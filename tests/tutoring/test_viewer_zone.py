"""Issue 10 item 1: every time a page, partial, calendar, CSV, API field or email shows is the
viewer's (the recipient's) wall clock, one middleware activating the signed-in user's zone
(tutoring/middleware.py). Viewers sit far from the server's UTC, on both sides of a DST change,
and every time shown is compared with the session's start converted independently here."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from messaging import services as messaging
from notifications import dispatch, outbox
from sessions import lifecycle
from sessions.models import Status
from tests.conftest import NOW

ZONES = ["Pacific/Auckland", "America/Los_Angeles"]
# Auckland goes to NZDT on 27 Sep 2026 and back on 4 Apr 2027; Los Angeles to PST on 1 Nov 2026,
# back to PDT on 14 Mar 2027: each pair below straddles a change in one zone or both.
PAST = [datetime(2026, 9, 20, 6, 30, tzinfo=UTC), datetime(2026, 10, 20, 6, 30, tzinfo=UTC),
        datetime(2026, 11, 10, 6, 30, tzinfo=UTC)]
FUTURE = [datetime(2027, 3, 10, 20, 0, tzinfo=UTC), datetime(2027, 3, 17, 20, 0, tzinfo=UTC),
          datetime(2027, 4, 1, 20, 0, tzinfo=UTC), datetime(2027, 4, 8, 20, 0, tzinfo=UTC)]
TIME_TAG = re.compile(r'<time[^>]*datetime="([^"]+)"[^>]*>([^<]+)</time>')
URL = "/dashboard/teaching/sessions"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture(params=ZONES)
def zone(request):
    return request.param


def local(moment: datetime, zone: str) -> datetime:
    return moment.astimezone(ZoneInfo(zone))


def shown_times(html: str) -> list[tuple[datetime, str]]:
    return [(datetime.fromisoformat(iso), text) for iso, text in TIME_TAG.findall(html)]


def assert_times_local(html: str, zone: str, starts: list[datetime]) -> None:
    """Every <time> shows its instant's wall clock in `zone`, and each start is among them."""
    shown = shown_times(html)
    assert shown, "no time shown"
    for instant, text in shown:
        assert f"{local(instant, zone):%H:%M}" in text, (instant, text, zone)
    instants = {instant for instant, _ in shown}
    for start in starts:
        assert start in instants, (start, zone)


@pytest.fixture
def history(make_session, creator, zone):
    creator.time_zone = zone
    creator.save(update_fields=["time_zone"])
    past = [make_session(start=s, status=Status.APPROVED, checked_in_at=s + timedelta(minutes=3),
                         checked_out_at=s + timedelta(minutes=58)) for s in PAST]
    future = [make_session(start=s) for s in FUTURE]
    return past, future


def test_creator_list_detail_calendar_and_csv_are_in_the_creators_zone(client, creator, history, zone):
    """H15 H18: the list, the htmx results, the detail panel (When, In/Out), the calendar's month
    and week views and the CSV show the creator's wall clock on either side of a DST change."""
    past, future = history
    client.force_login(creator)
    assert_times_local(client.get(URL, {"status": "all"}).content.decode(), zone, PAST)
    assert_times_local(client.get(URL, {"status": "all"}, HTTP_HX_REQUEST="true").content.decode(), zone, PAST)
    for s in past:
        page = client.get(f"{URL}/{s.id}/").content.decode()
        start = local(s.scheduled_start, zone)
        assert f"{start:%A %d %B %Y, %H:%M} ({zone})" in page
        assert (f"In {local(s.checked_in_at, zone):%H:%M}, out {local(s.checked_out_at, zone):%H:%M}") in page
    for view in ("month", "week"):
        for s in future:
            day = local(s.scheduled_start, zone).date()
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                page = client.get(URL, {"tab": "upcoming", "view": view, "date": day.isoformat()}, **headers)
                calendar = page.content.decode().split('id="calendar"')[1]
                assert_times_local(calendar, zone, [s.scheduled_start])
                # the session sits under its local day
                cell = calendar.split(f"{day:%-d %b}</h3>")[1].split("</h3>")[0]
                assert f">{local(s.scheduled_start, zone):%H:%M}</time>" in cell
    body = b"".join(client.get(f"{URL}/export.csv", {"status": "all"}).streaming_content).decode()
    rows = {int(r[0]): r for r in list(csv.reader(io.StringIO(body)))[1:]}
    for s in past:
        start = local(s.scheduled_start, zone)
        assert rows[s.id][1:4] == [f"{start:%Y-%m-%d}", f"{start:%H:%M}", zone]


def test_session_page_card_and_api_are_in_the_viewers_zone(client, parent, tutor, make_session, reasons, zone):
    """The parent's session page and its htmx card (with a reschedule proposal across a DST
    change), and the API's date-times, name the same instants in the parent's zone."""
    parent.time_zone = zone
    parent.save(update_fields=["time_zone"])
    s = make_session(start=datetime(2027, 3, 10, 20, 0, tzinfo=UTC))
    proposed = datetime(2027, 4, 8, 20, 0, tzinfo=UTC)
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=proposed, reason_id=reasons[("tutor", "reschedule")].id,
                                 now=NOW)
    client.force_login(parent)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        page = client.get(f"/sessions/{s.id}/", **headers).content.decode()
        assert_times_local(page, zone, [s.scheduled_start])
        start, new = local(s.scheduled_start, zone), local(proposed, zone)
        assert f"{start:%H:%M}" in page and f"until {local(s.scheduled_end, zone):%H:%M}" in page
        assert f"{new:%a %d %b %H:%M}" in page  # the proposal's time, across the DST change
    data = client.get(f"/api/sessions/{s.id}").json()
    assert datetime.fromisoformat(data["scheduled_start"]) == s.scheduled_start


def test_a_message_thread_and_the_inbox_are_in_the_viewers_zone(client, parent, tutor, zone, time_machine):
    parent.time_zone = zone
    parent.save(update_fields=["time_zone"])
    conversation, _ = messaging.conversation_between(tutor, parent)
    sent = [datetime(2026, 10, 25, 23, 0, tzinfo=UTC), datetime(2026, 11, 2, 23, 0, tzinfo=UTC)]
    for at in sent:
        messaging.send(conversation, tutor, "Hello there", now=at)
    client.force_login(parent)
    assert_times_local(client.get(messaging.thread_url(conversation)).content.decode(), zone, sent)
    assert_times_local(client.get("/messages/").content.decode(), zone, [sent[-1]])


def test_no_zone_leaks_between_requests(client, parent, creator):
    """The zone is the viewer's for their request only: a UTC request after an Auckland one is UTC."""
    parent.time_zone = "Pacific/Auckland"
    parent.save(update_fields=["time_zone"])
    client.force_login(parent)
    client.get("/family/")
    assert timezone.get_current_timezone_name() == "UTC"
    client.logout()
    client.get("/accounts/login/")
    assert timezone.get_current_timezone_name() == "UTC"


def test_emails_are_written_in_the_recipients_zone(parent, tutor, make_session, reasons, zone):
    """A reschedule proposal's email to a parent in a far zone names the times in that zone."""
    parent.time_zone = zone
    parent.save(update_fields=["time_zone"])
    s = make_session(start=datetime(2027, 3, 10, 20, 0, tzinfo=UTC))
    proposed = datetime(2027, 4, 8, 20, 0, tzinfo=UTC)
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=proposed,
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    outbox.relay(now=NOW)
    dispatch.dispatch(now=NOW)
    to_parent = [m for m in mail.outbox if m.to == [parent.email]]
    assert to_parent
    text = to_parent[0].body + to_parent[0].alternatives[0][0]
    assert f"{local(proposed, zone):%a %d %b %H:%M} ({zone})" in text
    assert f"{proposed:%a %d %b %H:%M} (UTC)" not in text


def test_the_admins_titles_and_history_name_sessions_in_the_coordinators_zone(client, coordinator, make_session,
                                                                             tutor, reasons, zone):
    """Issue 10 item 1 (found by the coordinator's demo walk in Asia/Tokyo): the admin's title,
    breadcrumb and object names (Session.__str__, a proposal's) show the coordinator's wall clock,
    named, not UTC."""
    coordinator.time_zone = zone
    coordinator.save(update_fields=["time_zone"])
    start = FUTURE[0]
    s = make_session(start=start)
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=FUTURE[1], reason_id=reasons[("tutor", "reschedule")].id)
    client.force_login(coordinator)
    page = client.get(f"/admin/tutoring_sessions/session/{s.pk}/change/").content.decode()
    assert f"Session {s.pk} (Scheduled) {local(start, zone):%Y-%m-%d %H:%M} ({zone})" in page
    assert f"{start:%Y-%m-%d %H:%M}" not in page.replace(f"{local(start, zone):%Y-%m-%d %H:%M}", "")
    thread = s.reschedule_threads.get()
    page = client.get(f"/admin/tutoring_sessions/reschedulethread/{thread.pk}/change/").content.decode()
    assert f"v1 {local(FUTURE[1], zone):%Y-%m-%d %H:%M} ({zone}) (Open)" in page


# --- the role pages, the room, notifications, the desk's statement and the iCal feed ------------


@pytest.fixture
def far(make_session):
    """Approved sessions before NOW and scheduled ones in 2027, across the DST changes of both zones."""
    past = [make_session(start=s, status=Status.APPROVED, checked_in_at=s, checked_out_at=s + timedelta(hours=1))
            for s in PAST]
    return past, [make_session(start=s) for s in FUTURE]


def in_zone(user, zone):
    user.time_zone = zone
    user.save(update_fields=["time_zone"])
    return user


def test_the_family_teach_and_learn_pages_are_in_the_viewers_zone(client, parent, tutor, student, far, zone):
    """Issue 10 item 1: each role's session cards (/family/, /teach/, /learn/, and their htmx
    answers) show every session's start in the viewer's own zone, across DST changes."""
    pages = [(parent, "/family/", {"future": FUTURE, "past": PAST}),
             (tutor, "/teach/", {"upcoming": FUTURE, "past": PAST}),
             (student, "/learn/", {None: FUTURE + PAST})]
    for user, url, tabs in pages:
        client.force_login(in_zone(user, zone))
        for tab, starts in tabs.items():
            query = {"tab": tab} if tab else {}
            for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
                answer = client.get(url, query, **headers)
                assert answer.status_code == 200, (url, tab)
                assert_times_local(answer.content.decode(), zone, starts)


def test_the_room_page_is_in_the_viewers_zone(client, tutor, student, far, zone):
    """The session room (/session/{id}) names the start in its viewer's zone before the lesson, and
    says which (after the lesson the room shows the feedback, no time)."""
    past, future = far
    for user in (tutor, student):
        client.force_login(in_zone(user, zone))
        for s in future:
            page = client.get(f"/session/{s.id}").content.decode()
            assert_times_local(page, zone, [s.scheduled_start])
            assert f"({zone})" in page


def test_the_notifications_list_is_in_the_recipients_zone(client, parent, tutor, make_session, reasons, zone):
    """A reschedule proposal's notice, in the parent's list: the times in the parent's zone,
    never the server's UTC."""
    in_zone(parent, zone)
    s = make_session(start=FUTURE[0])
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=FUTURE[3], reason_id=reasons[("tutor", "reschedule")].id,
                                 now=NOW)
    outbox.relay(now=NOW)
    dispatch.dispatch(now=NOW)
    client.force_login(parent)
    page = client.get("/notifications/").content.decode()
    assert_times_local(page, zone, [])
    for moment in (FUTURE[0], FUTURE[3]):
        assert f"{local(moment, zone):%H:%M}" in page
    assert f"{FUTURE[3]:%H:%M}" not in page  # 20:00 UTC is neither zone's wall clock


def test_the_desks_student_statement_is_in_the_coordinators_zone(client, coordinator, student, far, zone):
    """The billing statement's session dates (ledger and add-ons) in the coordinator's zone."""
    from datetime import date

    from sessions.models import PackageDeduction
    from tutoring.models import LessonPackage

    past, future = far
    package = LessonPackage.objects.create(student=student, credits=10, expires_on=date(2027, 6, 30))
    for s in past:
        PackageDeduction.objects.create(package=package, session=s, created_at=s.scheduled_start)
    for s in future:
        s.billed_as_addon = True
        s.save(update_fields=["billed_as_addon"])
    client.force_login(in_zone(coordinator, zone))
    page = client.get(f"/admin/desk/billing/student/{student.pk}/").content.decode()
    assert_times_local(page, zone, PAST + FUTURE)
    assert zone in page


def test_the_ical_feed_is_in_the_owners_zone(client, tutor, far, zone):
    """The calendar feed (calendars/) gives each event's start as the owner's wall clock with its
    TZID, which names the same instant as the session's start."""
    from icalendar import Calendar

    from calendars.models import CalendarFeed

    past, future = far
    feed = CalendarFeed.objects.create(user=in_zone(tutor, zone))
    body = client.get(f"/calendar/{feed.token}.ics").content.decode()
    events = {e["uid"].split("@")[0]: e for e in Calendar.from_ical(body).walk("VEVENT")}
    for s in past + future:
        start = local(s.scheduled_start, zone)
        assert f"DTSTART;TZID={zone}:{start:%Y%m%dT%H%M%S}" in body, (s.id, zone)
        assert events[f"session-{s.id}"].decoded("dtstart") == s.scheduled_start
