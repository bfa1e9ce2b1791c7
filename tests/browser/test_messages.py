"""Messages in a real browser, at a phone and a desktop size: the creator opens a conversation with
the tutor and writes; the tutor finds it in the inbox with an unread count, opens it and replies.
Then the same without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from messaging.models import Conversation, Message
from tests.browser.conftest import VIEWPORTS, assert_fits_phone, check_page, screenshot, signed_in

pytestmark = pytest.mark.browser


@pytest.fixture
def second_page(new_context, live_server, viewport):
    """A second person's browser, at the same size as the first."""
    ctx = new_context(base_url=live_server.url, **VIEWPORTS[viewport])
    ctx.set_default_timeout(10_000)
    return ctx.new_page()


def test_the_creator_writes_to_the_tutor_who_reads_and_replies(page, second_page, creator, tutor, session):
    signed_in(page, creator)
    page.goto("/messages/")
    expect(page.get_by_text("No messages yet.")).to_be_visible()
    check_page(page, "messages-inbox-empty")
    page.goto(f"/messages/with/{tutor.id}/?next=/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Messages with Tia")
    assert not Conversation.objects.exists()  # opening the compose form makes nothing
    expect(page.get_by_role("link", name="Back", exact=True)).to_have_attribute("href", "/")
    expect(page.get_by_text("No messages yet.")).to_be_visible()
    check_page(page, "messages-new-thread")

    page.get_by_label("Message to Tia").fill("")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_have_text("Write a message before sending.")
    check_page(page, "messages-empty-error")

    page.get_by_label("Message to Tia").fill("Hello Tia,\nhow is Sam getting on with algebra?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_have_text("Message sent.")
    conversation = Conversation.objects.get()  # made by the first message
    expect(page).to_have_url(re.compile(rf"/messages/{conversation.id}/\?next=%2F$"))
    chat = page.get_by_role("list", name="Messages, oldest first")
    expect(chat.get_by_role("listitem")).to_have_count(1)
    expect(chat).to_contain_text("how is Sam getting on with algebra?")
    expect(page.get_by_label("Message to Tia")).to_have_value("")
    check_page(page, "messages-sent")

    tutor_page = signed_in(second_page, tutor)
    tutor_page.goto("/messages/")
    expect(tutor_page.get_by_role("heading", level=1)).to_have_text("Messages")
    item = tutor_page.get_by_role("listitem").filter(has_text="Cleo")
    expect(item).to_contain_text("1 unread")
    expect(item).to_contain_text("Hello Tia,")
    expect(item).not_to_contain_text("how is Sam")  # the first line only
    check_page(tutor_page, "messages-inbox-unread")

    item.get_by_role("link", name="Cleo").click()
    expect(tutor_page.get_by_role("heading", level=1)).to_have_text("Messages with Cleo")
    expect(tutor_page.get_by_text("how is Sam getting on with algebra?")).to_be_visible()
    tutor_page.get_by_label("Message to Cleo").fill("Very well: he solved every equation today.")
    tutor_page.get_by_role("button", name="Send").click()
    chat = tutor_page.get_by_role("list", name="Messages, oldest first")
    expect(chat.get_by_role("listitem")).to_have_count(2)
    expect(chat.get_by_role("listitem").last).to_contain_text("You")
    check_page(tutor_page, "messages-reply")

    tutor_page.get_by_role("link", name="All messages").click()
    expect(tutor_page.get_by_role("listitem").filter(has_text="Cleo")).not_to_contain_text("unread")
    expect(tutor_page.get_by_role("listitem").filter(has_text="Cleo")).to_contain_text("You: Very well")

    page.reload()
    expect(page.get_by_text("he solved every equation today")).to_be_visible()
    assert list(Message.objects.order_by("id").values_list("sender__name", flat=True)) == ["Cleo", "Tia"]
    assert Message.objects.filter(read_at__isnull=False).count() == 2


def test_without_javascript_sending_and_errors_work(no_js_page, creator, tutor, session):
    page = signed_in(no_js_page, creator)
    page.goto("/messages/")
    expect(page.get_by_text("No messages yet.")).to_be_visible()
    screenshot(page, "messages-inbox-empty-no-js")
    assert_fits_phone(page)  # axe itself needs JavaScript: the pages are checked with it above
    page.goto(f"/messages/with/{tutor.id}/")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_have_text("Write a message before sending.")
    page.get_by_label("Message to Tia").fill("Sent without JavaScript")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("list", name="Messages, oldest first")).to_contain_text("Sent without JavaScript")
    screenshot(page, "messages-no-js")
    assert_fits_phone(page)
    assert Message.objects.get().body == "Sent without JavaScript"
