"""Issue 18 item 3 (XSS), spot checks across each kind of output: a script payload typed into free
text (a person's name, a course title, a dispute reason, a tutor's notes) is inert on the pages
that show it (escaped), in the HTML email that quotes it (escaped; the plain-text part is text) and
in the CSV export (served as an attachment, never sniffed, no formula)."""

import csv
import io
from datetime import timedelta

import pytest

from notes import services as notes_services
from sessions import lifecycle
from tests.conftest import NOW
from tests.notifications.conftest import emails_to, sweep

pytestmark = pytest.mark.django_db

PAYLOAD = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def hostile(awaiting, student, course, tutor, parent):
    """Every free-text field on the way to the outputs carries the payload."""
    student.name = f"Sam {PAYLOAD}"
    student.save()
    course.title = f"Maths {PAYLOAD}"
    course.save()
    notes_services.add_notes(awaiting, by=tutor, text=f"Fractions. {PAYLOAD}", files=[], now=NOW)
    lifecycle.dispute(awaiting, by=parent, reason=f"The tutor left early. {PAYLOAD}", now=NOW)
    return awaiting


def assert_inert(html: str, *, expect: int = 1) -> bool:
    assert "<script>alert" not in html and "<img src=x onerror" not in html
    assert html.count(ESCAPED) >= expect
    return True


def test_pages_show_the_payload_as_text(client, hostile, parent, tutor, creator, coordinator):
    sweep(NOW)
    pages = {
        parent: [f"/sessions/{hostile.id}/"],
        tutor: [f"/sessions/{hostile.id}/notes/", f"/sessions/{hostile.id}/"],
        creator: ["/dashboard/teaching/sessions", f"/dashboard/teaching/sessions/{hostile.id}/"],
        coordinator: ["/notifications/", f"/admin/tutoring_sessions/session/{hostile.id}/change/"],
    }
    for user, urls in pages.items():
        client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            html = response.content.decode()
            assert ESCAPED in html, url
            assert_inert(html)


def test_the_email_quoting_the_reason_escapes_it(hostile, coordinator):
    sweep(NOW)
    (email,) = emails_to(coordinator)
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert_inert(html)
    assert f"The tutor left early. {PAYLOAD}" in email.body  # the plain-text part is text, shown as such


def test_the_csv_is_an_attachment_of_plain_cells(client, hostile, creator, student):
    student.name = f'=HYPERLINK("http://evil.example","x") {PAYLOAD}'
    student.save()
    client.force_login(creator)
    response = client.get("/dashboard/teaching/sessions/export.csv?tab=past")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    row = next(r for r in rows[1:] if r[0] == str(hostile.id))
    assert row[4] == f"Maths {PAYLOAD}"  # kept as the text it is: a CSV cell is never HTML
    assert row[5] == "'" + student.name  # never a formula
