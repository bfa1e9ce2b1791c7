"""The built-in room records where the course records (issue 16 item 5): in real browsers with fake
cameras and microphones, both participants are told before joining and see "Recording" during the
call; the tutor's browser records the call with MediaRecorder and uploads it in parts as it goes;
leaving completes it, and the session's recording plays through its signed link."""

import pytest
from playwright.sync_api import expect

from sessions.models import Recording, RecordingStatus
from tests.browser.conftest import check_page
from tests.browser.test_room import committed, join, person, starting  # noqa: F401 - fixtures
from video.models import CopyStatus, CourseVideo, RecordingCopy

pytestmark = pytest.mark.browser

PART = 64 * 1024  # small parts (the local storage takes any size): a few seconds make several

PLAY = """async (url) => { const v = document.createElement('video'); v.muted = true; v.src = url;
  document.body.append(v); await new Promise((ok, no) => { v.onloadedmetadata = ok; v.onerror = () => no(v.error); });
  return [v.videoWidth, v.videoHeight]; }"""


def test_the_tutor_s_browser_records_the_call_in_parts(person, starting, settings, notes_storage, course, student,
                                                        tutor, viewport):
    """R09 US-V005 in the built-in room: told, shown, recorded, uploaded in parts, played back."""
    settings.RECORDING_PART_BYTES = PART
    CourseVideo.objects.create(course=course, record=True)
    session = starting(5)
    sam, tia = person(student), person(tutor)
    for page in (sam, tia):
        page.goto(f"/session/{session.id}")
        expect(page.get_by_text("This session is recorded.")).to_be_visible()
    expect(sam.get_by_text("Your tutor's browser records the call")).to_be_visible()
    for page in (sam, tia):
        join(page)

    # the call connected, so the tutor's recorder started, and the server told the student's socket
    # (generous: a loaded machine may take long to connect two browsers)
    for page in (tia, sam):
        expect(page.locator("#rec-indicator")).to_be_visible(timeout=45_000)
        expect(page.locator("#rec-indicator")).to_have_text("Recording")
    tia.wait_for_function("() => window.room.recording && window.room.recording.next > 3", timeout=30_000)
    tracks = tia.evaluate("() => window.room.recording.recorder.stream.getTracks().map(t => t.kind).sort()")
    assert tracks == ["audio", "video"]  # both voices mixed, both videos drawn
    check_page(sam, "room-recording")
    upload = RecordingCopy.objects.get(recording__session=session)
    assert upload.provider == "p2p" and upload.status == CopyStatus.COPYING

    tia.locator("#videos").click()  # on a phone the controls come back with a touch
    tia.get_by_role("button", name="Leave the session").click()
    expect(tia.get_by_role("heading", name="You left the session")).to_be_visible(timeout=60_000)
    expect(sam.locator("#rec-indicator")).to_be_hidden()

    recording = Recording.objects.get(session=session)
    upload.refresh_from_db()
    assert recording.status == RecordingStatus.AVAILABLE and recording.r2_key.endswith(".webm")
    assert len(upload.parts) >= 3 and {p["size"] for p in upload.parts[:-1]} == {PART}
    assert recording.size_bytes == sum(p["size"] for p in upload.parts)
    assert (notes_storage / recording.r2_key).read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # WebM (EBML)
    assert recording.duration_seconds and recording.duration_seconds > 0

    link = tia.evaluate(f"() => fetch('/api/sessions/{session.id}/recording').then(r => r.json())")["url"]
    assert tia.evaluate(PLAY, link) == [640, 360]  # the canvas of both videos the recorder took
    sam.locator("#videos").click()
    sam.get_by_role("button", name="Leave the session").click()
    expect(sam.get_by_role("heading", name="Session Ended").or_(
        sam.get_by_role("heading", name="You left the session"))).to_be_visible()
