"""Whole session flows in a real browser, each by the real role through the real pages, at a phone
and a desktop size. The clock is frozen at tests.conftest.NOW (Monday 2026-11-16 10:00 UTC) with
time_machine, which also stops the live server's clock, and moved on where a flow needs it."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from sessions import lifecycle
from sessions.models import Session, Status
from tests.browser.conftest import VIEWPORTS, check_page, signed_in
from tests.conftest import NOW

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def second_page(new_context, live_server, viewport):
    """A second person's browser, at the same size as the first."""
    ctx = new_context(base_url=live_server.url, **VIEWPORTS[viewport])
    ctx.set_default_timeout(10_000)
    return ctx.new_page()


def test_the_parent_disputes_a_session_awaiting_acknowledgement(page, parent, awaiting):
    """L27: the parent disputes with a reason; the card shows the disputed label in place."""
    signed_in(page, parent)
    expect(page).to_have_url(re.compile(r"/family/$"))
    card = page.locator(f"#session-{awaiting.id}")
    expect(card).to_contain_text("Awaiting Your Acknowledgement")
    card.get_by_text("Dispute…").click()
    card.get_by_label("What went wrong?").fill("The tutor left after twenty minutes.")
    check_page(page, "flow-dispute-form")
    card.get_by_role("button", name="Send dispute").click()
    card = page.locator(f"#session-{awaiting.id}")
    expect(card.get_by_role("status")).to_have_text("Dispute sent: a coordinator will review it.")
    expect(card).to_contain_text("Disputed: under review")
    expect(card.get_by_role("button", name="Acknowledge")).to_have_count(0)
    check_page(page, "flow-disputed")
    awaiting.refresh_from_db()
    assert awaiting.status == Status.DISPUTED


def test_a_reschedule_request_countered_by_the_tutor_and_accepted(page, second_page, parent, tutor, session,
                                                                  reasons):
    """L31, L35, L36, L39: the parent asks for a new time from the family page with a reason from the
    parent's picker; the tutor counter-proposes from /teach/; the parent accepts the counter and the
    session moves, keeping its hour."""
    signed_in(page, parent)
    card = page.locator(f"#session-{session.id}")
    expect(card).to_contain_text("Wed 18 Nov 10:00 (Europe/London)")
    card.get_by_text("Request a new time…").click()
    card.get_by_label(re.compile("New start")).fill("2026-11-20T14:00")
    card.get_by_label("Reason for the new time").select_option(label="Schedule conflict")
    check_page(page, "flow-reschedule-form")
    card.get_by_role("button", name="Send request").click()
    card = page.locator(f"#session-{session.id}")
    expect(card.get_by_role("status")).to_have_text("Reschedule request sent.")
    thread = card.get_by_role("region", name="Reschedule request")
    expect(thread).to_contain_text("Reschedule request from the parent: Schedule conflict")
    expect(thread).to_contain_text(re.compile(r"Proposed by you on \w{3} \d\d \w{3}: Fri 20 Nov 14:00–15:00"))
    expect(thread).to_contain_text("Waiting for Tia's answer.")
    check_page(page, "flow-reschedule-sent")

    tutor_page = signed_in(second_page, tutor)
    expect(tutor_page).to_have_url(re.compile(r"/teach/$"))
    card = tutor_page.locator(f"#session-{session.id}")
    expect(card).to_contain_text(re.compile(r"Proposed by Pat on \w{3} \d\d \w{3}: Fri 20 Nov 14:00–15:00 \(UTC\)"))
    card.get_by_text("Propose another time…").click()
    card.get_by_label(re.compile("New start")).fill("2026-11-21T09:00")
    card.get_by_label("Note (optional)").fill("Friday is full, Saturday morning works.")
    check_page(tutor_page, "flow-counter-form")
    card.get_by_role("button", name="Send counter-proposal").click()
    card = tutor_page.locator(f"#session-{session.id}")
    expect(card.get_by_role("status")).to_have_text("Counter-proposal sent.")
    expect(card).to_contain_text("Your counter-proposal: Sat 21 Nov 09:00–10:00 (UTC)")
    check_page(tutor_page, "flow-counter-sent")

    page.reload()
    card = page.locator(f"#session-{session.id}")
    expect(card).to_contain_text("Tia's counter-proposal: Sat 21 Nov 09:00–10:00")
    card.get_by_role("button", name="Accept the new time").click()
    card = page.locator(f"#session-{session.id}")
    expect(card.get_by_role("status")).to_have_text("New time accepted: the session has moved.")
    expect(card.locator("time")).to_have_text("Sat 21 Nov 09:00 (Europe/London)")
    expect(card).to_contain_text("until 10:00")
    check_page(page, "flow-reschedule-accepted")
    session.refresh_from_db()
    assert session.scheduled_start == NOW + timedelta(days=5, hours=-1)
    assert session.scheduled_end - session.scheduled_start == timedelta(hours=1)


