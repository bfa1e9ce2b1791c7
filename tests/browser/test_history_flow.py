"""The creator's Session History in a real browser, at a phone and a desktop size: filter (the URL
follows, Back returns), open the detail panel, play the recording, resolve a dispute, the calendar."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from analytics.models import Event
from sessions import lifecycle
from sessions.models import Recording, Session, SessionAssessment, Status
from tests.browser.conftest import check_page, signed_in
from tests.conftest import NOW

pytestmark = pytest.mark.browser
URL = "/dashboard/teaching/sessions"


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def history(make_session, student, parent, notes_storage):
    start = NOW - timedelta(days=1)
    rated = make_session(start=start, status=Status.APPROVED, checked_in_at=start,
                         checked_out_at=start + timedelta(minutes=50))
    SessionAssessment.objects.create(session=rated, author=student, author_role="student", rating=2,
                                     comment="Too fast for me")
    (notes_storage / "rec").mkdir(parents=True)
    (notes_storage / "rec" / "1.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    Recording.objects.create(session=rated, provider="p2p", status="available", r2_key="rec/1.mp4")
    missed = make_session(start=NOW - timedelta(days=3), status=Status.NO_SHOW)
    d_start = NOW - timedelta(days=2)
    disputed = make_session(start=d_start, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=d_start,
                            checked_out_at=d_start + timedelta(hours=1))
    lifecycle.dispute(disputed, by=parent, reason="The tutor left early.", now=NOW - timedelta(days=1))
    upcoming = make_session(start=NOW + timedelta(days=3))
    return {"rated": rated, "missed": missed, "disputed": disputed, "upcoming": upcoming}


def test_filter_open_detail_play_and_resolve(page, creator, history, viewport):
    """H05-H14 H17-H21: the creator filters, opens a session, plays its recording, resolves a dispute."""
    rated, missed, disputed = history["rated"], history["missed"], history["disputed"]
    signed_in(page, creator)
    page.goto(URL)
    expect(page.get_by_role("heading", name="Session History", level=1)).to_be_visible()
    expect(page.locator("#history-stats")).to_have_text("4 total sessions, 1 this week")
    expect(page.locator(f"#row-{rated.id}")).to_contain_text("Low rating: review")
    check_page(page, "history-default")

    # filter by status: the results update in place and the URL follows (shareable, Back works),
    # only the filters that apply, not every empty field of the form
    page.get_by_label("Status").select_option("no_show")
    expect(page).to_have_url(re.compile(rf"{URL}\?status=no_show$"))
    expect(page.locator(f"#row-{missed.id}")).to_be_visible()
    expect(page.locator(f"#row-{rated.id}")).to_have_count(0)
    check_page(page, "history-filtered")
    page.go_back()
    expect(page.locator(f"#row-{rated.id}")).to_be_visible()
    assert Event.objects.filter(name="filter_applied", data={"filter_type": "status", "value": "no_show"}).exists()

    # the detail panel has its own URL
    page.locator(f"#row-{rated.id}").get_by_role("link", name=f"View session {rated.id}").click()
    expect(page).to_have_url(re.compile(rf"{URL}/{rated.id}/"))
    panel = page.locator("#detail")
    expect(panel.get_by_role("heading", name="Sam with Tia")).to_be_visible()
    expect(panel).to_contain_text("“Too fast for me”")
    expect(panel).to_contain_text("Flagged for review")
    check_page(page, "history-detail")
    # H19: on a phone the recording plays in a modal; on a wide screen in the panel
    if viewport == "phone":
        expect(panel.locator("video.recording--inline")).to_be_hidden()
        panel.get_by_role("button", name="Play the recording").click()
        dialog = page.get_by_role("dialog", name="Recording of the session")
        expect(dialog.locator("video")).to_be_visible()
        check_page(page, "history-recording-modal")
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()
    else:
        expect(panel.locator("video.recording--inline")).to_be_visible()
        expect(panel.get_by_role("button", name="Play the recording")).to_be_hidden()
    # play: the player's source answers with the file through a short-lived link
    src = panel.locator("video").first.get_attribute("src")
    response = page.request.get(src)
    assert response.ok and response.headers["content-type"] == "video/mp4"
    with page.expect_response(re.compile(r"/analytics/beacon")) as beacon:
        panel.get_by_role("link", name="Open the recording").click()
    assert beacon.value.status == 204
    assert Event.objects.filter(name="recording_played", data={"session_id": rated.id}, source="browser").exists()

    # resolve the dispute from its panel
    page.goto(f"{URL}/{disputed.id}/")
    panel = page.locator("#detail")
    expect(panel).to_contain_text("The tutor left early.")
    panel.get_by_label("Void it: Not Completed").check()
    panel.get_by_label("Reason").fill("The lesson lasted twenty minutes.")
    check_page(page, "history-dispute")
    panel.get_by_role("button", name="Resolve the dispute").click()
    expect(page.locator("#detail").get_by_role("status")).to_have_text(
        "Dispute resolved: the session is void (Not Completed).")
    assert Session.objects.get(pk=disputed.pk).status == Status.NOT_COMPLETED


def test_the_upcoming_calendar(page, creator, history):
    """H15 H19: month and week views of scheduled sessions; simplified on a phone."""
    signed_in(page, creator)
    page.goto(URL)
    page.get_by_role("link", name="Upcoming").click()
    calendar = page.locator("#calendar")
    expect(calendar.get_by_role("heading", name="November 2026")).to_be_visible()
    expect(calendar).to_contain_text("Sam with Tia")
    check_page(page, "history-calendar-month")
    calendar.get_by_role("link", name="Week view").click()
    expect(page.locator("#calendar").get_by_role("heading", name=re.compile("Week of 16 November 2026"))).to_be_visible()
    check_page(page, "history-calendar-week")


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_swipe_for_actions_on_a_phone(page, creator, history):
    """H19: on a phone a card list; a swipe across a card brings its View and Message actions in."""
    rated = history["rated"]
    signed_in(page, creator)
    page.goto(URL)
    card = page.locator(f"#row-{rated.id}")
    view = card.get_by_role("link", name=f"View session {rated.id}")
    card.evaluate("row => row.scrollIntoView({block: 'center'})")
    expect(card.locator("td").first).to_be_in_viewport()
    expect(view).not_to_be_in_viewport(ratio=0.9)  # only the actions' edge peeks in
    box = card.bounding_box()
    # what peeks in is the handle, no action's word cut at the card's edge ("Viev", "M")
    for action in card.locator("td.row-actions").locator("a, summary").all():
        assert action.bounding_box()["x"] >= box["x"] + box["width"] - 1, action.inner_text()
    cdp = page.context.new_cdp_session(page)  # a real touch swipe, right to left, through Chromium's input
    x, y = box["x"] + box["width"] * 0.8, box["y"] + 40
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 13):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x - 20 * step, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(view).to_be_in_viewport(ratio=0.9)
    check_page(page, "history-swiped")
    view.tap()
    expect(page).to_have_url(re.compile(rf"{URL}/{rated.id}/"))
    expect(page.locator("#detail").get_by_role("heading", name="Sam with Tia")).to_be_visible()


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_the_metrics_by_st_fit_a_phone(page, creator, history):
    """H16 H19: on a phone each ST of the metrics is a card, its figures under their labels; the
    table's six columns no longer run past the screen's edge (Rating and No-show were cut off)."""
    signed_in(page, creator)
    page.goto(URL)
    table = page.locator("#metrics .by-st__table")
    expect(table.get_by_role("rowheader", name="Tia")).to_be_visible()
    wrapper = page.locator("#metrics .by-st .table-scroll")
    fits = wrapper.evaluate("w => w.scrollWidth <= w.clientWidth")
    assert fits, wrapper.evaluate("w => [w.scrollWidth, w.clientWidth]")
    width = page.viewport_size["width"]
    for label in ("Sessions", "Avg duration", "Completion", "Rating", "No-show"):
        box = table.locator(f'td[data-label="{label}"]').first.bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= width, (label, box)
    check_page(page, "history-metrics")
