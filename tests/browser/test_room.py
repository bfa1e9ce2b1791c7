"""The Session Room in real browsers: two Chromium contexts with fake cameras and microphones meet
peer to peer on loopback through the ASGI server (uvicorn, Channels on the real Redis), each
decoding the other's video; the states, a denied camera, a second tab and a dropped connection;
axe at phone and desktop widths."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import Event
from room import services as room_services
from video import presence
from sessions.models import SessionAssessment, SessionEvent, Status
from tests.browser.conftest import VIEWPORTS, check_page, signed_in
from tests.notes.files import uploaded

pytestmark = pytest.mark.browser

# keeps a page's count of decoded remote video frames in window.__frames (read by wait_for_function):
# the most any inbound video stream decoded (a call may have a video transceiver that receives nothing)
WATCH_FRAMES = """() => { if (window.__watching) return; window.__watching = true; window.__frames = 0;
  setInterval(async () => { const pc = window.room && window.room.pc; if (!pc) { window.__frames = 0; return; }
    const stats = await pc.getStats(); let frames = 0;
    stats.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames = Math.max(frames, s.framesDecoded || 0); });
    window.__frames = frames; }, 200); }"""

# keeps a page's inbound audio in window.__samples (samples received) and window.__loudest (the
# highest mean power, audio energy over duration, of any 200 ms between two readings): a sound, the
# fake microphone's beep, is far above what silence or comfort noise gives (a muted microphone:
# about 1e-9 here, against 0.5 for the beep)
WATCH_AUDIO = """() => { if (window.__hearing) return; window.__hearing = true;
  window.__samples = 0; window.__loudest = 0; let last = null;
  setInterval(async () => { const pc = window.room && window.room.pc;
    if (!pc) { window.__samples = 0; last = null; return; }
    const stats = await pc.getStats(); let now = null;
    stats.forEach(s => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      if (now && s.totalSamplesReceived <= now.samples) return;
      now = { samples: s.totalSamplesReceived || 0, energy: s.totalAudioEnergy || 0,
              duration: s.totalSamplesDuration || 0 }; });
    if (!now) return;
    if (last && now.duration > last.duration) {
      const power = (now.energy - last.energy) / (now.duration - last.duration);
      window.__loudest = Math.max(window.__loudest, power); }
    window.__samples = now.samples; last = now; }, 200); }"""

# holds the page's getUserMedia until window.__releaseCamera() (a camera permission still pending)
CAMERA_GATE = """(() => { const media = navigator.mediaDevices, real = media.getUserMedia.bind(media);
  let release; const gate = new Promise(ok => { release = ok; });
  window.__releaseCamera = () => release();
  media.getUserMedia = (constraints) => gate.then(() => real(constraints)); })()"""


@pytest.fixture(autouse=True)
def committed(transactional_db):
    """The server's threads read the data: it must be committed."""


@pytest.fixture
def person(media_browser, asgi_server, viewport):
    """person(user, allow=True) -> a signed-in page in a context of its own."""
    contexts = []

    def open_as(user, *, allow=True):
        context = media_browser.new_context(base_url=asgi_server.url, **VIEWPORTS[viewport])
        context.set_default_timeout(15_000)
        if allow:
            context.grant_permissions(["camera", "microphone"], origin=asgi_server.url)
        contexts.append(context)
        return signed_in(context.new_page(), user)

    yield open_as
    for context in contexts:
        context.close()
    assert asgi_server.idle(60), "the server still holds connections a minute after the test's pages closed"
    rooms_empty()


