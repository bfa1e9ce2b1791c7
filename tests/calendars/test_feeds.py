"""Private calendar feeds for tutors and parents (issue 17 item 7): parsed back with icalendar."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from calendars.models import CalendarFeed
from sessions import lifecycle
from tests.conftest import NOW, make_user
from tutoring.models import Role


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def events(response) -> dict:
    """{session id: VEVENT} of a feed response."""
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.content)
    return {int(re.match(r"session-(\d+)@", str(e["uid"])).group(1)): e for e in cal.walk("VEVENT")}


def feed_url(user) -> str:
    return f"/calendar/{CalendarFeed.objects.create(user=user).token}.ics"


def test_a_tutors_feed_keeps_local_times_across_a_dst_change(client, tutor, make_session):
    """Issue 17 item 7: times in the tutor's zone with its VTIMEZONE, right on both sides of the change."""
    tutor.time_zone = "America/New_York"  # daylight saving ends on Sunday 2026-11-01
    tutor.save()
    before = make_session(start=datetime(2026, 10, 30, 14, 0, tzinfo=UTC))  # 10:00 EDT (UTC-4)
    after = make_session(start=datetime(2026, 11, 3, 14, 0, tzinfo=UTC))  # 09:00 EST (UTC-5)
    response = client.get(feed_url(tutor))
    cal = Calendar.from_ical(response.content)
    assert [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]
    found = events(response)
    assert set(found) == {before.pk, after.pk}
    for session, local in ((before, datetime(2026, 10, 30, 10, 0)), (after, datetime(2026, 11, 3, 9, 0))):
        start = found[session.pk].decoded("dtstart")
        assert found[session.pk]["dtstart"].params["TZID"] == "America/New_York"
        assert start.replace(tzinfo=None) == local and start == session.scheduled_start
        assert found[session.pk].decoded("dtend") == session.scheduled_end
        assert str(found[session.pk]["status"]) == "CONFIRMED"
        assert str(found[session.pk]["summary"]) == "Lesson with Sam · Algebra I"
    # the same instants read independently in the zone database
    assert before.scheduled_start.astimezone(ZoneInfo("America/New_York")).utcoffset() == timedelta(hours=-4)
    assert after.scheduled_start.astimezone(ZoneInfo("America/New_York")).utcoffset() == timedelta(hours=-5)


def test_a_parents_feed_has_every_child_and_nobody_elses(client, parent, student, sibling, tutor, outsider,
                                                         make_session, settings):
    """Issue 17 item 7: a parent's feed is their children's sessions, in the parent's zone (London)."""
    sams = make_session(start=datetime(2026, 10, 20, 9, 0, tzinfo=UTC))  # 10:00 BST
    sues = make_session(start=datetime(2026, 11, 20, 9, 0, tzinfo=UTC), student=sibling)  # 09:00 GMT
    others = make_session(start=datetime(2026, 11, 21, 9, 0, tzinfo=UTC),
                          student=outsider.guardianships.get().student)
    old = make_session(start=NOW - timedelta(days=90))  # before the feed's window
    settings.SITE_URL = "https://tutoring.example"  # links and UIDs name the site, whatever host was asked
    found = events(client.get(feed_url(parent)))
    assert set(found) == {sams.pk, sues.pk} and others.pk not in found and old.pk not in found
    assert found[sams.pk].decoded("dtstart").replace(tzinfo=None) == datetime(2026, 10, 20, 10, 0)
    assert found[sues.pk].decoded("dtstart").replace(tzinfo=None) == datetime(2026, 11, 20, 9, 0)
    assert found[sues.pk]["dtstart"].params["TZID"] == "Europe/London"
    assert str(found[sues.pk]["summary"]) == "Sue's lesson with Tia · Algebra I"
    assert str(found[sues.pk]["url"]) == f"https://tutoring.example/sessions/{sues.pk}/"
    assert str(found[sues.pk]["uid"]) == f"session-{sues.pk}@tutoring.example"


