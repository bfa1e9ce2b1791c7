import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_page, signed_in
from tests.conftest import make_user
from tutoring.models import Role

pytestmark = pytest.mark.browser


def test_it_signs_a_parent_in_to_the_family_pages(page, parent):
    page.goto("/accounts/login/")
    page.wait_for_function("() => window.htmx !== undefined")  # the vendored htmx loads
    check_page(page, "login")
    signed_in(page, parent)
    expect(page).to_have_url(re.compile(r"/family/$"))


def test_it_announces_a_wrong_password_and_keeps_the_username(page, parent):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("pat")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page.get_by_label("Username")).to_have_value("pat")
    check_page(page, "login-error")


def test_the_keyboard_reaches_the_skip_link_first_with_visible_focus(page, db):
    page.goto("/accounts/password_reset/")  # the sign-in page autofocuses the username instead
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    expect(page.locator("#main")).to_be_focused()


@pytest.mark.parametrize(("who", "shot", "link", "href"), [
    ("creator", "home-creator", "View Sessions", "/dashboard/teaching/sessions"),
    ("coordinator", "home-coordinator", "Open the coordinator admin", "/admin/"),
])
def test_creators_and_coordinators_land_on_home_with_their_link(page, request, who, shot, link, href):
    signed_in(page, request.getfixturevalue(who))
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("link", name=link)).to_have_attribute("href", href)
    check_page(page, shot)


def test_a_person_without_a_role_gets_a_friendly_home(page, db):
    signed_in(page, make_user("nora"))
    expect(page.get_by_role("main")).to_contain_text("no role yet")
    check_page(page, "home-no-role")


def test_signing_out_returns_to_sign_in(page, creator):
    signed_in(page, creator)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("status")).to_contain_text("You have signed out.")
    check_page(page, "signed-out")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_signing_in_and_out_works_without_javascript(no_js_page, db):
    page = no_js_page
    signed_in(page, make_user("cleo", Role.CREATOR))
    expect(page.get_by_role("link", name="View Sessions")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
