"""Issue 10 item 4: a page for a role the viewer does not hold answers a clear "This page is for
tutors" page (403) with a link home, never an empty form or list; one guard (tutoring/guards.py)
on every role page."""

import pytest
from django.urls import resolve

from tutoring.guards import FOR_WHOM
from tutoring.models import Role

ROLE_PAGES = {
    "/family/": Role.PARENT,
    "/teach/": Role.TUTOR,
    "/teach/adhoc/": Role.TUTOR,
    "/learn/": Role.STUDENT,
    "/dashboard/teaching/sessions": Role.CREATOR,
    "/dashboard/teaching/sessions/metrics": Role.CREATOR,
    "/dashboard/teaching/sessions/export.csv": Role.CREATOR,
}
PEOPLE = {Role.PARENT: "parent", Role.TUTOR: "tutor", Role.STUDENT: "student", Role.CREATOR: "creator",
          Role.COORDINATOR: "coordinator"}
CASES = [(url, person) for url, role in ROLE_PAGES.items() for r, person in PEOPLE.items() if r != role]


@pytest.mark.parametrize(("url", "person"), CASES)
def test_a_role_page_tells_other_roles_whose_it_is(client, request, url, person):
    client.force_login(request.getfixturevalue(person))
    response = client.get(url)
    page = response.content.decode()
    assert response.status_code == 403
    assert f"<h1>This page is for {FOR_WHOM[ROLE_PAGES[url]]}</h1>" in page
    assert 'href="/"' in page and "Go to your home page" in page
    assert "<form" not in page.split('<main')[1].split("</main>")[0]  # no empty form to fill


@pytest.mark.parametrize("url", ROLE_PAGES)
def test_the_role_itself_gets_its_page(client, request, url):
    client.force_login(request.getfixturevalue(PEOPLE[ROLE_PAGES[url]]))
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", ROLE_PAGES)
def test_signed_out_visitors_go_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("url", ROLE_PAGES)
def test_every_role_page_uses_the_one_guard(url):
    assert getattr(resolve(url).func, "role", None) == ROLE_PAGES[url]


def test_a_post_to_another_roles_form_changes_nothing(client, parent, tutor, student):
    """demo-parent posting the ad-hoc form gets the same page and no session is made."""
    from sessions.models import Session
    client.force_login(parent)
    response = client.post("/teach/adhoc/", {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "0"})
    assert response.status_code == 403 and Session.objects.count() == 0