def test_reschedule_and_cancellation_update_the_event_under_the_same_uid(client, parent, tutor, session,
                                                                         reasons, policies):
    """Issue 17 item 7: a reschedule moves the event and a cancellation marks it CANCELLED; the UID
    stays and SEQUENCE grows with the session's events."""
    url = feed_url(parent)
    first = events(client.get(url))[session.pk]
    assert first["sequence"] == 0
    proposal = lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4),
                                            reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    lifecycle.accept_reschedule(session, proposal.pk, by=parent, now=NOW)
    moved = events(client.get(url))[session.pk]
    # the fixture's session was made without a "created" event: proposal and acceptance are its two
    assert moved["uid"] == first["uid"] and moved["sequence"] == session.events.count() - 1 == 1
    assert moved.decoded("dtstart") == NOW + timedelta(days=4)
    assert moved.decoded("dtstart").replace(tzinfo=None) == datetime(2026, 11, 20, 10, 0)  # London, GMT
    session.refresh_from_db()
    guidance = lifecycle.cancellation_guidance(session, by=parent, now=NOW)
    lifecycle.cancel(session, by=parent, reason_id=reasons[("parent", "cancel")].id,
                     policy_id=guidance["policy_id"], now=NOW)
    gone = events(client.get(url))[session.pk]
    assert gone["uid"] == first["uid"] and gone["sequence"] == 2 and str(gone["status"]) == "CANCELLED"


def test_revoked_regenerated_and_made_up_tokens_get_a_bare_404(client, tutor, session):
    """Issue 17 item 7: revoking or regenerating kills the old URL; an unknown token learns nothing."""
    client.force_login(tutor)
    assert client.post("/calendar/", {"action": "create"}).status_code == 302
    old = CalendarFeed.objects.get(user=tutor).token
    assert len(old) >= 40
    page = client.get("/calendar/").content.decode()
    assert f"/calendar/{old}.ics" in page and "Make a new link" in page
    client.logout()
    assert session.pk in events(client.get(f"/calendar/{old}.ics"))
    client.force_login(tutor)
    client.post("/calendar/", {"action": "regenerate"})
    new = CalendarFeed.objects.get(user=tutor).token
    assert new != old
    client.logout()
    missing = client.get(f"/calendar/{old}.ics")
    assert missing.status_code == 404 and b"BEGIN:VCALENDAR" not in missing.content
    assert client.get(f"/calendar/{new}.ics").status_code == 200
    client.force_login(tutor)
    client.post("/calendar/", {"action": "revoke"})
    assert not CalendarFeed.objects.filter(user=tutor).exists()
    client.logout()
    for token in (new, "x" * 43, "", "x" * 200, old[:-1], "%00", "a%00b", "%ED%A0%80", "%C2%B2", "a.b"):
        assert client.get(f"/calendar/{token}.ics").status_code == 404, token  # a NUL was a 500


def test_an_outsiders_token_shows_only_the_outsiders_sessions(client, outsider, session):
    """Issue 17 item 7: a feed never carries other people's sessions."""
    found = events(client.get(feed_url(outsider)))
    assert session.pk not in found and found == {}


def test_a_deactivated_or_roleless_account_has_no_feed(client, tutor, session):
    """Issue 17 item 7: the feed stops with the account; a student or creator cannot make one."""
    url = feed_url(tutor)
    tutor.is_active = False
    tutor.save()
    assert client.get(url).status_code == 404
    creator = make_user("cora", Role.CREATOR)
    client.force_login(creator)
    assert "Calendar feeds are for tutors and parents" in client.get("/calendar/").content.decode()
    client.post("/calendar/", {"action": "create"})
    assert not CalendarFeed.objects.filter(user=creator).exists()


def test_the_settings_page_is_linked_from_notification_settings_and_needs_sign_in(client, parent):
    assert client.get("/calendar/").status_code == 302
    client.force_login(parent)
    assert 'href="/calendar/"' in client.get("/notifications/preferences/").content.decode()
    assert client.post("/calendar/", {"action": "nonsense"}).status_code == 302
    assert not CalendarFeed.objects.exists()


def test_the_feed_takes_a_fixed_number_of_queries(client, tutor, make_session, django_assert_max_num_queries):
    """Issue 17 item 7: the feed token and the sessions, however many sessions there are."""
    url = feed_url(tutor)
    for n in (1, 30):
        for i in range(n):
            make_session(start=NOW + timedelta(days=10 + len(events(client.get(url))) + i))
        with django_assert_max_num_queries(2):
            response = client.get(url)
        assert response.status_code == 200
    assert len(events(response)) == 31
