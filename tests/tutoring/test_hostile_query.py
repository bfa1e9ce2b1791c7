"""Issue 18 item 3 (hostile input on the pages): a page's query string with a NUL or another
control character is a 400 that says which parameter, before any view or admin list filter reads
it (tutoring.middleware.UnreadableQueryMiddleware). Found by probing the demo with every role:
the admin's list filters (?status__exact=%00 on summaries, reschedule threads, disputes) and the
outbox's ?to= handed the NUL to PostgreSQL, which refuses it: a 500. Nothing changes either way."""

import pytest

from notes.models import Summary
from sessions.models import SessionEvent
from tests.conftest import make_user
from tutoring.models import Role

PAGES = {
    "coordinator": ["/admin/notes/summary/?status__exact=%00", "/admin/tutoring_sessions/reschedulethread/?status__exact=a%00b",
                    "/admin/desk/dispute/?status=%00", "/admin/tutoring_sessions/session/?q=%00",
                    "/admin/tutoring_sessions/session/?status=%01", "/admin/tutoring_sessions/sessionevent/?%00=1"],
    "parent": ["/family/?tab=%00", "/family/?child=%1f", "/notifications/?before=%00", "/messages/?next=%00"],
    "tutor": ["/teach/?page=%00", "/teach/adhoc/?rows=%00"],
    "creator": ["/dashboard/teaching/sessions?cursor=%00", "/dashboard/teaching/sessions?student=a%00",
                "/dashboard/teaching/sessions?tab=upcoming&date=%00", "/dashboard/teaching/sessions/export.csv?from=%00",
                "/dashboard/teaching/sessions/metrics?st=%7f"],
    None: ["/accounts/login/?next=%00", "/dev/outbox/?to=%00"],
}


@pytest.fixture
def people(db, parent, tutor, creator, coordinator):
    return {"parent": parent, "tutor": tutor, "creator": creator,
            "coordinator": make_user("coco-staff", Role.COORDINATOR, is_staff=True), None: None}


@pytest.mark.parametrize(("who", "url"), [(who, url) for who, urls in PAGES.items() for url in urls])
def test_a_control_character_in_a_query_is_a_400_that_says_so(client, people, who, url):
    if people[who] is not None:
        client.force_login(people[who])
    events, summaries = SessionEvent.objects.count(), Summary.objects.count()
    response = client.get(url)
    assert response.status_code == 400, url
    page = response.content.decode()
    assert "This address cannot be read" in page and "a control or broken character" in page
    assert 'role="alert"' in page
    assert (SessionEvent.objects.count(), Summary.objects.count()) == (events, summaries)


def test_the_message_names_the_parameter_and_the_character(client, parent):
    client.force_login(parent)
    page = client.get("/family/?tab=past&child=1%002").content.decode()
    assert "cannot be read in “child” (U+0000, a control or broken character)" in page


def test_newlines_tabs_and_ordinary_text_pass(client, parent):
    """What clean_text keeps (newline, tab, any language) is not refused here."""
    client.force_login(parent)
    for query in ("?tab=past%0A", "?tab=%09upcoming", "?child=%E4%BD%A0%E5%A5%BD", "?tab=p%C3%A4st"):
        assert client.get(f"/family/{query}").status_code == 200, query


def test_the_api_answers_for_its_own_parameters(client, parent):
    """The API's parameters are its schemas' (a 422 naming the field, or ignored when not one of them)."""
    client.force_login(parent)
    response = client.get("/api/sessions?cursor=%00")
    assert response.status_code == 422 and response["Content-Type"].startswith("application/json")
