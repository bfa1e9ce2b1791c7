"""The session pages in a real browser: phone and desktop, with and without JavaScript."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions import lifecycle
from sessions.models import Status
from tests.browser.conftest import check_page, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def soon(make_session):
    """Times relative to the real clock: the live server and the browser run on it."""
    def make(delta, **fields):
        start = (timezone.now() + delta).replace(second=0, microsecond=0)
        return make_session(start=start, **fields)
    return make


def _awaiting(soon):
    start = timezone.now() - timedelta(days=1)
    return soon(timedelta(days=-1), status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                checked_out_at=start + timedelta(hours=1))


def test_the_parent_acknowledges_in_place(page, parent, soon, reasons, policies):
    """L24, L26: htmx swaps the card; the page is not reloaded."""
    awaiting = _awaiting(soon)
    soon(timedelta(days=2))
    signed_in(page, parent)
    expect(page).to_have_url(re.compile(r"/family/$"))
    check_page(page, "family")
    page.evaluate("() => { window.stayed = true }")
    card = page.locator(f"#session-{awaiting.id}")
    expect(card).to_contain_text("Awaiting Your Acknowledgement")
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.locator(f"#session-{awaiting.id}")).to_contain_text("Acknowledged")
    expect(page.locator(f"#session-{awaiting.id}")).to_contain_text("Session acknowledged.")
    assert page.evaluate("() => window.stayed") is True


def test_a_second_tab_sees_the_refusal_inline_and_the_current_state(page, parent, soon):
    """Double submission: the other tab already acknowledged; this one shows why and the new state."""
    awaiting = _awaiting(soon)
    signed_in(page, parent)
    lifecycle.acknowledge(awaiting, by=parent)
    page.locator(f"#session-{awaiting.id}").get_by_role("button", name="Acknowledge").click()
    card = page.locator(f"#session-{awaiting.id}")
    expect(card.get_by_role("alert")).to_have_text(
        "Only a session awaiting your acknowledgement can be acknowledged.")
    expect(card).to_contain_text("Acknowledged")


def test_the_parent_cancels_through_the_panel(page, parent, soon, reasons, policies):
    """L36, L37: reason picker, penalty guidance and waiver reminder, then an explicit confirmation."""
    s = soon(timedelta(hours=30))
    signed_in(page, parent)
    card = page.locator(f"#session-{s.id}")
    card.get_by_role("link", name="Cancel…").click()
    card = page.locator(f"#session-{s.id}")
    expect(card).to_contain_text("50% of the lesson")
    card.get_by_label("Reason for cancelling").select_option(label="Schedule conflict")
    card.get_by_label("I understand the terms above and want to cancel").check()
    check_page(page, "family-cancel-panel")
    card.get_by_role("button", name="Confirm cancellation").click()
    expect(page.locator(f"#session-{s.id}")).to_contain_text("Cancelled by you")


def test_without_javascript_an_action_returns_to_the_page(no_js_page, parent, soon):
    """Everything works without JavaScript: the POST redirects back (303) to the page."""
    awaiting = _awaiting(soon)
    page = signed_in(no_js_page, parent)
    page.locator(f"#session-{awaiting.id}").get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(re.compile(r"/family/"))
    expect(page.get_by_role("status").first).to_contain_text("Session acknowledged.")
    page.reload()  # a plain GET after the 303: nothing is posted again
    expect(page.get_by_role("heading", name="Needs your answer")).to_have_count(0)
    page.get_by_role("link", name="Past").click()
    expect(page.locator(f"#session-{awaiting.id}")).to_contain_text("Acknowledged")


def test_without_javascript_a_refusal_keeps_the_input(no_js_page, parent, soon, reasons):
    s = soon(timedelta(days=2))
    page = signed_in(no_js_page, parent)
    card = page.locator(f"#session-{s.id}")
    card.get_by_text("Request a new time…").click()
    card.get_by_label(re.compile("New start")).fill("2020-01-01T10:00")
    card.get_by_label("Reason for the new time").select_option(label="Schedule conflict")
    card.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("alert")).to_have_text("The proposed time must be in the future.")
    expect(page.get_by_label(re.compile("New start"))).to_have_value("2020-01-01T10:00")


def midday_zone():
    """A fixed-offset zone where it is about noon now, so that a session 45 minutes away is on the
    viewer's "Today" whatever the hour the suite runs at (CI ran once at 23:20 UTC)."""
    offset = 12 - timezone.now().hour  # -11 ... +12; Etc/GMT-N is UTC+N
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def test_the_tutor_page_explains_missing_buttons(page, tutor, soon):
    """L13, L32: a check-in that opens later and the 4-hour lockout are explained on the card."""
    tutor.time_zone = midday_zone()
    tutor.save(update_fields=["time_zone"])
    soon(timedelta(minutes=45))
    signed_in(page, tutor)
    expect(page).to_have_url(re.compile(r"/teach/$"))
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"Check-in opens in 1[45] minutes\."))
    expect(page.get_by_role("main")).to_contain_text("Online changes close 4 hours before the start: message your coordinator.")
    check_page(page, "teach")


