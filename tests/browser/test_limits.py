"""Issue 18 item 4 in Chromium: over the upload limit, the notes form posted with htmx shows the
429's sentence on top of the page (base.html's htmx-config swaps a 429) and keeps what was typed."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import VIEWPORTS, signed_in

pytestmark = pytest.mark.browser


def test_the_upload_limit_is_said_on_the_page_and_the_typed_notes_stay(new_context, live_server, settings, tutor,
                                                                         awaiting):
    settings.UPLOADS_PER_MINUTE = 1
    page = new_context(base_url=live_server.url, **VIEWPORTS["desktop"]).new_page()
    page.set_default_timeout(10_000)
    # the real clock, at the start of a minute: both posts fall in one window
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=2)
    with time_machine.travel(start, tick=True):
        signed_in(page, tutor)
        page.goto(f"/sessions/{awaiting.id}/notes/")
        page.get_by_label(re.compile("What did you cover")).fill("Fractions, first part.")
        page.get_by_role("button", name="Save notes").click()
        expect(page.get_by_role("status").filter(has_text="Notes saved.")).to_be_visible()

        page.get_by_label(re.compile("What did you cover")).fill("Fractions, second part.")
        page.get_by_role("button", name="Save notes").click()
        expect(page.get_by_role("alert").filter(has_text="Too many uploads: try again in 1 minute.")).to_be_visible()
        expect(page.get_by_label(re.compile("What did you cover"))).to_have_value("Fractions, second part.")
    assert awaiting.notes.count() == 1
