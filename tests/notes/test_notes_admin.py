"""Coordinators read notes, attachments and summaries in the admin, and can ask for a summary again."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from notes import services
from notes.models import Summary, SummaryStatus
from tests.conftest import NOW
from tests.notes.files import sample


@pytest.fixture
def noted(awaiting, tutor):
    _, data, _ = sample(".pdf")
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", files=[SimpleUploadedFile("plan.pdf", data)],
                       now=NOW)
    services.summarize(awaiting.id, 1)
    return awaiting


@pytest.mark.django_db
def test_the_session_page_in_the_admin_shows_notes_files_and_summary(client, noted, coordinator):
    """L23: the summary is visible to coordinators."""
    client.force_login(coordinator)
    page = client.get(f"/admin/tutoring_sessions/session/{noted.id}/change/").content.decode()
    assert "Sam was engaged." in page and "plan.pdf" in page
    assert "/notes/attachments/" in page
    assert "automatic extract of the notes, not AI" in page


@pytest.mark.django_db
def test_make_the_summary_again(client, noted, coordinator, django_capture_on_commit_callbacks):
    Summary.objects.filter(pk=noted.id).update(status=SummaryStatus.FAILED)
    client.force_login(coordinator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/notes/summary/", {"action": "summarize_again", "_selected_action": [noted.id]})
    assert response.status_code == 302
    summary = Summary.objects.get(pk=noted.id)
    # a new version, summarized again
    assert (summary.status, summary.version, summary.summarized_version, summary.attempts) == (
        SummaryStatus.READY, 2, 2, 1)


@pytest.mark.django_db
def test_outsiders_cannot_reach_the_summary_admin(client, noted, tutor, parent):
    for user in (tutor, parent):
        client.force_login(user)
        assert client.get("/admin/notes/summary/").status_code == 302  # to the admin's sign-in
        client.post("/admin/notes/summary/", {"action": "summarize_again", "_selected_action": [noted.id]})
    assert Summary.objects.get(pk=noted.id).status == SummaryStatus.READY