def test_the_adhoc_form_keeps_rows_on_errors(page, tutor, student):
    """L30: the bad row is flagged, the good row keeps its input."""
    signed_in(page, tutor)
    page.goto("/teach/adhoc/")
    check_page(page, "teach-adhoc")
    yesterday = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    tomorrow = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    rows = page.locator("fieldset")
    for row, day in ((rows.nth(0), yesterday), (rows.nth(1), tomorrow)):
        row.get_by_label("Student").select_option(label="Sam")
        row.get_by_label("Start").fill(f"{day}T09:00")
        row.get_by_label("End").fill(f"{day}T10:00")
    page.get_by_role("button", name="Log these sessions").click()
    expect(page.locator("#row-2-error")).to_have_text("Log a session after it has ended.")
    expect(page.locator("fieldset").nth(0).get_by_label("Start")).to_have_value(f"{yesterday}T09:00")
    check_page(page, "teach-adhoc-errors")


def test_the_student_sees_a_join_link(page, student, soon):
    """R02: Join from 15 minutes before the start; "Opens at" (not a link) before that."""
    s = soon(timedelta(minutes=10))
    later = soon(timedelta(days=1))
    signed_in(page, student)
    expect(page).to_have_url(re.compile(r"/learn/$"))
    expect(page.get_by_role("link", name="Join Session", exact=True)).to_have_attribute("href", f"/session/{s.id}")
    opens = (later.scheduled_start - timedelta(minutes=15)).astimezone(student.tzinfo)
    expect(page.locator(f"#session-{later.id}")).to_contain_text(f"Opens at {opens:%H:%M}")
    check_page(page, "learn")


def test_the_course_page_of_the_student_and_of_the_tutor(page, student, tutor, course, soon):
    """R03: the course page "Back to Course" leads to, phone-first: the course, its creator, the
    viewer's sessions in it with Join Session once the room is open."""
    s = soon(timedelta(minutes=10))
    for user, path in ((student, f"/learn/courses/{course.id}/"), (tutor, f"/teach/courses/{course.id}/")):
        signed_in(page, user)
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_have_text("Algebra I")
        expect(page.get_by_text("Course by Cleo")).to_be_visible()
        join = page.get_by_role("link", name="Join Session", exact=True)
        expect(join).to_have_attribute("href", f"/session/{s.id}")
        check_page(page, f"{path.split('/')[1]}-course")
        page.context.clear_cookies()


def test_a_notification_link_opens_the_session_card(page, tutor, parent, soon, reasons):
    """The single session page (notifications link here) shows the thread's versions to answer."""
    s = soon(timedelta(days=3))
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=s.scheduled_start + timedelta(days=1),
                                 reason_id=reasons[("tutor", "reschedule")].id)
    signed_in(page, parent)
    page.goto(f"/sessions/{s.id}/")
    card = page.locator(f"#session-{s.id}")
    expect(card).to_contain_text("Proposed by Tia on")
    check_page(page, "session")
    card.get_by_role("button", name="Accept the new time").click()
    expect(page.locator(f"#session-{s.id}")).to_contain_text("New time accepted")
    page.reload()
    expect(page.locator(f"#session-{s.id}")).not_to_contain_text("Proposed by Tia on")
