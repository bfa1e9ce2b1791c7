"""Issue 17 at 375 px: the coordinator's admin pages with long content (the legacy import's dry run
with its errors, the cancel-on-behalf page) fit a phone without horizontal scrolling."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE_WIDTH, signed_in

pytestmark = pytest.mark.browser

HEADER = "external_id,tutor,student,start,end,course,status,source\n"


def fits(page):
    page.wait_for_load_state("load")  # the page's stylesheets applied (the heading may show before the last one)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width} px wide at {PHONE_WIDTH} px"


@pytest.mark.parametrize("viewport", ["phone"])
def test_the_legacy_import_errors_fit_a_phone(page, coordinator, tutor, student, tmp_path):
    """Issue 17 item 6 at 375 px: the dry run's row errors and their long values stay within the page."""
    csv = tmp_path / "legacy.csv"
    csv.write_text(HEADER + (
        "ok-1,tia,sam,2025-03-04T16:00:00+01:00,2025-03-04T17:00:00+01:00,,,\n"
        "bad-tutor-with-a-rather-long-external-identifier,nobody,sam,2025-03-05T16:00:00+01:00,"
        "2025-03-05T17:00:00+01:00,,,\n"
        "bad-date,tia,sam,next tuesday after the holidays,2025-03-07T17:00:00+01:00,,,\n"
        "bad-status,tia,sam,2025-03-08T16:00:00+01:00,2025-03-08T17:00:00+01:00,,scheduled,\n"))
    signed_in(page, coordinator)
    page.goto("/admin/desk/importedsession/import/")
    page.get_by_label("File to import").set_input_files(str(csv))
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Errors").first).to_be_visible()
    fits(page)


@pytest.mark.parametrize("viewport", ["phone"])
def test_the_cancel_on_behalf_page_fits_a_phone(page, coordinator, make_session, reasons):
    """Issue 17 at 375 px: the cancel-on-behalf page (the session admin's action) has no sideways scroll."""
    session = make_session()
    signed_in(page, coordinator)
    page.goto("/admin/tutoring_sessions/session/")
    page.locator(f"input.action-select[value='{session.pk}']").check()
    page.locator("select[name='action']").select_option("cancel_on_behalf")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("heading", name="Cancel on behalf of parent/tutor")).to_be_visible()
    fits(page)
