"""Issue 17 item 2 in a browser: a coordinator accepts a match with a weekly pattern in the admin,
sees the dates and the conflict before anything is written, confirms, and lands on the pattern's
page; each page checked with axe at desktop width."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from desk.models import WeeklyPattern
from sessions.models import Session
from tests.browser.conftest import check_page, signed_in
from tests.conftest import make_user
from tutoring.models import Match, MatchState, Role

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_coordinator_accepts_a_match_with_a_weekly_pattern(page, coordinator, student, sibling):
    tutor = make_user("pavel", Role.TUTOR, tz="Europe/Prague")
    match = Match.objects.create(tutor=tutor, student=student, state=MatchState.PROPOSED, accepted_at=None,
                                 active=False)
    # the first Monday at least a week ahead, 16:00 in Prague: the tutor is busy then
    first = (datetime.now(UTC) + timedelta(days=7)).date()
    first += timedelta(days=(7 - first.weekday()) % 7)
    prague = tutor.tzinfo
    busy_start = datetime.combine(first, time(16, 0), tzinfo=prague)
    busy = Session.objects.create(tutor=tutor, student=sibling, scheduled_start=busy_start,
                                  scheduled_end=busy_start + timedelta(hours=1))
    signed_in(page, coordinator)
    page.goto("/admin/tutoring/match/")
    page.get_by_role("link", name="Accept and schedule").click()
    expect(page).to_have_url(re.compile(rf"/admin/tutoring/match/{match.pk}/accept/$"))
    page.get_by_label("Monday").check()
    page.get_by_label("Start time").fill("16:00")
    page.get_by_label("Length (minutes)").fill("60")
    page.get_by_label("First day").fill(first.isoformat())
    page.get_by_label("Weeks").fill("3")
    check_page(page, "pattern-form")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("1 date clashes with other sessions")
    expect(page.locator("#conflicts")).to_contain_text(f"Session {busy.pk}")
    expect(page.locator("#dates tbody tr")).to_have_count(3)
    assert not WeeklyPattern.objects.exists()
    check_page(page, "pattern-preview")
    page.get_by_role("button", name="Confirm: schedule the 2 free dates").click()
    expect(page.locator("#pattern-sessions tbody tr")).to_have_count(2)
    expect(page.locator(".messagelist")).to_contain_text("Match accepted: 2 sessions scheduled; 1 date left out")
    check_page(page, "pattern-page")
    assert WeeklyPattern.objects.get().match == match
