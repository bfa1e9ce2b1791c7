"""The Session Room with each video provider in real browsers (R01: PlugNmeet selected, BigBlueButton
supported): the same pre-join check and header, then the provider's client framed for the call. The
fake providers (tests/fakes/) serve a minimal client page at the join URL: PlugNmeet's sends the
room's signed participant webhooks to the ASGI server, BigBlueButton's is found by the presence poll;
either way both pages read Waiting and In Progress. A provider answering errors shows "Video service
unavailable. Try again." with Retry, which then gets in."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect

from sessions.models import SessionEvent
from tests.browser.conftest import check_page, screenshot
from tests.browser.test_room import committed, person, starting  # noqa: F401 - fixtures
from tests.fakes.bbb_server import FakeBBB
from tests.fakes.fakeserver import Reply
from tests.fakes.plugnmeet_server import FakePlugNmeet
from tests.room.conftest import clean_room_keys  # noqa: F401 - autouse
from video import attendance
from video.models import VideoRoom

pytestmark = pytest.mark.browser


@pytest.fixture
def plugnmeet(settings, asgi_server):
    with FakePlugNmeet() as fake:
        settings.PLUGNMEET = {"url": fake.base_url, "api_key": fake.api_key, "secret": fake.secret}
        settings.VIDEO_PROVIDER = "plugnmeet"
        settings.SITE_URL = asgi_server.url  # the rooms' webhook_url
        settings.VIDEO_HTTP_TIMEOUT_SECONDS = 5
        yield fake


@pytest.fixture
def bbb(settings, asgi_server):
    with FakeBBB() as fake:
        settings.BBB = {"url": fake.url, "secret": fake.secret, "checksum": "sha256"}
        settings.VIDEO_PROVIDER = "bbb"
        settings.SITE_URL = asgi_server.url
        settings.VIDEO_HTTP_TIMEOUT_SECONDS = 5
        yield fake


def beat_poll() -> dict:
    """What beat runs every VIDEO_PRESENCE_POLL_SECONDS, in a thread of its own as a worker would
    (this thread has Playwright's event loop, where the presence broadcast may not block)."""
    def poll():
        try:
            return attendance.poll_rooms(now=timezone.now())
        finally:
            connections.close_all()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(poll).result()


def enter(page, session):
    page.goto(f"/session/{session.id}")
    expect(page.locator("#pick-camera")).to_be_enabled()  # the pre-join device check runs as ever
    page.get_by_role("button", name="Join Session", exact=True).click()
    expect(page.locator("#call")).to_be_visible()


def client_says(page, text):
    """The provider's client framed in the call's stage says `text`."""
    expect(page.locator("#provider-frame")).to_be_visible()
    expect(page.frame_locator("#provider-frame").locator("#who")).to_have_text(re.compile(re.escape(text)))


def test_plugnmeet_in_the_room_for_tutor_and_student(person, starting, plugnmeet, student, tutor, viewport):
    """R01, R05-R07, R10 with PlugNmeet: Join frames the client (the tutor as admin, the student as
    participant); the client's signed webhooks make Waiting and In Progress; leaving takes you out."""
    session = starting(5)
    sam = person(student)
    sam.goto(f"/session/{session.id}")
    expect(sam.locator("#room-status")).to_have_text("Joinable")
    check_page(sam, "room-plugnmeet-prejoin")
    sam.get_by_role("button", name="Join Session", exact=True).click()
    client_says(sam, "Sam (participant)")
    expect(sam.locator("#call-status")).to_have_text("Waiting")

    tia = person(tutor)
    enter(tia, session)
    client_says(tia, "Tia (admin)")
    for page in (sam, tia):
        expect(page.locator("#call-status")).to_have_text("In Progress")
        expect(page.locator("#timer")).to_have_text(re.compile(r"^(Starts in (\d+ min )?\d+ s|\d+:\d\d of \d+:\d\d)$"))
    screenshot(tia, "room-plugnmeet-call")
    assert [w for w in plugnmeet.webhooks if w[1] != 200] == []
    assert VideoRoom.objects.get(session=session).provider == "plugnmeet"

    sam.get_by_role("button", name="Leave the session").click()
    expect(sam.get_by_role("heading", name="You left the session")).to_be_visible()
    expect(tia.locator("#call-status")).to_have_text("Waiting")  # the client's participant_left
    tia.get_by_role("button", name="Leave the session").click()
    expect(tia.get_by_role("heading", name="You left the session")).to_be_visible()
    joins = SessionEvent.objects.filter(session=session, kind="room_joined").values_list("actor_id", flat=True)
    assert sorted(joins) == sorted([student.id, tutor.id])


@pytest.mark.parametrize("viewport", ["desktop"])
def test_bigbluebutton_in_the_room_for_tutor_and_student(person, starting, bbb, student, tutor, viewport):
    """R01 with BigBlueButton: the tutor as MODERATOR, the student as VIEWER; presence from the poll."""
    session = starting(5)
    sam, tia = person(student), person(tutor)
    enter(sam, session)
    client_says(sam, "Sam (viewer)")
    enter(tia, session)
    client_says(tia, "Tia (moderator)")

    assert beat_poll()["present"] == 2
    for page in (sam, tia):
        expect(page.locator("#call-status")).to_have_text("In Progress")
    check_page(sam, "room-bbb-call")

    # the tutor's Leave ends the meeting (video.tasks.end_room), which takes everyone out of the
    # room's presence at once: the student's page leaves In Progress without waiting for a poll
    tia.get_by_role("button", name="Leave the session").click()
    expect(tia.get_by_role("heading", name="You left the session")).to_be_visible()
    expect(sam.locator("#call-status")).not_to_have_text("In Progress")
    assert f"tutoring-{session.id}" not in bbb.meetings
    assert VideoRoom.objects.get(session=session).ended_at is not None
    sam.get_by_role("button", name="Leave the session").click()
    expect(sam.get_by_role("heading", name="You left the session")).to_be_visible()


@pytest.mark.parametrize("viewport", ["desktop"])
def test_a_socket_that_connects_after_the_provider_failed_keeps_its_words(person, starting, student,
                                                                          plugnmeet, viewport):
    """The room's socket may connect after the provider's refusal came back (a loaded machine): its
    welcome must not hide "Video service unavailable. Try again." and its Retry, nor the state's words."""
    plugnmeet.queue("/auth/room/create", Reply(500, b"<html>oops</html>", "text/html"))
    session = starting(5)
    sam = person(student)
    held = []
    sam.route_web_socket(re.compile(r".*/ws/session/.*"), lambda ws: held.append(ws))  # the socket waits
    enter(sam, session)
    expect(sam.get_by_text("Video service unavailable. Try again.")).to_be_visible()
    held[0].connect_to_server()
    sam.wait_for_function("() => window.room.socket() && window.room.socket().readyState === 1")
    expect(sam.get_by_role("button", name="Retry")).to_be_visible()
    expect(sam.locator("#call-status")).to_have_text("Technical Issues")
    expect(sam.get_by_text("Video service unavailable. Try again.")).to_be_visible()


@pytest.mark.parametrize("provider", ["plugnmeet", "bbb"])
@pytest.mark.parametrize("viewport", ["phone"])
def test_a_provider_that_fails_says_so_and_retry_gets_in(person, starting, student, provider, viewport, request):
    """R10 Technical Issues, R12 "Video service unavailable. Try again." with Retry; never a 500."""
    fake = request.getfixturevalue(provider)
    create = "/auth/room/create" if provider == "plugnmeet" else "/bigbluebutton/api/create"
    fake.queue(create, Reply(500, b"<html>oops</html>", "text/html"))
    session = starting(5)
    sam = person(student)

    enter(sam, session)

    expect(sam.get_by_text("Video service unavailable. Try again.")).to_be_visible()
    expect(sam.locator("#call-status")).to_have_text("Technical Issues")
    expect(sam.locator("#provider-frame")).to_be_hidden()
    check_page(sam, f"room-{provider}-unavailable")
    sam.get_by_role("button", name="Retry").click()
    client_says(sam, "Sam (")
    expect(sam.get_by_text("Video service unavailable. Try again.")).to_be_hidden()
    sam.get_by_role("button", name="Leave the session").click()
    expect(sam.get_by_role("heading", name="You left the session")).to_be_visible()
