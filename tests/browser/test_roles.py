import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import check_page, signed_in
from tests.conftest import make_user
from tutoring.models import Role

pytestmark = pytest.mark.browser


def test_a_parent_who_tutors_switches_to_tutoring(page, db):
    signed_in(page, make_user("pia", Role.PARENT, Role.TUTOR))
    expect(page).to_have_url(re.compile(r"/family/$"))
    # the nav is on every page; the password page is one this change owns, so it stands in for /family/
    page.goto("/accounts/password_change/")
    role = page.get_by_label("Acting as")
    expect(role).to_have_value("parent")
    check_page(page, "role-switch")

    role.select_option("tutor")
    page.get_by_role("button", name="Switch").click()
    expect(page).to_have_url(re.compile(r"/teach/$"))
    page.goto("/accounts/password_change/")
    expect(page.get_by_label("Acting as")).to_have_value("tutor")


@pytest.mark.parametrize("viewport", ["phone"])
def test_a_creator_who_coordinates_switches_between_the_two_homes(page, db):
    signed_in(page, make_user("cora", Role.CREATOR, Role.COORDINATOR, is_staff=True))
    expect(page.get_by_role("link", name="View Sessions")).to_be_visible()
    page.get_by_label("Acting as").select_option("coordinator")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("link", name="Open the coordinator admin")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You are now acting as coordinator.")
    check_page(page, "home-switched")


def test_an_address_with_a_control_character_says_so_in_the_viewers_page(page, parent):
    """A NUL in a page's query (here a forged ?child=) is a 400 page in the site's frame that names
    the parameter, with the way home; before, the admin's filters and the outbox made it a 500."""
    signed_in(page, parent)
    response = page.goto("/family/?tab=past&child=1%002")
    assert response.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("This address cannot be read")
    expect(page.get_by_role("alert")).to_contain_text("cannot be read in “child” (U+0000")
    check_page(page, "bad-query")
    page.get_by_role("link", name="Go to your home page").click()
    expect(page).to_have_url(re.compile(r"/family/$"))