def rooms_empty(timeout=10.0):
    """Check that the server, idle, has seen every socket of the test close (its leave events
    written), before the database is emptied under it."""
    import time

    client, deadline = presence.client(), time.monotonic() + timeout
    while True:
        keys = list(client.scan_iter(match=f"room:{presence.namespace()}:*:presence"))
        held = {key: client.zrange(key, 0, -1) for key in keys if client.zcard(key)}
        events = SessionEvent.objects.filter(kind__in=["room_joined", "room_left"])
        joins, leaves = events.filter(kind="room_joined").count(), events.filter(kind="room_left").count()
        if not held and joins == leaves:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"after the server went idle, rooms still hold {held} and there are {joins} "
                                 f"joins against {leaves} leaves")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def no_one_in_any_room():
    """Each test starts with no room's presence left by another (a fault in one test is its own,
    not every later test's of that worker)."""
    client = presence.client()
    for key in client.scan_iter(match=f"room:{presence.namespace()}:*"):
        client.delete(key)


@pytest.fixture
def starting(make_session):
    """starting(minutes) -> a session of Sam with Tia starting that many minutes from now."""
    def make(minutes, **fields):
        start = (timezone.now() + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
        return make_session(start=start, **fields)
    return make


def join(page):
    page.get_by_role("button", name="Join Session", exact=True).click()
    expect(page.locator("#call")).to_be_visible()


def receives_video(page, more_than=0):
    page.evaluate(WATCH_FRAMES)
    page.wait_for_function("(n) => window.__frames > n", arg=more_than, timeout=45_000)  # generous: a loaded CI machine


def frames(page):
    return page.evaluate("() => window.__frames")


def hears_audio(page):
    """The other side's sound arrives and keeps arriving: samples received grow, and not silence."""
    page.evaluate(WATCH_AUDIO)
    page.wait_for_function("() => window.__samples > 0 && window.__loudest > 1e-3", timeout=45_000)
    before = page.evaluate("() => window.__samples")
    page.wait_for_function("(n) => window.__samples > n", arg=before, timeout=20_000)


def test_two_people_meet_from_their_dashboards_and_see_each_other(person, starting, student, tutor, viewport):
    """R01, R02, R05-R08, R09 (US-S042, US-S043, US-V001, US-V006, US-T007), R10, R11, R14, R18: Join
    from /learn/ and /teach/, the pre-join check, Waiting, In Progress with each side decoding the
    other's frames and hearing the other's sound, the phone layout; R06 in the call: the side panel
    lists the tutor's resource and its link downloads it, the session timer runs, switching the
    camera keeps the call going, picture-in-picture; check-in, leaving, feedback."""
    session = starting(5)
    room_services.add_resources(session, by=tutor, files=[uploaded("pdf")])  # shared before the call
    sam = person(student)
    expect(sam).to_have_url(re.compile(r"/learn/$"))
    sam.get_by_role("link", name="Join Session", exact=True).click()
    expect(sam).to_have_url(re.compile(rf"/session/{session.id}$"))
    expect(sam.locator("#room-status")).to_have_text("Joinable")
    expect(sam.locator("#pick-camera")).to_be_enabled()  # the camera answered: the device check runs
    check_page(sam, "room-prejoin")
    join(sam)
    expect(sam.locator("#call-status")).to_have_text("Waiting")
    expect(sam.locator("#peer-note")).to_have_text("Waiting for Tia to join.")

    tia = person(tutor)
    tia.goto("/teach/")
    tia.get_by_role("link", name="Join Session", exact=True).click()
    join(tia)
    for page in (sam, tia):
        expect(page.locator("#call-status")).to_have_text("In Progress")
    receives_video(sam)
    receives_video(tia)
    hears_audio(sam)  # see and hear: each side's sound reaches the other
    hears_audio(tia)
    check_page(tia, "room-call")

    # R11: full-screen video; portrait phones stack the videos, wider screens put them side by side;
    # on phones the controls hide after a few seconds without a touch and come back on one
    remote, local = (tia.locator(f"#{v}-video").bounding_box() for v in ("remote", "local"))
    call = tia.locator("#call").bounding_box()
    assert (call["width"], call["height"]) == (tia.viewport_size["width"], tia.viewport_size["height"])
    if viewport == "phone":
        assert remote["y"] + remote["height"] <= local["y"] + 1
        expect(tia.locator("#call")).to_have_class(re.compile("controls-hidden"), timeout=10_000)
        tia.locator("#remote-video").tap()
        expect(tia.locator("#call")).not_to_have_class(re.compile("controls-hidden"))
    else:
        assert remote["x"] + remote["width"] <= local["x"] + 1

    # the controls are labelled and keyboard-operable (R18)
    mute = tia.get_by_role("button", name="Mute")
    mute.focus()
    tia.keyboard.press("Enter")
    expect(tia.locator("#toggle-mic")).to_have_attribute("aria-pressed", "true")
    expect(sam.locator("#remote-muted")).to_be_visible()

    tia.get_by_role("button", name="Check in").click()
    expect(tia.locator("#check-in")).to_be_hidden()
    session.refresh_from_db()
    assert session.status == Status.CHECKED_IN

    # R06: the session timer counts (before the start: down to it) in m:ss
    timer = sam.locator("#timer")
    expect(timer).to_have_text(re.compile(r"^(Starts in (\d+ min )?\d+ s|\d+:\d\d of \d+:\d\d)$"))
    expect(timer).not_to_have_text(timer.text_content(), timeout=5_000)

    # R06: the side panel lists the resource the tutor shared; its link downloads the file
    sam.locator("#videos").click()  # on a phone the controls come back with a touch
    sam.get_by_role("button", name="Resources").click()
    expect(sam.locator("#toggle-side")).to_have_attribute("aria-expanded", "true")
    with sam.expect_download() as download:
        sam.locator("#side-panel").get_by_role("link", name="worksheet.pdf").click()
    assert download.value.suggested_filename == "worksheet.pdf"
    with open(download.value.path(), "rb") as file:
        assert file.read().startswith(b"%PDF")
    sam.locator("#side-title").click()  # a touch on the panel (over the videos on a phone) wakes the controls
    sam.get_by_role("button", name="Resources", exact=True).click()  # not "Close resources"
    expect(sam.locator("#side-panel")).to_be_hidden()

    # R06: switching the camera sends the other one on the same call; Tia keeps decoding it
    camera = ("() => window.room.pc.getSenders().map(s => s.track && s.track.label)"
              ".filter(l => l && l.startsWith('fake_device'))[0]")
    first = sam.evaluate(camera)
    seen = frames(tia)
    sam.locator("#videos").click()
    sam.get_by_role("button", name="Switch camera").click()
    sam.wait_for_function(f"() => ({camera})() && ({camera})() !== {first!r}")
    receives_video(tia, more_than=seen)
    expect(tia.locator("#call-status")).to_have_text("In Progress")
    assert sam.evaluate("() => window.room.pc.connectionState") == "connected"

    # R11: picture-in-picture where the browser has it
    if sam.evaluate("() => document.pictureInPictureEnabled"):
        sam.locator("#videos").click()
        sam.get_by_role("button", name="Picture in picture").click()
        in_pip = "() => document.pictureInPictureElement === document.querySelector('#remote-video')"
        sam.wait_for_function(in_pip)
        sam.locator("#videos").click()
        sam.get_by_role("button", name="Picture in picture").click()
        sam.wait_for_function("() => !document.pictureInPictureElement")
    else:
        expect(sam.locator("#pip")).to_be_hidden()

    sam.locator("#videos").click()  # on a phone the controls come back with a touch
    sam.get_by_role("button", name="Leave the session").click()
    expect(sam.get_by_role("heading", name="You left the session")).to_be_visible()
    expect(sam.get_by_text("Tia is still in the room.")).to_be_visible()
    expect(sam.get_by_role("link", name="Rejoin the session")).to_be_visible()
    expect(tia.locator("#call-status")).to_have_text("Waiting")
    sam.get_by_role("radio", name="4 – Good").check()
    sam.get_by_label("Comment (optional)").fill("Clear explanations.")
    sam.get_by_role("button", name="Send feedback").click()
    expect(sam.get_by_text("Thank you: your feedback was saved.")).to_be_visible()
    check_page(sam, "room-after")
    assert SessionAssessment.objects.get(session=session).rating == 4
    joins = SessionEvent.objects.filter(session=session, kind="room_joined").values_list("actor_id", flat=True)
    assert sorted(joins) == sorted([student.id, tutor.id])


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_denied_camera_says_how_to_fix_it_and_still_lets_you_join(person, starting, student, viewport):
    """R12 "Please allow camera/microphone access."; a tech_issue (media_denied) is recorded."""
    session = starting(5)
    sam = person(student, allow=False)
    with sam.expect_response(lambda r: "/analytics/beacon" in r.url) as beacon:
        sam.goto(f"/session/{session.id}")
    assert beacon.value.status == 204
    expect(sam.get_by_text("Please allow camera/microphone access.")).to_be_visible()
    check_page(sam, "room-denied")
    assert Event.objects.get(name="tech_issue").data == {"session_id": session.id, "error_type": "media_denied"}
    join(sam)
    expect(sam.locator("#call-status")).to_have_text("Waiting")


@pytest.mark.parametrize("viewport", ["desktop"])
def test_join_is_enabled_by_the_rooms_script_only(person, starting, student, viewport):
    """Join is never a dead button: before the room's script runs (or when it fails to load) it is
    disabled; the script enables it (a click on the server's enabled button did nothing)."""
    session = starting(5)
    sam = person(student)
    sam.route(re.compile(r".*/static/js/room\.js.*"), lambda route: route.fulfill(status=404, body=""))
    sam.goto(f"/session/{session.id}")
    expect(sam.locator("#join")).to_have_text("Join Session")
    expect(sam.locator("#join")).to_be_disabled()
    sam.unroute_all()
    sam.reload()
    expect(sam.locator("#join")).to_be_enabled()
    join(sam)


@pytest.mark.parametrize("viewport", ["phone"])
def test_an_early_room_counts_down(person, starting, student, viewport):
    """R10 Early: more than 15 minutes before, Join is not possible yet."""
    session = starting(60)
    sam = person(student)
    sam.goto(f"/session/{session.id}")
    expect(sam.locator("#room-status")).to_have_text("Early")
    expect(sam.locator("#join")).to_be_disabled()
    expect(sam.locator("#join")).to_have_text(re.compile(r"^Opens at \d\d:\d\d$"))
    expect(sam.locator("#countdown")).to_have_text(re.compile(r"The room opens in 4[0-5] min \d\d s \(at \d\d:\d\d\)"))
    check_page(sam, "room-early")


@pytest.mark.parametrize("viewport", ["desktop"])
def test_no_show_when_the_other_never_comes(person, starting, tutor, viewport):
    """R10 No Show: 15 minutes (ROOM_NO_SHOW_GRACE) after the start, the student never joined."""
    session = starting(-20)
    tia = person(tutor)
    tia.goto(f"/session/{session.id}")
    join(tia)
    expect(tia.locator("#call-status")).to_have_text("No Show")
    expect(tia.locator("#peer-note")).to_have_text("Sam has not joined 15 minutes after the start.")


@pytest.mark.parametrize("viewport", ["desktop"])
def test_an_ended_session_shows_the_post_session_screen(person, starting, student, viewport):
    """R10 Ended, R12 "This session has ended.", R03 Back to Dashboard and Back to Course."""
    session = starting(-120, status=Status.AWAITING_APPROVAL_PARENT)
    sam = person(student)
    sam.goto(f"/session/{session.id}")
    expect(sam.get_by_role("heading", name="Session Ended")).to_be_visible()
    expect(sam.get_by_text("This session has ended.")).to_be_visible()
    expect(sam.get_by_role("link", name="Back to Dashboard")).to_have_attribute("href", "/learn/")
    sam.get_by_role("link", name="Back to Course").click()  # R03: spec 002's CCNT, the course's page
    expect(sam).to_have_url(re.compile(rf"/learn/courses/{session.course_id}/$"))
    expect(sam.locator(f"#session-{session.id}")).to_be_visible()


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_second_tab_of_the_same_person_takes_over(person, starting, student, tutor, viewport):
    session = starting(5)
    first = person(student)
    first.goto(f"/session/{session.id}")
    join(first)
    second = first.context.new_page()
    second.goto(f"/session/{session.id}")
    join(second)
    expect(first.get_by_text("You joined this session in another tab or window.")).to_be_visible()
    expect(second.locator("#call-status")).to_have_text("Waiting")
    first.get_by_role("button", name="Use this tab").click()
    expect(second.get_by_text("You joined this session in another tab or window.")).to_be_visible()
    assert SessionEvent.objects.filter(session=session, kind="room_joined").count() == 1


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_dropped_connection_reconnects(person, starting, student, tutor, viewport):
    """The network goes away and comes back: the socket reconnects and the call is set up again."""
    session = starting(5)
    sam, tia = person(student), person(tutor)
    for page in (sam, tia):
        page.goto(f"/session/{session.id}")
        join(page)
    receives_video(sam)
    tia.context.set_offline(True)
    expect(sam.locator("#call-status")).to_have_text("Waiting", timeout=45_000)
    tia.context.set_offline(False)
    for page in (sam, tia):
        expect(page.locator("#call-status")).to_have_text("In Progress", timeout=30_000)
    sam.wait_for_function("() => window.room.pc && window.room.pc.connectionState === 'connected'", timeout=20_000)
    receives_video(tia)


@pytest.mark.parametrize("viewport", ["desktop"])
@pytest.mark.parametrize("late", ["student", "tutor"])
def test_a_camera_that_answers_after_join_is_sent_to_the_other(person, starting, student, tutor, viewport, late):
    """R06-R08: Join pressed while the camera permission is still pending: the call starts without
    our media (the other side is seen and heard, ours shows "video off"); when the camera answers, it
    is sent on the call (renegotiated) and the other side decodes it, whichever side was late."""
    session = starting(5)
    sam, tia = person(student), person(tutor)
    slow, other = (sam, tia) if late == "student" else (tia, sam)
    slow.add_init_script(CAMERA_GATE)
    slow.goto(f"/session/{session.id}")
    join(slow)
    expect(slow.locator("figure.video--local")).to_have_class(re.compile("video--off"))
    other.goto(f"/session/{session.id}")
    join(other)
    for page in (slow, other):
        expect(page.locator("#call-status")).to_have_text("In Progress")
    receives_video(slow)  # the other side's camera, with none of our own
    expect(other.locator("figure.video--remote")).to_have_class(re.compile("video--off"))

    slow.evaluate("() => window.__releaseCamera()")
    receives_video(other)  # the camera that came late, sent on the call
    expect(slow.locator("figure.video--local")).not_to_have_class(re.compile("video--off"))
    expect(other.locator("figure.video--remote")).not_to_have_class(re.compile("video--off"))
    receives_video(slow, more_than=frames(slow))  # and the other way still flows


@pytest.mark.parametrize("viewport", ["phone"])
def test_a_socket_that_cannot_connect_offers_retry(person, starting, student, viewport):
    """R10 Technical Issues, R12 "Unable to connect. [Retry]"; a tech_issue (connection_failed)."""
    session = starting(5)
    sam = person(student)
    network = {"down": True}

    def socket(ws):  # the room's socket: refused while the network is "down", then let through
        if network["down"]:
            ws.close(code=1011, reason="down")
        else:
            ws.connect_to_server()
    sam.route_web_socket(re.compile(r".*/ws/session/.*"), socket)
    sam.goto(f"/session/{session.id}")
    join(sam)
    expect(sam.get_by_text("Unable to connect.")).to_be_visible(timeout=20_000)
    expect(sam.locator("#call-status")).to_have_text("Technical Issues")
    check_page(sam, "room-unable-to-connect")
    network["down"] = False
    sam.get_by_role("button", name="Retry").click()
    expect(sam.locator("#call-status")).to_have_text("Waiting")
    assert Event.objects.filter(name="tech_issue", data__error_type="connection_failed").exists()


@pytest.mark.parametrize("viewport", ["phone"])
def test_too_many_connection_attempts_say_when_and_wait_until_then(person, starting, student, viewport):
    """The server refuses the socket for too many attempts (error frame rate_limited with
    retry_after, close 4429, as room/consumers.py does): the page shows its words at once and
    tries again only when the server allows it."""
    import json

    session = starting(5)
    sam = person(student)
    attempts = []

    def socket(ws):  # the first attempt refused as the rate limit does, the next let through
        attempts.append(ws.url)
        if len(attempts) == 1:
            ws.send(json.dumps({"type": "error", "code": "rate_limited", "retry_after": 60,
                                "detail": "Too many connection attempts: try again in 1 minute."}))
            ws.close(code=4429, reason="rate_limited")
        else:
            ws.connect_to_server()
    sam.clock.install()
    sam.route_web_socket(re.compile(r".*/ws/session/.*"), socket)
    sam.goto(f"/session/{session.id}")
    join(sam)
    expect(sam.get_by_text("Too many connection attempts: try again in 1 minute.")).to_be_visible()
    sam.clock.run_for(50_000)
    assert len(attempts) == 1  # no attempt before the minute is over
    sam.clock.run_for(11_000)
    expect(sam.locator("#call-status")).to_have_text("Waiting")
    assert len(attempts) == 2


@pytest.mark.parametrize("viewport", ["phone"])
def test_the_side_panel_closes_from_inside_on_a_phone(person, starting, student, viewport):
    """R06 on a phone: the side panel, over the videos, has a close button of its own inside it
    (named, reached by keyboard: focus moves to it when the panel opens); it, or Escape, closes the
    panel and gives focus back to the Resources button that opened it."""
    session = starting(-5)
    sam = person(student)
    sam.goto(f"/session/{session.id}")
    sam.wait_for_load_state("load")
    join(sam)
    opener, panel = sam.locator("#toggle-side"), sam.locator("#side-panel")
    close = panel.get_by_role("button", name="Close resources")

    opener.focus()  # a keyboard user: the controls stay while focus is on them
    sam.keyboard.press("Enter")
    expect(panel).to_be_visible()
    expect(close).to_be_visible()
    expect(close).to_be_focused()
    box, inside = close.bounding_box(), panel.bounding_box()
    width = sam.viewport_size["width"]
    assert box["width"] >= 44 and box["height"] >= 44  # a finger's size
    assert inside["x"] <= box["x"] and box["x"] + box["width"] <= min(inside["x"] + inside["width"], width)
    assert inside["y"] <= box["y"] and box["y"] + box["height"] <= inside["y"] + inside["height"]
    sam.keyboard.press("Enter")
    expect(panel).to_be_hidden()
    expect(opener).to_have_attribute("aria-expanded", "false")
    expect(opener).to_be_focused()

    sam.keyboard.press("Enter")  # open again from the button; Escape closes it too
    expect(close).to_be_focused()
    sam.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(opener).to_have_attribute("aria-expanded", "false")
    expect(opener).to_be_focused()

    opener.click()  # a touch: the close button closes it the same way
    expect(close).to_be_focused()
    check_page(sam, "room-side-panel-phone")
    close.click()
    expect(panel).to_be_hidden()
    expect(opener).to_be_focused()
