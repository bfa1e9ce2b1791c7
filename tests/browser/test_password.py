import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import check_page, signed_in

pytestmark = pytest.mark.browser

NEW = "a-Long-new-passw0rd"


def test_a_forgotten_password_is_reset_through_the_emailed_link(page, creator):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    check_page(page, "password-reset")
    page.get_by_label("Email").fill("cleo@example.test")
    page.get_by_role("button", name="Send the reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    check_page(page, "password-reset-done")

    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    check_page(page, "password-reset-confirm")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password confirmation").fill(NEW)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("heading", name="Password saved")).to_be_visible()
    check_page(page, "password-reset-complete")

    page.get_by_role("link", name="Sign in").click()
    signed_in(page, creator, password=NEW)
    expect(page.get_by_role("link", name="View Sessions")).to_be_visible()


def test_a_signed_in_person_changes_their_password(page, creator):
    signed_in(page, creator)
    page.get_by_role("link", name="Password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    check_page(page, "password-change")

    page.get_by_label("Old password").fill("wrong")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password confirmation").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("Your old password was entered incorrectly")
    expect(page.get_by_label("Old password")).to_have_attribute("aria-invalid", "true")
    check_page(page, "password-change-error")

    page.get_by_label("Old password").fill("pw")
    page.get_by_label("New password", exact=True).fill(NEW)
    page.get_by_label("New password confirmation").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    check_page(page, "password-change-done")
    creator.refresh_from_db()
    assert creator.check_password(NEW)
