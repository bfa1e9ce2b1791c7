"""Issue 17 items 1, 6 and 7 in a browser: the coordinator's desk on the home page and the admin index,
the legacy import page, and the calendar feed settings page; each checked with axe."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from calendars.models import CalendarFeed
from sessions.models import Status
from tests.browser.conftest import check_page, signed_in

pytestmark = pytest.mark.browser


def test_the_desk_links_from_home_to_the_filtered_admin_list(page, coordinator, make_session):
    """Issue 17 item 1: the coordinator follows a desk line to exactly the disputed session."""
    start = make_session().scheduled_start - timedelta(days=10)
    disputed = make_session(start=start, status=Status.DISPUTED, checked_in_at=start,
                            checked_out_at=start + timedelta(hours=1))
    signed_in(page, coordinator)
    desk = page.get_by_test_id("desk")
    expect(desk).to_contain_text("1 Disputes waiting")
    check_page(page, "desk-home")
    desk.get_by_role("link", name=re.compile("Disputes waiting")).click()
    expect(page).to_have_url(re.compile(r"/admin/desk/dispute/$"))
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(page.locator("#result_list")).to_contain_text(str(disputed.pk))


@pytest.mark.parametrize("viewport", ["desktop"])
def test_the_admin_index_and_the_import_page_at_desktop_width(page, coordinator):
    """Issue 17 items 1 and 6: the admin index carries the desk; the import page asks for a CSV."""
    signed_in(page, coordinator)
    page.goto("/admin/")
    expect(page.get_by_test_id("desk")).to_contain_text("Needs a person now")
    check_page(page, "desk-admin-index")
    page.goto("/admin/desk/importedsession/import/")
    expect(page.get_by_label("File to import")).to_be_visible()
    check_page(page, "legacy-import")


def test_a_parent_makes_and_replaces_a_calendar_link(page, parent, student):
    """Issue 17 item 7: the settings page, reached from notification settings."""
    signed_in(page, parent)
    page.goto("/notifications/preferences/")
    page.get_by_role("link", name=re.compile("Calendar feed")).click()
    page.get_by_role("button", name="Make my calendar link").click()
    url = page.get_by_test_id("calendar-url")
    expect(url).to_have_value(re.compile(r"/calendar/[\w-]{40,}\.ics$"))
    first = url.input_value()
    check_page(page, "calendar-settings")
    page.get_by_role("button", name="Make a new link").click()
    expect(page.get_by_test_id("calendar-url")).not_to_have_value(first)
    token = CalendarFeed.objects.get(user=parent).token
    assert page.get_by_test_id("calendar-url").input_value().endswith(f"/calendar/{token}.ics")
    assert not first.endswith(f"/calendar/{token}.ics")
