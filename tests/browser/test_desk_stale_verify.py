"""A coordinator's verify from the session's admin page in a browser: the page and the action's form
carry the status they showed, so a dispute the parent sent meanwhile (on their own browser) makes
the verify refused in words, and nothing changes."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions.models import SessionEvent, Status
from tests.browser.conftest import signed_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_verify_over_a_dispute_sent_meanwhile_is_refused(page, new_context, live_server, coordinator, parent,
                                                             make_session, package):
    """L07, L28: opened while awaiting the parent, disputed before the reason was confirmed: refused."""
    start = timezone.now() - timedelta(days=1)
    s = make_session(start=start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                     checked_out_at=start + timedelta(hours=1))
    signed_in(page, coordinator)
    page.goto(f"/admin/tutoring_sessions/session/{s.pk}/change/")
    page.locator("select[name='CHANGE_FORM-action']").select_option("verify_sessions")
    page.get_by_role("button", name="Run").click()
    page.get_by_label("Reason for the override").fill("The parent confirmed by phone.")

    family = new_context(base_url=live_server.url)
    family.set_default_timeout(10_000)
    card = signed_in(family.new_page(), parent).locator(f"#session-{s.pk}")
    card.get_by_text("Dispute…").click()
    card.get_by_label("What went wrong?").fill("The tutor left after twenty minutes.")
    card.get_by_role("button", name="Send dispute").click()
    expect(card.get_by_role("status")).to_have_text("Dispute sent: a coordinator will review it.")

    page.get_by_role("button", name="Verify (approval override)").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "The parent disputed this session after you opened it: review the dispute first. Nothing was changed.")
    s.refresh_from_db()
    assert s.status == Status.DISPUTED
    assert list(SessionEvent.objects.filter(session=s).values_list("kind", flat=True)) == ["dispute"]
