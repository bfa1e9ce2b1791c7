"""Notifications in a real browser at a phone and a desktop size: the bell and its count, the inbox,
opening a notice, notification settings, the development outbox with a reminder's one-click
unsubscribe link."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications import dispatch, planning
from notifications.models import KeptEmail, Preference
from sessions import lifecycle
from tests.browser.conftest import check_page, signed_in
from tests.browser.test_demo_walk import TEXT_ELEMENTS, WORD_BREAKS

pytestmark = pytest.mark.browser


@pytest.fixture
def proposal(make_session, tutor, reasons):
    """The tutor asks to move a session: the parents hear of it (the commit hook relays at once)."""
    now = timezone.now()
    s = make_session(start=now + timedelta(days=3))
    lifecycle.propose_reschedule(s, by=tutor, proposed_start=now + timedelta(days=4),
                                 reason_id=reasons[("tutor", "reschedule")].id, note="Exam week at university.")
    return s


def test_the_parent_reads_a_notice_from_the_bell_and_it_leads_to_the_action(page, parent, proposal):
    signed_in(page, parent)
    page.get_by_role("link", name="Notifications 1 unread", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    notices = page.get_by_role("list", name="Your notifications")
    expect(notices.get_by_role("listitem")).to_have_count(1)
    expect(notices).to_contain_text("Tia proposes to move Sam's session with Tia from")
    expect(notices).to_contain_text("(Europe/London)")
    expect(notices).to_contain_text("Reason: “Schedule conflict: Exam week at university.”")
    check_page(page, "notifications-inbox")
    notices.get_by_role("button", name=re.compile("New time proposed for Sam's session")).click()
    expect(page).to_have_url(re.compile(rf"/sessions/{proposal.id}/$"))
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    page.goto("/notifications/")
    expect(page.get_by_role("button", name="Mark all as read")).to_have_count(0)
    check_page(page, "notifications-inbox-read")


def test_a_long_dispute_reason_reads_whole_on_a_phone(page, awaiting, parent, coordinator):
    lifecycle.dispute(awaiting, by=parent, reason=("The tutor arrived late and left early. " * 45).strip())
    signed_in(page, coordinator)
    page.goto("/notifications/")
    notice = page.get_by_role("listitem").filter(has_text="Dispute")
    expect(notice.locator(".notice__text")).to_contain_text("…")
    notice.get_by_text("Show all").click()
    expect(notice.locator(".notice__full")).to_contain_text("left early.”")
    expect(notice.locator(".notice__text")).to_be_hidden()
    check_page(page, "notifications-long-dispute")


def test_settings_switch_a_topic_off_for_one_channel(page, parent):
    signed_in(page, parent)
    page.goto("/notifications/preferences/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notification settings")
    reminders = page.get_by_role("group", name="Session reminders (24 hours, 1 hour and 15 minutes before)")
    expect(reminders.get_by_role("checkbox", name="Email")).to_be_checked()
    expect(page.get_by_role("group", name=re.compile("Your account")).get_by_role("checkbox")).to_be_disabled()
    check_page(page, "notifications-settings")
    reminders.get_by_role("checkbox", name="Email").uncheck()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_have_text("Your notification settings are saved.")
    expect(reminders.get_by_role("checkbox", name="Email")).not_to_be_checked()
    assert list(Preference.objects.filter(enabled=False).values_list("topic", "channel")) == [("reminders", "email")]


def test_the_outbox_shows_each_persons_mail_and_the_unsubscribe_link_works(page, live_server, settings,
                                                                         make_session, tutor, parent):
    """Development without a Resend key: the reminders are kept and shown; the reminder's one-click
    link asks before it unsubscribes."""
    settings.MAILERS = {"default": {"BACKEND": "notifications.backends.KeepLocallyBackend"}}
    settings.SITE_URL = live_server.url  # as `make run` sets it from PORT
    now = timezone.now()
    make_session(start=now + timedelta(minutes=50))
    planning.plan(now=now)
    dispatch.dispatch(now=now)
    assert KeptEmail.objects.count() == 3
    # a message's email: its preview holds a long link, which widened the list past a phone's width
    KeptEmail.objects.create(to=[parent.email], from_email="x@example.test", subject="New message from Tia",
                             text=f"Hello, read and reply: {live_server.url}/messages/with/{parent.pk}/?next="
                                  "/family/%3Ftab%3Dpast%26child%3D1234567890123456789")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="development outbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    expect(page.get_by_role("list", name="Emails").get_by_role("listitem")).to_have_count(4)
    check_page(page, "dev-outbox")
    page.get_by_label("Show the mail of").select_option(label="Tia (tutor)")
    page.get_by_role("button", name="Show").click()
    emails = page.get_by_role("list", name="Emails").get_by_role("listitem")
    expect(emails).to_have_count(1)
    emails.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Reminder: your session with Sam starts in"))
    expect(page.locator(".mail-text")).to_contain_text("Open the session room:")
    check_page(page, "dev-outbox-email")
    for width in (375, 1280):  # the long unsubscribe URL breaks only inside its own .url link
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate(WORD_BREAKS, TEXT_ELEMENTS + ", dd, dt") == []
        link = page.locator("dd a[href*='/notifications/unsubscribe/']")
        assert link.evaluate("a => a.classList.contains('url') && getComputedStyle(a).overflowWrap") == "anywhere"
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("dd a[href*='/notifications/unsubscribe/']").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop session reminders by email?")
    check_page(page, "unsubscribe-ask")
    page.get_by_role("button", name="Stop session reminders by email").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    check_page(page, "unsubscribe-done")
    assert Preference.objects.get(user=tutor).enabled is False
