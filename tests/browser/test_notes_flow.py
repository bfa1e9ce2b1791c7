"""The notes flow end to end in a real browser: the tutor checks out, writes notes, attaches a
photo, a PDF and a voice memo, watches the upload progress; the parent then reads the AI summary
and the transcript and opens each attachment.

Real components throughout: the files go to SeaweedFS (S3, signatures and presigned-URL expiry
enforced) and the summary and transcript come from the real openai client talking to the fake
OpenAI server. The summary task runs eagerly after commit, in the live server's request thread.

The presigned URLs are checked by SeaweedFS against the real clock, so this flow runs at the
real time (the session is placed relative to it) instead of the frozen NOW of the other flows."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notes.models import Attachment, Summary
from sessions.models import Status
from tests.browser.conftest import VIEWPORTS, check_page, signed_in
from tests.fakes.openai_server import DEFAULT_SUMMARY, DEFAULT_TRANSCRIPT
from tests.notes.files import sample

pytestmark = pytest.mark.browser


@pytest.fixture
def parent_page(new_context, live_server, viewport):
    ctx = new_context(base_url=live_server.url, **VIEWPORTS[viewport])
    ctx.set_default_timeout(10_000)
    return ctx.new_page()


def as_payload(ext: str, name: str) -> dict:
    _, data, content_type = sample(ext)
    return {"name": name, "mimeType": content_type, "buffer": data}


def test_tutor_writes_notes_with_files_and_the_parent_reads_the_summary(page, parent_page, tutor, parent,
                                                                        make_session, s3_storage, fake_openai):
    """L20, L21, L22, L23, L25: notes with a photo, a PDF and an audio memo after check-out; the
    parent reads the notes, the AI summary and the transcript, and opens each attachment."""
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=50)
    session = make_session(start=start, status=Status.CHECKED_IN, checked_in_at=start)

    signed_in(page, tutor)
    page.goto("/teach/")
    card = page.locator(f"#session-{session.id}")
    card.get_by_role("button", name="Check out").click()
    expect(page).to_have_url(re.compile(rf"/sessions/{session.id}/notes/$"))
    expect(page.get_by_role("heading", name="Write your notes")).to_be_visible()
    check_page(page, "notes-form")

    page.get_by_label(re.compile("What did you cover")).fill(
        "We worked on fractions. Sam was focused and asked good questions.")
    page.get_by_label(re.compile("Attachments")).set_input_files([
        as_payload(".jpg", "whiteboard.jpg"), as_payload(".pdf", "worksheet.pdf"),
        as_payload(".m4a", "voice memo.m4a")])
    # record what the progress bar showed while the files went up
    page.evaluate("""() => { window.progressSeen = [];
        document.addEventListener('htmx:xhr:progress', () => {
          const bar = document.querySelector('.notes-progress');
          window.progressSeen.push({hidden: bar.hidden, value: bar.value}); }); }""")
    page.get_by_role("button", name="Save notes").click()
    expect(page.get_by_role("status").filter(has_text="Notes saved")).to_have_text(
        "Notes saved with 3 attachments.")
    seen = page.evaluate("() => window.progressSeen")
    assert seen and all(not s["hidden"] for s in seen) and seen[-1]["value"] == 100, seen
    expect(page.get_by_role("heading", name="Add to your notes")).to_be_visible()  # more may follow
    check_page(page, "notes-saved")

    stored = {a.original_name: a for a in Attachment.objects.filter(note__session=session)}
    assert set(stored) == {"whiteboard.jpg", "worksheet.pdf", "voice memo.m4a"}
    assert all(s3_storage.exists(a.storage_name) for a in stored.values())
    summary = Summary.objects.get(session=session)
    assert (summary.status, summary.source) == ("ready", "openai")

    # the parent reads it all on the session card
    signed_in(parent_page, parent)
    parent_page.goto(f"/family/?tab=past#session-{session.id}")
    card = parent_page.locator(f"#session-{session.id}")
    expect(card).to_contain_text("Awaiting Your Acknowledgement")
    expect(card).to_contain_text("Sam was focused and asked good questions.")
    expect(card).to_contain_text(DEFAULT_SUMMARY["engagement"])
    expect(card).to_contain_text(DEFAULT_SUMMARY["next_steps"][0])
    expect(card).to_contain_text(DEFAULT_TRANSCRIPT)
    photo = card.get_by_role("img", name="Photo: whiteboard.jpg")
    expect(photo).to_be_visible()
    parent_page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    check_page(parent_page, "notes-parent-card")

    for name in ("whiteboard.jpg", "worksheet.pdf", "voice memo.m4a"):
        with parent_page.expect_download() as download:
            card.get_by_role("link", name=name, exact=True).click()
        path = download.value.path()
        assert download.value.suggested_filename == name
        assert open(path, "rb").read() == sample(name[-4:])[1]
    # the memo plays in the page: its source answers from the object store
    src = card.locator("audio").get_attribute("src")
    response = parent_page.request.get(src)
    assert response.ok and response.headers["content-type"] == "audio/mp4"
    assert response.url.startswith(s3_storage.endpoint_url)  # a presigned URL on the store itself
