"""The desk walk in a browser: a coordinator opens a session from the admin, moves it (the new time
typed in their own zone, with a reason) after a clash is refused, and answers another session's
open reschedule request for the parent from the desk's queue; axe checks at desktop width."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from sessions import lifecycle
from sessions.models import Session
from tests.browser.conftest import check_page, signed_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_coordinator_moves_a_session_and_answers_a_request_for_the_parent(page, coordinator, tutor, student,
                                                                           sibling, reasons):
    coordinator.time_zone = "Asia/Tokyo"
    coordinator.save()
    tokyo = coordinator.tzinfo
    day = datetime.now(UTC).astimezone(tokyo).date() + timedelta(days=10)
    start = datetime.combine(day - timedelta(days=7), time(15, 0), tzinfo=tokyo)
    session = Session.objects.create(tutor=tutor, student=student, scheduled_start=start,
                                     scheduled_end=start + timedelta(hours=1))
    busy_start = datetime.combine(day, time(17, 0), tzinfo=tokyo)
    busy = Session.objects.create(tutor=tutor, student=sibling, scheduled_start=busy_start,
                                  scheduled_end=busy_start + timedelta(hours=1))
    signed_in(page, coordinator)
    page.goto(f"/admin/tutoring_sessions/session/{session.pk}/change/")
    page.get_by_role("link", name="Move or answer the request").click()
    expect(page).to_have_url(re.compile(rf"/admin/tutoring_sessions/session/{session.pk}/move/$"))
    expect(page.get_by_test_id("move-page")).to_contain_text("Asia/Tokyo")
    check_page(page, "session-move")
    page.get_by_label("New start").fill(f"{day.isoformat()}T17:30")
    page.get_by_label("Reason for the move").fill("The tutor asked to move it")
    page.get_by_role("button", name="Move the session").click()
    expect(page.get_by_test_id("clashes")).to_contain_text(f"session {busy.pk}")
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    check_page(page, "session-move-clash")
    session.refresh_from_db()
    assert session.scheduled_start == start
    page.get_by_label("New start").fill(f"{day.isoformat()}T15:00")
    page.get_by_role("button", name="Move the session").click()
    expect(page).to_have_url(re.compile(rf"/admin/tutoring_sessions/session/{session.pk}/change/$"))
    expect(page.locator(".messagelist")).to_contain_text(f"Session {session.pk} moved")
    session.refresh_from_db()
    assert session.scheduled_start == datetime.combine(day, time(15, 0), tzinfo=tokyo)

    # the desk's queue of open requests, then the answer for the parent
    lifecycle.propose_reschedule(busy, by=tutor, proposed_start=busy_start + timedelta(days=2),
                                 reason_id=reasons[("tutor", "reschedule")].id)
    page.goto("/admin/")
    page.locator('[data-queue="open_requests"] a').click()
    check_page(page, "open-requests")
    page.get_by_role("link", name="Answer or move").click()
    expect(page.get_by_test_id("open-request")).to_contain_text("The parent must answer")
    page.get_by_label("Accept the new time for them").check()
    page.get_by_label("Reason:", exact=True).fill("The parent agreed by phone")
    check_page(page, "session-answer")
    page.get_by_role("button", name="Answer the request").click()
    expect(page.locator(".messagelist")).to_contain_text("New time accepted for the parent")
    busy.refresh_from_db()
    assert busy.scheduled_start == busy_start + timedelta(days=2)