def test_the_tutor_checks_in_when_the_window_opens_then_checks_out(page, tutor, make_session, frozen):
    """L13, L14, L17, L20: 40 minutes early the card names the minutes until check-in opens; once it
    is open the tutor checks in on the web dashboard, checks out at the end and goes on to the notes."""
    s = make_session(start=NOW + timedelta(minutes=40))
    signed_in(page, tutor)
    expect(page).to_have_url(re.compile(r"/teach/$"))
    card = page.locator(f"#session-{s.id}")
    expect(card.get_by_role("list", name="Why some actions are not available")).to_contain_text(
        "Check-in opens in 10 minutes.")
    expect(card.get_by_role("button", name="Check in")).to_have_count(0)
    check_page(page, "flow-check-in-early")

    frozen.move_to(NOW + timedelta(minutes=15), tick=False)
    page.reload()
    card = page.locator(f"#session-{s.id}")
    expect(card).not_to_contain_text("Check-in opens in")
    card.get_by_role("button", name="Check in").click()
    card = page.locator(f"#session-{s.id}")
    expect(card.get_by_role("status")).to_have_text("Checked in.")
    expect(card).to_contain_text("Checked in")
    check_page(page, "flow-checked-in")

    frozen.move_to(s.scheduled_end, tick=False)
    page.reload()
    card = page.locator(f"#session-{s.id}")
    card.get_by_role("button", name="Check out").click()
    # straight on to the notes form (htmx follows the server's HX-Redirect)
    expect(page).to_have_url(re.compile(rf"/sessions/{s.id}/notes/$"))
    expect(page.get_by_text("Checked out: now write your session notes.")).to_be_visible()
    expect(page.get_by_role("heading", name="Session notes", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Write your notes")).to_be_visible()
    check_page(page, "flow-notes")
    s.refresh_from_db()
    assert s.status == Status.AWAITING_APPROVAL_PARENT
    assert s.checked_in_at == NOW + timedelta(minutes=15)
    assert s.checked_out_at == s.scheduled_end


def test_the_tutor_logs_two_adhoc_sessions(page, tutor, student):
    """L30: two rows logged at once become add-on sessions awaiting the parent's acknowledgement."""
    signed_in(page, tutor)
    page.goto("/teach/adhoc/")
    rows = page.locator("fieldset")
    for row, day in ((rows.nth(0), "2026-11-14"), (rows.nth(1), "2026-11-15")):
        row.get_by_label("Student").select_option(label="Sam")
        row.get_by_label("Start").fill(f"{day}T16:00")
        row.get_by_label("End").fill(f"{day}T17:30")
    check_page(page, "flow-adhoc-filled")
    page.get_by_role("button", name="Log these sessions").click()
    expect(page).to_have_url(re.compile(r"/teach/\?tab=past$"))
    expect(page.get_by_role("main")).to_contain_text("Logged 2 ad-hoc sessions.")
    logged = list(Session.objects.filter(tutor=tutor, billed_as_addon=True).order_by("scheduled_start"))
    assert len(logged) == 2
    for s, day in zip(logged, ("Sat 14 Nov 16:00", "Sun 15 Nov 16:00"), strict=True):
        assert s.status == Status.AWAITING_APPROVAL_PARENT
        card = page.locator(f"#session-{s.id}")
        expect(card).to_contain_text("Awaiting acknowledgement")
        expect(card).to_contain_text("Add-on")
        expect(card).to_contain_text(day)
    check_page(page, "flow-adhoc-logged")


def test_the_tutor_declines_the_parents_reschedule_request(page, parent, tutor, session, reasons):
    """L31, L39: the tutor, the counterparty, answers the parent's request from /teach/ by declining
    it with a reason; the session keeps its time."""
    lifecycle.propose_reschedule(session, by=parent,
                                 proposed_start=session.scheduled_start + timedelta(days=1),
                                 reason_id=reasons[("parent", "reschedule")].id)
    signed_in(page, tutor)
    expect(page).to_have_url(re.compile(r"/teach/$"))
    card = page.locator(f"#session-{session.id}")
    expect(card).to_contain_text("Reschedule request from the parent: Schedule conflict")
    expect(card).to_contain_text(re.compile(r"Proposed by Pat on \w{3} \d\d \w{3}: Thu 19 Nov 10:00–11:00 \(UTC\)"))
    card.get_by_text("Decline…").click()
    card.get_by_label("Why not?").fill("I teach another student then.")
    check_page(page, "flow-decline-form")
    card.get_by_role("button", name="Decline the new time").click()
    card = page.locator(f"#session-{session.id}")
    expect(card.get_by_role("status")).to_have_text("Proposal declined: the session keeps its time.")
    expect(card.get_by_role("region", name="Reschedule request")).to_have_count(0)
    expect(card.locator("time")).to_have_text("Wed 18 Nov 10:00 (UTC)")
    check_page(page, "flow-declined")
    session.refresh_from_db()
    assert session.scheduled_start == NOW + timedelta(days=2)


def test_the_parent_counter_proposes_with_the_keyboard_only(page, parent, tutor, session, reasons):
    """L39 and keyboard operation: the parent opens the counter form with Enter, reaches the labelled
    fields with Tab, types the note and sends the form with Enter."""
    lifecycle.propose_reschedule(session, by=tutor, proposed_start=NOW + timedelta(days=4),
                                 reason_id=reasons[("tutor", "reschedule")].id, now=NOW)
    signed_in(page, parent)
    card = page.locator(f"#session-{session.id}")
    card.get_by_text("Propose another time…").focus()
    page.keyboard.press("Enter")
    start = card.get_by_label(re.compile("New start"))
    page.keyboard.press("Tab")
    expect(start).to_be_focused()
    # the native date-time picker's own segments are Chromium's; its value is set directly
    start.fill("2026-11-21T09:00")
    start.focus()
    note = card.get_by_label("Note (optional)")
    for _ in range(8):  # Tab on through the date-time field's segments to the note
        page.keyboard.press("Tab")
        if note.evaluate("el => el === document.activeElement"):
            break
    expect(note).to_be_focused()
    page.keyboard.type("Saturday morning?")
    page.keyboard.press("Enter")
    card = page.locator(f"#session-{session.id}")
    expect(card.get_by_role("status")).to_have_text("Counter-proposal sent.")
    expect(card).to_contain_text("Your counter-proposal")
    check_page(page, "flow-counter-keyboard")
    proposal = session.reschedule_threads.get().proposals.get(version=2)
    assert (proposal.note, proposal.proposed_by_role) == ("Saturday morning?", "parent")
